"""The interactive fallback over real HTTP: broker, mock IdP and MCP deployment on sockets, Redis state.

Each test is named after the rule it checks; the attack each rule stops is in its docstring.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from broker.core.pkce import s256
from tests.interactive.browser import Browser, Stop
from tests.interactive.conftest import CLIENT_REDIRECT
from tests.live import Stack

DESKTOP = "mcp-desktop"
REVOKED = "The refresh token has been revoked."
PLAIN_REFUSED = "code_challenge_method must be S256 (plain is not supported)."
NOT_GOVERNED = "The resource is not governed by this authorization server."
INTROSPECTOR = ("mcp-servers", "mcp-servers-secret")


def authorize_url(stack: Stack, verifier: str, **overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": DESKTOP,
        "redirect_uri": CLIENT_REDIRECT,
        "state": "client-state",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "resource": stack.resource("calendar"),
        "login_hint": "alice@acme.example",
    }
    params.update(overrides)
    return f"{stack.broker}/as/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


async def consent_page(browser: Browser, stack: Stack, verifier: str, **overrides: str | None) -> Stop:
    stop = await browser.walk(authorize_url(stack, verifier, **overrides))
    assert stop.response.status_code == 200, stop.response.text[:300]
    assert "Allow" in stop.page
    return stop


async def sign_in(browser: Browser, stack: Stack, **overrides: str | None) -> tuple[str, str]:
    """Sign in and allow; returns (code, verifier)."""
    verifier = secrets.token_urlsafe(48)
    stop = await browser.submit(await consent_page(browser, stack, verifier, **overrides), decision="allow")
    params = stop.params
    assert params["state"] == overrides.get("state", "client-state")
    assert params["iss"] == f"{stack.broker}/as"  # RFC 9207
    return params["code"], verifier


async def token(stack: Stack, **form: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{stack.broker}/as/token", data=form)


async def redeem(stack: Stack, code: str, verifier: str, **extra: str) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CLIENT_REDIRECT,
        "code_verifier": verifier,
        "client_id": DESKTOP,
        **extra,
    }
    return await token(stack, **form)


async def refresh(stack: Stack, refresh_token: str, **extra: str) -> httpx.Response:
    return await token(stack, grant_type="refresh_token", refresh_token=refresh_token, client_id=DESKTOP, **extra)


async def active(stack: Stack, access_token: str) -> bool:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{stack.broker}/as/introspect", data={"token": access_token}, auth=INTROSPECTOR)
    assert r.status_code == 200
    result: bool = r.json()["active"]
    return result


def _unverified(token_value: str) -> dict[str, Any]:
    """The payload, unverified: the broker's keys are checked by the introspection call beside it."""
    payload = token_value.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def assert_error(r: httpx.Response, status: int, error: str, description: str) -> None:
    """The exact RFC 6749 §5.2 body, and never a token in it."""
    assert r.status_code == status, r.text
    assert r.json() == {"error": error, "error_description": description}


def assert_redirected_error(stop: Stop, stack: Stack, error: str, description: str) -> None:
    """An RFC 6749 §4.1.2.1 error redirect: exactly these parameters (RFC 9207 ``iss`` too), no code."""
    expected = {"error": error, "error_description": description, "state": "client-state", "iss": f"{stack.broker}/as"}
    assert stop.params == expected


# -- the happy path --------------------------------------------------------------------------------


async def test_a_user_within_policy_gets_a_code_then_tokens_bound_to_the_resource(
    stack: Stack, browser: Browser
) -> None:
    code, verifier = await sign_in(browser, stack)
    r = await redeem(stack, code, verifier)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["resource"] == stack.resource("calendar")
    assert set(body["scope"].split()) == {"calendar.read", "calendar.write"}
    assert body["refresh_token"]
    claims = _unverified(body["access_token"])
    assert claims["aud"] == stack.resource("calendar")  # RFC 8707: bound to the one resource
    assert claims["iss"] == f"{stack.broker}/as"
    assert claims["client_id"] == DESKTOP
    assert claims["sub"] == "acme|alice"
    assert await active(stack, body["access_token"])
    assert r.headers["cache-control"] == "no-store"


async def test_the_access_token_is_accepted_by_the_mcp_server(stack: Stack, browser: Browser) -> None:
    code, verifier = await sign_in(browser, stack)
    access_token = (await redeem(stack, code, verifier)).json()["access_token"]
    async with httpx.AsyncClient() as http:
        r = await http.post(
            stack.resource("calendar"),
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "test", "version": "0"},
                },
            },
        )
    assert r.status_code == 200, r.text


# -- policy ----------------------------------------------------------------------------------------


async def test_a_user_outside_policy_is_refused_before_any_code_is_issued(stack: Stack, browser: Browser) -> None:
    """Bob (sales) may not use the calendar: the broker refuses at sign-in, before consent or a code."""
    stop = await browser.walk(authorize_url(stack, secrets.token_urlsafe(48), login_hint="bob@acme.example"))
    assert_redirected_error(
        stop, stack, "access_denied", "You are not allowed to give this client access to the resource."
    )


async def test_a_scope_beyond_policy_is_refused_with_invalid_scope(stack: Stack, browser: Browser) -> None:
    """Bob may read tickets, not write them."""
    stop = await browser.walk(
        authorize_url(
            stack,
            secrets.token_urlsafe(48),
            login_hint="bob@acme.example",
            resource=stack.resource("tickets"),
            scope="tickets.write",
        )
    )
    assert_redirected_error(stop, stack, "invalid_scope", "The requested scope is not allowed for this user.")


async def test_denying_consent_returns_access_denied(stack: Stack, browser: Browser) -> None:
    stop = await browser.submit(await consent_page(browser, stack, secrets.token_urlsafe(48)), decision="deny")
    assert_redirected_error(stop, stack, "access_denied", "The user denied access.")


# -- PKCE ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "description"),
    [
        (
            {"code_challenge": None, "code_challenge_method": None},  # no PKCE at all
            "PKCE is required: send code_challenge with code_challenge_method=S256.",
        ),
        ({"code_challenge_method": "plain"}, PLAIN_REFUSED),  # downgrade to plain
        ({"code_challenge_method": None}, PLAIN_REFUSED),  # method omitted means plain (RFC 7636 §4.3)
        ({"code_challenge": "too-short"}, "The code_challenge is not a base64url S256 value."),
    ],
)
async def test_pkce_s256_is_required_and_cannot_be_downgraded(
    stack: Stack, browser: Browser, overrides: dict[str, str | None], description: str
) -> None:
    stop = await browser.walk(authorize_url(stack, secrets.token_urlsafe(48), **overrides))
    assert_redirected_error(stop, stack, "invalid_request", description)


async def test_a_wrong_code_verifier_is_refused(stack: Stack, browser: Browser) -> None:
    """An intercepted code is useless without the verifier (RFC 7636 §1)."""
    code, _ = await sign_in(browser, stack)
    assert_error(
        await redeem(stack, code, secrets.token_urlsafe(48)),
        400,
        "invalid_grant",
        "The code_verifier does not match the code_challenge.",
    )


# -- codes -----------------------------------------------------------------------------------------


async def test_a_reused_code_is_refused_and_revokes_the_tokens_it_issued(stack: Stack, browser: Browser) -> None:
    """RFC 6749 §4.1.2: a code used twice is denied and what it issued is revoked."""
    code, verifier = await sign_in(browser, stack)
    first = (await redeem(stack, code, verifier)).json()
    assert await active(stack, first["access_token"])
    assert_error(await redeem(stack, code, verifier), 400, "invalid_grant", "The authorization code was already used.")
    assert not await active(stack, first["access_token"])
    assert_error(await refresh(stack, first["refresh_token"]), 400, "invalid_grant", REVOKED)


async def test_a_code_is_redeemed_only_by_its_client(stack: Stack, browser: Browser) -> None:
    code, verifier = await sign_in(browser, stack)
    r = await token(
        stack,
        grant_type="authorization_code",
        code=code,
        redirect_uri=CLIENT_REDIRECT,
        code_verifier=verifier,
        client_id="agent-app",
        client_secret="agent-app-secret",
    )
    assert r.status_code in (400, 401)
    assert r.json()["error"] in ("invalid_grant", "unauthorized_client")
    assert (await redeem(stack, code, verifier)).status_code == 200  # the rightful client still can


async def test_a_redirect_uri_differing_at_the_token_endpoint_is_refused(stack: Stack, browser: Browser) -> None:
    code, verifier = await sign_in(browser, stack)
    other = CLIENT_REDIRECT.replace("/callback", "/other")
    assert_error(
        await redeem(stack, code, verifier, redirect_uri=other),
        400,
        "invalid_grant",
        "The redirect_uri does not match the authorization request.",
    )


async def test_a_resource_differing_at_the_token_endpoint_is_refused(stack: Stack, browser: Browser) -> None:
    code, verifier = await sign_in(browser, stack)
    assert_error(
        await redeem(stack, code, verifier, resource=stack.resource("documents")),
        400,
        "invalid_target",
        "The resource does not match the authorization request.",
    )


# -- redirect URI and open redirects ---------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": "http://127.0.0.1.evil.example/callback"},
        {"redirect_uri": CLIENT_REDIRECT + "#fragment"},
        {"redirect_uri": CLIENT_REDIRECT.replace("/callback", "/callback/..%2f..%2fevil")},
        {"redirect_uri": None},
        {"client_id": "no-such-client", "redirect_uri": "https://evil.example/callback"},
        {"client_id": None},
        {"client_id": "agent-app"},  # a confidential SEP-990 client without the code grant
    ],
)
async def test_an_unverified_redirect_uri_gets_an_error_page_never_a_redirect(
    stack: Stack, browser: Browser, overrides: dict[str, str | None]
) -> None:
    """RFC 6749 §4.1.2.1 / RFC 9700 §4.11.1: no open redirector, even with an error."""
    stop = await browser.walk(authorize_url(stack, secrets.token_urlsafe(48), response_type="token", **overrides))
    assert stop.response.status_code == 400
    assert "location" not in stop.response.headers
    assert "Sign-in cannot continue" in stop.page
    assert stop.response.headers["x-frame-options"] == "DENY"


async def test_an_unsupported_response_type_goes_back_to_a_verified_redirect_uri(
    stack: Stack, browser: Browser
) -> None:
    stop = await browser.walk(authorize_url(stack, secrets.token_urlsafe(48), response_type="token"))
    assert_redirected_error(
        stop, stack, "unsupported_response_type", "Only response_type=code is supported (OAuth 2.1 §4.1)."
    )


# -- resource --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "description"),
    [
        (None, "The resource parameter is required (RFC 8707): name the MCP server."),
        ("https://elsewhere.example/mcp", NOT_GOVERNED),
        ("http://127.0.0.1:1/calendar/mcp", NOT_GOVERNED),
    ],
)
async def test_the_resource_is_required_and_must_be_governed_here(
    stack: Stack, browser: Browser, resource: str | None, description: str
) -> None:
    stop = await browser.walk(authorize_url(stack, secrets.token_urlsafe(48), resource=resource))
    assert_redirected_error(stop, stack, "invalid_target", description)


async def test_one_resource_per_authorization(stack: Stack, browser: Browser) -> None:
    url = authorize_url(stack, secrets.token_urlsafe(48)) + "&" + urlencode({"resource": stack.resource("tickets")})
    stop = await browser.walk(url)
    assert_redirected_error(stop, stack, "invalid_target", "Request access to one resource per authorization.")


async def test_prompt_none_is_refused_with_login_required(stack: Stack, browser: Browser) -> None:
    stop = await browser.walk(authorize_url(stack, secrets.token_urlsafe(48), prompt="none"))
    assert_redirected_error(stop, stack, "login_required", "The user must sign in; prompt=none cannot be honoured.")


# -- browser binding and CSRF ----------------------------------------------------------------------


async def test_the_consent_form_is_refused_from_another_browser_or_without_its_token(
    stack: Stack, browser: Browser
) -> None:
    """CSRF: a forged POST lacks the victim's cookie, or the form's token; neither gets a code."""
    page = await consent_page(browser, stack, secrets.token_urlsafe(48))
    attacker = Browser(browser.client_redirect_prefix)
    try:
        forged = await attacker.submit(page, decision="allow")
        assert forged.response.status_code == 403
        assert "location" not in forged.response.headers
    finally:
        await attacker.aclose()
    wrong_token = await browser.submit(page, decision="allow", csrf_token="guessed")
    assert wrong_token.response.status_code == 403
    # The failed attempts did not burn the user's own consent.
    stop = await browser.submit(page, decision="allow")
    assert stop.params["code"]
    again = await browser.submit(page, decision="allow")  # a double submit gets no second code
    assert again.response.status_code in (400, 403)


async def test_the_idp_callback_is_refused_in_another_browser(stack: Stack, browser: Browser) -> None:
    """Login CSRF: the IdP's answer only counts in the browser that started the sign-in."""
    response = await browser.http.get(authorize_url(stack, secrets.token_urlsafe(48)))
    to_idp = response.headers["location"]
    at_idp = await browser.http.get(to_idp)
    callback = at_idp.headers["location"]
    assert callback.startswith(f"{stack.broker}/as/callback")
    async with httpx.AsyncClient() as other:
        r = await other.get(callback)
    assert r.status_code == 403
    assert "location" not in r.headers


async def test_an_answer_from_another_issuer_is_refused(stack: Stack, browser: Browser) -> None:
    """RFC 9207 mix-up: an ``iss`` other than the chosen IdP's stops the sign-in."""
    response = await browser.http.get(authorize_url(stack, secrets.token_urlsafe(48)))
    at_idp = await browser.http.get(response.headers["location"])
    callback = at_idp.headers["location"].replace(f"iss={stack.idp.replace(':', '%3A').replace('/', '%2F')}", "")
    callback += "&iss=" + "https%3A%2F%2Fevil.example"
    r = await browser.http.get(callback)
    assert r.status_code == 403
    assert "location" not in r.headers


# -- refresh tokens --------------------------------------------------------------------------------


async def test_refresh_tokens_rotate_and_a_replayed_one_revokes_the_family(stack: Stack, browser: Browser) -> None:
    """OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: a stolen refresh token used after rotation kills the family."""
    code, verifier = await sign_in(browser, stack)
    first = (await redeem(stack, code, verifier)).json()
    second = await refresh(stack, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert await active(stack, rotated["access_token"])
    assert_error(
        await refresh(stack, first["refresh_token"]), 400, "invalid_grant", "The refresh token was already used."
    )  # the replay
    assert not await active(stack, rotated["access_token"])
    assert_error(await refresh(stack, rotated["refresh_token"]), 400, "invalid_grant", REVOKED)


async def test_a_refresh_token_is_bound_to_its_client_resource_and_scope(stack: Stack, browser: Browser) -> None:
    code, verifier = await sign_in(browser, stack, scope="calendar.read")
    rt = (await redeem(stack, code, verifier)).json()["refresh_token"]
    other_client = await token(
        stack, grant_type="refresh_token", refresh_token=rt, client_id="agent-app", client_secret="agent-app-secret"
    )
    assert other_client.status_code in (400, 401)
    assert_error(
        await refresh(stack, rt, resource=stack.resource("documents")),
        400,
        "invalid_target",
        "The refresh token is bound to another resource.",
    )
    assert_error(
        await refresh(stack, rt, scope="calendar.write"),
        400,
        "invalid_scope",
        "The requested scope exceeds the scope of the original grant.",
    )
    narrowed = await refresh(stack, rt, scope="calendar.read")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "calendar.read"


async def test_a_revoked_refresh_token_cannot_be_used(stack: Stack, browser: Browser) -> None:
    code, verifier = await sign_in(browser, stack)
    tokens = (await redeem(stack, code, verifier)).json()
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{stack.broker}/as/revoke", data={"token": tokens["refresh_token"], "client_id": DESKTOP})
    assert r.status_code == 200
    assert_error(await refresh(stack, tokens["refresh_token"]), 400, "invalid_grant", REVOKED)
    assert not await active(stack, tokens["access_token"])


async def test_a_public_client_cannot_use_the_sep_990_grants(stack: Stack) -> None:
    r = await token(stack, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion="x", client_id=DESKTOP)
    assert_error(r, 400, "unauthorized_client", "The client is not authorized to use this grant type.")


# -- metadata --------------------------------------------------------------------------------------


@pytest.mark.spec("MD-13", "MD-03")
async def test_metadata_advertises_the_code_flow(stack: Stack) -> None:
    async with httpx.AsyncClient() as http:
        meta = (await http.get(f"{stack.broker}/.well-known/oauth-authorization-server/as")).json()
    assert meta["authorization_endpoint"] == f"{stack.broker}/as/authorize"
    assert meta["response_types_supported"] == ["code"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert "none" in meta["token_endpoint_auth_methods_supported"]
    assert meta["client_id_metadata_document_supported"] is True
    assert meta["authorization_response_iss_parameter_supported"] is True
