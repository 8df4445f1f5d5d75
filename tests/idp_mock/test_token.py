"""Token endpoint rules: code binding and single use, client authentication, OAuth 2.1 grant set, refresh rotation."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp_mock import AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, DEFAULT_ISSUER, PUBLIC_CLI_CLIENT_ID
from tests.idp_mock.conftest import REDIRECT_URI, Idp

AGENT = (AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET)
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


def _assert_error(r: httpx.Response, status: int, error: str, description: str) -> None:
    assert r.status_code == status
    assert r.json() == {"error": error, "error_description": description}
    assert r.headers["cache-control"] == "no-store"
    assert "access_token" not in r.text


def _code_form(code: str, verifier: str, **overrides: str) -> dict[str, str]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    return {**form, **overrides}


async def _claims(idp: Idp, id_token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set((await idp.http.get("/jwks")).json())
    claims: dict[str, Any] = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    return claims


async def test_code_exchange_returns_tokens_with_no_store(idp: Idp) -> None:
    """RFC 6749 §5.1 + OIDC Core §3.1.3.3: access token, Bearer type, ID token; never cached."""
    code, verifier = await idp.code_for()
    r = await idp.token(_code_form(code, verifier), auth=AGENT)
    assert r.status_code == 200
    assert {k: r.headers[k] for k in NO_STORE} == NO_STORE
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid profile email groups offline_access"
    assert {"access_token", "id_token", "refresh_token"} <= set(body)


async def test_id_token_header_and_claims(idp: Idp) -> None:
    """OIDC Core §2: RS256 with kid and typ JWT; iss, sub, aud, iat, exp, auth_time, nonce, sid, email, name, groups."""
    body = await idp.tokens_for()
    header = jwt.decode(body["id_token"], KeySet.import_key_set((await idp.http.get("/jwks")).json())).header
    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"
    assert header["kid"]
    claims = await _claims(idp, body["id_token"])
    now = int(idp.clock())
    assert claims["iss"] == DEFAULT_ISSUER
    assert claims["sub"] == "alice"
    assert claims["aud"] == AGENT_APP_CLIENT_ID
    assert claims["azp"] == AGENT_APP_CLIENT_ID
    assert claims["iat"] == now
    assert claims["exp"] == now + 3600
    assert claims["auth_time"] == now
    assert claims["nonce"] == "nonce-456"
    assert claims["sid"]
    assert claims["email"] == "alice@acme.example"
    assert claims["name"] == "Alice Anderson"
    assert claims["groups"] == ["engineering"]


async def test_wrong_pkce_verifier_is_invalid_grant(idp: Idp) -> None:
    """RFC 7636 §4.6: the verifier must hash to the challenge."""
    code, _ = await idp.code_for()
    r = await idp.token(_code_form(code, "w" * 64), auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "PKCE verification failed (code_verifier).")


async def test_missing_pkce_verifier_is_invalid_grant(idp: Idp) -> None:
    """OAuth 2.1 §4.1.3: a code issued with a challenge needs the verifier."""
    code, _ = await idp.code_for()
    form = _code_form(code, "")
    r = await idp.token(form, auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "PKCE verification failed (code_verifier).")


async def test_reused_code_is_invalid_grant_and_revokes_its_tokens(idp: Idp) -> None:
    """RFC 6749 §4.1.2: a second use is refused and the tokens issued from the code are revoked."""
    code, verifier = await idp.code_for()
    first = (await idp.token(_code_form(code, verifier), auth=AGENT)).json()
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert (await idp.http.get("/userinfo", headers=bearer)).status_code == 200

    r = await idp.token(_code_form(code, verifier), auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "The authorization code was already used.")

    assert (await idp.http.get("/userinfo", headers=bearer)).status_code == 401
    refresh = await idp.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=AGENT)
    _assert_error(refresh, 400, "invalid_grant", "The refresh token is invalid, expired or revoked.")


async def test_code_with_another_redirect_uri_is_invalid_grant(idp: Idp) -> None:
    """RFC 6749 §4.1.3: redirect_uri must be identical to the authorization request's (even another registered one)."""
    code, verifier = await idp.code_for()
    r = await idp.token(_code_form(code, verifier, redirect_uri="http://localhost:8765/callback"), auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "redirect_uri does not match the authorization request.")


async def test_code_redeemed_by_another_client_is_invalid_grant(idp: Idp) -> None:
    """RFC 6749 §4.1.3: the code is bound to the client it was issued to."""
    code, verifier = await idp.code_for()
    form = {**_code_form(code, verifier), "client_id": PUBLIC_CLI_CLIENT_ID}
    r = await idp.token(form)
    _assert_error(r, 400, "invalid_grant", "The authorization code was issued to another client.")


async def test_expired_code_is_invalid_grant(idp: Idp) -> None:
    """RFC 6749 §4.1.2: codes are short-lived (60 s here)."""
    code, verifier = await idp.code_for()
    idp.clock.advance(60)
    r = await idp.token(_code_form(code, verifier), auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "The authorization code is invalid or expired.")


async def test_unknown_code_is_invalid_grant(idp: Idp) -> None:
    r = await idp.token(_code_form("not-a-code", "v" * 43), auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "The authorization code is invalid or expired.")


async def test_unknown_client_is_invalid_client_with_basic_challenge(idp: Idp) -> None:
    """RFC 6749 §5.2: failed client authentication is 401 ``invalid_client`` with WWW-Authenticate."""
    code, verifier = await idp.code_for()
    r = await idp.token(_code_form(code, verifier), auth=("nobody", "secret"))
    _assert_error(r, 401, "invalid_client", "Client authentication failed.")
    assert r.headers["www-authenticate"] == 'Basic realm="idp_mock"'


async def test_wrong_client_secret_is_invalid_client(idp: Idp) -> None:
    code, verifier = await idp.code_for()
    for form, auth in (
        (_code_form(code, verifier), (AGENT_APP_CLIENT_ID, "wrong")),
        ({**_code_form(code, verifier), "client_id": AGENT_APP_CLIENT_ID, "client_secret": "wrong"}, None),
    ):
        r = await idp.token(form, auth=auth)
        _assert_error(r, 401, "invalid_client", "Client authentication failed.")


async def test_confidential_client_without_secret_is_invalid_client(idp: Idp) -> None:
    """A confidential client must authenticate (RFC 6749 §3.2.1); PKCE alone is for public clients."""
    code, verifier = await idp.code_for()
    r = await idp.token({**_code_form(code, verifier), "client_id": AGENT_APP_CLIENT_ID})
    _assert_error(r, 401, "invalid_client", "This client must authenticate.")


async def test_no_client_identification_is_invalid_client(idp: Idp) -> None:
    code, verifier = await idp.code_for()
    r = await idp.token(_code_form(code, verifier))
    _assert_error(r, 401, "invalid_client", "Client authentication is required.")


async def test_two_client_authentication_methods_are_invalid_request(idp: Idp) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request."""
    code, verifier = await idp.code_for()
    form = {**_code_form(code, verifier), "client_secret": AGENT_APP_CLIENT_SECRET}
    r = await idp.token(form, auth=AGENT)
    _assert_error(r, 400, "invalid_request", "Use only one client authentication method.")


async def test_client_secret_post_is_accepted(idp: Idp) -> None:
    """RFC 6749 §2.3.1: credentials in the body."""
    code, verifier = await idp.code_for()
    form = {**_code_form(code, verifier), "client_id": AGENT_APP_CLIENT_ID, "client_secret": AGENT_APP_CLIENT_SECRET}
    r = await idp.token(form)
    assert r.status_code == 200
    assert "id_token" in r.json()


async def test_basic_credentials_are_form_urldecoded(idp: Idp) -> None:
    """RFC 6749 §2.3.1: id and secret are form-urlencoded before base64 (a '-' stays, '+' would be a space)."""
    code, verifier = await idp.code_for()
    raw = base64.b64encode(b"agent-app:agent-app-secret").decode()
    r = await idp.http.post("/token", data=_code_form(code, verifier), headers={"Authorization": f"Basic {raw}"})
    assert r.status_code == 200


async def test_public_client_redeems_with_pkce_only(idp: Idp) -> None:
    """OAuth 2.1 §2.4: a public client sends its client_id and the verifier, no secret."""
    code, verifier = await idp.code_for(client_id=PUBLIC_CLI_CLIENT_ID)
    r = await idp.token({**_code_form(code, verifier), "client_id": PUBLIC_CLI_CLIENT_ID})
    assert r.status_code == 200
    claims = await _claims(idp, r.json()["id_token"])
    assert claims["aud"] == PUBLIC_CLI_CLIENT_ID


async def test_public_client_presenting_a_secret_is_invalid_client(idp: Idp) -> None:
    code, verifier = await idp.code_for(client_id=PUBLIC_CLI_CLIENT_ID)
    r = await idp.token(_code_form(code, verifier), auth=(PUBLIC_CLI_CLIENT_ID, "guess"))
    _assert_error(r, 401, "invalid_client", "Client authentication failed.")


@pytest.mark.parametrize("grant_type", ["password", "client_credentials", "implicit", "urn:example:nope"])
async def test_password_and_other_grants_are_unsupported_grant_type(idp: Idp, grant_type: str) -> None:
    """OAuth 2.1 §10 drops the password grant; unserved grants are ``unsupported_grant_type`` (RFC 6749 §5.2)."""
    r = await idp.token({"grant_type": grant_type, "username": "alice", "password": "x"}, auth=AGENT)
    _assert_error(r, 400, "unsupported_grant_type", "The grant type is not supported.")


async def test_token_exchange_is_unsupported_when_id_jag_is_off(idp: Idp) -> None:
    r = await idp.token({"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange"}, auth=AGENT)
    _assert_error(r, 400, "unsupported_grant_type", "The grant type is not supported.")


async def test_missing_grant_type_is_invalid_request(idp: Idp) -> None:
    r = await idp.token({"code": "x"}, auth=AGENT)
    _assert_error(r, 400, "invalid_request", "The grant_type parameter is required.")


async def test_json_body_is_invalid_request(idp: Idp) -> None:
    """RFC 6749 §3.2: the token endpoint takes application/x-www-form-urlencoded."""
    r = await idp.http.post("/token", json={"grant_type": "authorization_code"}, auth=AGENT)
    _assert_error(r, 400, "invalid_request", "The body must be application/x-www-form-urlencoded (RFC 6749 §3.2).")


async def test_repeated_token_parameter_is_invalid_request(idp: Idp) -> None:
    """RFC 6749 §3.2: parameters MUST NOT be included more than once."""
    code, verifier = await idp.code_for()
    r = await idp.http.post(
        "/token",
        content=urlencode([*_code_form(code, verifier).items(), ("code", code)]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=AGENT,
    )
    _assert_error(r, 400, "invalid_request", "The code parameter is repeated.")


async def test_get_on_token_endpoint_is_405(idp: Idp) -> None:
    r = await idp.http.get("/token")
    assert r.status_code == 405


# -- refresh tokens ---------------------------------------------------------------------------------


async def test_refresh_rotates_and_the_old_refresh_token_is_refused(idp: Idp) -> None:
    """RFC 9700 §4.14.2: each refresh returns a new refresh token; the spent one no longer works."""
    first = await idp.tokens_for()
    r = await idp.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=AGENT)
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    claims = await _claims(idp, second["id_token"])
    assert claims["sub"] == "alice"
    assert "nonce" not in claims  # OIDC Core §12.2

    again = await idp.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=AGENT)
    _assert_error(again, 400, "invalid_grant", "The refresh token was already used; the grant is revoked.")


async def test_reuse_of_a_rotated_refresh_token_revokes_the_family(idp: Idp) -> None:
    """RFC 9700 §4.14.2: replaying a rotated refresh token revokes every token of that grant."""
    first = await idp.tokens_for()
    second = (
        await idp.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=AGENT)
    ).json()
    await idp.token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=AGENT)

    r = await idp.token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "The refresh token is invalid, expired or revoked.")
    userinfo = await idp.http.get("/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert userinfo.status_code == 401


async def test_refresh_by_another_client_is_invalid_grant(idp: Idp) -> None:
    first = await idp.tokens_for()
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "client_id": PUBLIC_CLI_CLIENT_ID}
    r = await idp.token(form)
    _assert_error(r, 400, "invalid_grant", "The refresh token was issued to another client.")


async def test_refresh_with_a_wider_scope_is_invalid_scope(idp: Idp) -> None:
    """RFC 6749 §6: the new scope must not include any scope not originally granted."""
    first = await idp.tokens_for(scope="openid offline_access")
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], "scope": "openid email"}
    r = await idp.token(form, auth=AGENT)
    _assert_error(r, 400, "invalid_scope", "The requested scope exceeds the original grant.")


async def test_no_refresh_token_without_offline_access(idp: Idp) -> None:
    """OIDC Core §11: refresh tokens come with the ``offline_access`` scope."""
    body = await idp.tokens_for(scope="openid email")
    assert "refresh_token" not in body


# -- userinfo -------------------------------------------------------------------------------------


async def test_userinfo_returns_the_signed_in_user(idp: Idp) -> None:
    """OIDC Core §5.3."""
    body = await idp.tokens_for(login_hint="bob")
    r = await idp.http.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert r.status_code == 200
    assert r.json() == {
        "sub": "bob",
        "name": "Bob Brown",
        "preferred_username": "bob",
        "email": "bob@acme.example",
        "email_verified": True,
        "groups": ["sales"],
    }


async def test_userinfo_without_token_is_401_challenge_without_error(idp: Idp) -> None:
    """RFC 6750 §3.1: no credentials, so the challenge names no error."""
    r = await idp.http.get("/userinfo")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="idp_mock"'


async def test_userinfo_with_unknown_or_expired_token_is_invalid_token(idp: Idp) -> None:
    """RFC 6750 §3.1: ``invalid_token`` for an unknown or expired token."""
    body = await idp.tokens_for()
    idp.clock.advance(3600)
    for token in ("nope", body["access_token"]):
        r = await idp.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        _assert_error(r, 401, "invalid_token", "The access token is invalid, expired or revoked.")
        assert r.headers["www-authenticate"].startswith('Bearer realm="idp_mock", error="invalid_token"')
