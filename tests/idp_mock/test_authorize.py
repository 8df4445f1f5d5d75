"""Authorization endpoint rules: verified redirects only, S256 PKCE only, code flow only, state/nonce carried."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import pytest

from idp_mock import AGENT_APP_CLIENT_ID, DEFAULT_ISSUER
from tests.idp_mock.conftest import REDIRECT_URI, Idp, callback_params


def _assert_error_page(r: httpx.Response, status: int, text: str) -> None:
    assert r.status_code == status
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")
    assert text in r.text


async def _assert_redirected_error(idp: Idp, error: str, description: str, **overrides: str | None) -> None:
    params, _ = idp.auth_params(**overrides)
    r = await idp.authorize(params)
    assert r.status_code == 302
    assert r.headers["location"].startswith(REDIRECT_URI + "?")
    assert callback_params(r) == {
        "error": error,
        "error_description": description,
        "state": "state-123",
        "iss": DEFAULT_ISSUER,
    }


async def test_login_hint_signs_in_and_redirects_with_code_state_and_iss(idp: Idp) -> None:
    """RFC 6749 §4.1.2: code and the unmodified state go back to the exact redirect URI; RFC 9207 adds iss."""
    params, _ = idp.auth_params()
    r = await idp.authorize(params)
    assert r.status_code == 302
    got = callback_params(r)
    assert set(got) == {"code", "state", "iss"}
    assert got["state"] == "state-123"
    assert got["iss"] == DEFAULT_ISSUER
    assert r.headers["cache-control"] == "no-store"


async def test_unknown_client_gets_an_error_page_not_a_redirect(idp: Idp) -> None:
    """RFC 6749 §4.1.2.1: with an invalid client_id the server MUST NOT redirect (no open redirector)."""
    params, _ = idp.auth_params(client_id="evil-app", redirect_uri="https://evil.example/cb")
    r = await idp.authorize(params)
    _assert_error_page(r, 400, "not registered with this identity provider")


async def test_unregistered_redirect_uri_gets_an_error_page_not_a_redirect(idp: Idp) -> None:
    """OAuth 2.1 §2.3.1 exact matching: a different port, path or trailing slash is a different URI."""
    for uri in ("https://evil.example/cb", REDIRECT_URI + "/", "http://127.0.0.1:8766/callback"):
        params, _ = idp.auth_params(redirect_uri=uri)
        r = await idp.authorize(params)
        _assert_error_page(r, 400, "redirect_uri is not registered")


async def test_missing_client_id_or_redirect_uri_gets_an_error_page(idp: Idp) -> None:
    """OIDC Core §3.1.2.1: redirect_uri is required; without a verified pair there is nowhere safe to redirect."""
    for missing in ("client_id", "redirect_uri"):
        params, _ = idp.auth_params(**{missing: None})
        r = await idp.authorize(params)
        _assert_error_page(r, 400, f"no {missing}")


async def test_repeated_client_id_gets_an_error_page(idp: Idp) -> None:
    """RFC 6749 §3.1: parameters must not repeat; a doubled client_id cannot be trusted for a redirect."""
    params, _ = idp.auth_params()
    r = await idp.http.get("/authorize?" + urlencode([*params.items(), ("client_id", "other")]))
    _assert_error_page(r, 400, "client_id parameter is repeated")


async def test_plain_pkce_is_refused_with_invalid_request(idp: Idp) -> None:
    """OAuth 2.1 §4.1.1 / RFC 7636 §4.4.1: only S256; plain is ``invalid_request``."""
    await _assert_redirected_error(
        idp,
        "invalid_request",
        "code_challenge_method must be S256; plain is not supported",
        code_challenge="a" * 43,
        code_challenge_method="plain",
    )


async def test_missing_pkce_method_means_plain_and_is_refused(idp: Idp) -> None:
    """RFC 7636 §4.3: an absent method defaults to plain, which is refused."""
    await _assert_redirected_error(
        idp,
        "invalid_request",
        "code_challenge_method must be S256; plain is not supported",
        code_challenge_method=None,
    )


async def test_missing_code_challenge_is_refused_with_invalid_request(idp: Idp) -> None:
    """OAuth 2.1 §4.1.1: PKCE is required for every client."""
    await _assert_redirected_error(
        idp, "invalid_request", "code_challenge is required (PKCE, RFC 7636)", code_challenge=None
    )


async def test_malformed_code_challenge_is_refused_with_invalid_request(idp: Idp) -> None:
    """RFC 7636 §4.2: an S256 challenge is 43 base64url characters."""
    await _assert_redirected_error(
        idp, "invalid_request", "code_challenge is not a base64url SHA-256 value", code_challenge="short"
    )


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token", "code id_token"])
async def test_implicit_and_hybrid_response_types_are_unsupported(idp: Idp, response_type: str) -> None:
    """OAuth 2.1 §4 / RFC 9700 §2.1.2: no implicit (or hybrid) flow; ``unsupported_response_type``."""
    await _assert_redirected_error(
        idp, "unsupported_response_type", "Only response_type=code is supported.", response_type=response_type
    )


async def test_missing_response_type_is_invalid_request(idp: Idp) -> None:
    """RFC 6749 §4.1.1: response_type is required."""
    await _assert_redirected_error(
        idp, "invalid_request", "The response_type parameter is required.", response_type=None
    )


async def test_scope_without_openid_is_invalid_scope(idp: Idp) -> None:
    """OIDC Core §3.1.2.1: an OpenID request MUST contain the openid scope."""
    await _assert_redirected_error(
        idp, "invalid_scope", "The scope must include openid (OIDC Core §3.1.2.1).", scope="profile email"
    )


async def test_unknown_scope_is_invalid_scope(idp: Idp) -> None:
    """RFC 6749 §4.1.2.1: an unknown scope is ``invalid_scope``."""
    await _assert_redirected_error(idp, "invalid_scope", "Unknown scope: admin:all.", scope="openid admin:all")


async def test_repeated_parameter_is_invalid_request(idp: Idp) -> None:
    """RFC 6749 §3.1: request parameters MUST NOT be included more than once."""
    params, _ = idp.auth_params()
    r = await idp.http.get("/authorize?" + urlencode([*params.items(), ("nonce", "second")]))
    assert r.status_code == 302
    assert callback_params(r) == {
        "error": "invalid_request",
        "error_description": "The nonce parameter is repeated.",
        "state": "state-123",
        "iss": DEFAULT_ISSUER,
    }


async def test_prompt_none_is_login_required(idp: Idp) -> None:
    """OIDC Core §3.1.2.6: the mock keeps no session, so a silent request needs a login."""
    await _assert_redirected_error(
        idp,
        "login_required",
        "prompt=none: this identity provider keeps no session to sign in silently.",
        prompt="none",
    )


async def test_unknown_login_hint_is_login_required(idp: Idp) -> None:
    """A script naming a user who does not exist gets an error, not a page it cannot fill in."""
    await _assert_redirected_error(idp, "login_required", "login_hint names no user here.", login_hint="mallory")


async def test_response_mode_other_than_query_is_invalid_request(idp: Idp) -> None:
    """Only the query response mode is offered (discovery ``response_modes_supported``)."""
    await _assert_redirected_error(
        idp, "invalid_request", "Only response_mode=query is supported.", response_mode="fragment"
    )


async def test_redirect_keeps_the_redirect_uris_own_query(make_idp: Callable[..., Idp]) -> None:
    """RFC 6749 §3.1.2: the redirect URI's query component is retained when parameters are added."""
    from idp_mock import ClientConfig, IdpSettings
    from idp_mock.settings import Secret

    client = ClientConfig(
        client_id="q-app", client_secret=Secret("s"), redirect_uris=("http://127.0.0.1:8765/cb?tenant=acme",)
    )
    idp = make_idp(IdpSettings(client=(client,)))
    params, _ = idp.auth_params(client_id="q-app", redirect_uri="http://127.0.0.1:8765/cb?tenant=acme")
    r = await idp.authorize(params)
    assert r.status_code == 302
    assert r.headers["location"].startswith("http://127.0.0.1:8765/cb?tenant=acme&code=")


async def test_post_to_authorize_is_served_like_get(idp: Idp) -> None:
    """OIDC Core §3.1.2.1: the authorization endpoint MUST support GET and POST."""
    params, _ = idp.auth_params()
    r = await idp.http.post("/authorize", data=params)
    assert r.status_code == 302
    assert callback_params(r)["state"] == "state-123"
    assert AGENT_APP_CLIENT_ID not in r.headers["location"]
