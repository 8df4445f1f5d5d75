"""Which IdP a user signs in at: the ``login_hint`` domain, else the chooser page (issue 7)."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from broker.core.pkce import s256
from tests.interactive.browser import Browser, read_form
from tests.interactive.conftest import CLIENT_REDIRECT
from tests.live import Stack


def authorize_url(stack: Stack, **extra: str) -> str:
    return f"{stack.broker}/as/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": "mcp-desktop",
            "redirect_uri": CLIENT_REDIRECT,
            "state": "s",
            "code_challenge": s256(secrets.token_urlsafe(48)),
            "code_challenge_method": "S256",
            "resource": stack.resource("calendar"),
            **extra,
        }
    )


async def test_without_a_hint_the_user_chooses_among_the_idps_that_allow_sign_in(
    stack: Stack, browser: Browser
) -> None:
    stop = await browser.walk(authorize_url(stack))
    assert stop.response.status_code == 200
    form = read_form(stop.page, str(stop.response.url))
    assert form.buttons == [("idp", "acme"), ("idp", "globex")]
    chosen = await browser.http.get(str(form.action), params={**form.hidden, "idp": "globex"})
    location = chosen.headers["location"]
    assert location.startswith("https://login.globex.example/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["client_id"] == "xaa-at-globex"
    assert query["redirect_uri"] == f"{stack.broker}/as/callback"
    assert query["code_challenge_method"] == "S256"
    assert query["nonce"] and query["state"]
    assert query["scope"] == "openid profile email"


async def test_a_login_hint_domain_picks_its_idp(stack: Stack, browser: Browser) -> None:
    r = await browser.http.get(authorize_url(stack, login_hint="erin@globex.example"))
    assert r.headers["location"].startswith("https://login.globex.example/authorize?")
    assert "login_hint=erin%40globex.example" in r.headers["location"]


async def test_an_unknown_choice_gets_an_error_page(stack: Stack, browser: Browser) -> None:
    stop = await browser.walk(authorize_url(stack))
    form = read_form(stop.page, str(stop.response.url))
    r = await browser.http.get(str(form.action), params={**form.hidden, "idp": "evil"})
    assert r.status_code == 400
    assert "location" not in r.headers


async def test_the_choice_only_counts_in_the_browser_that_started_the_sign_in(stack: Stack, browser: Browser) -> None:
    stop = await browser.walk(authorize_url(stack))
    form = read_form(stop.page, str(stop.response.url))
    other = Browser(CLIENT_REDIRECT)
    try:
        r = await other.http.get(str(form.action), params={**form.hidden, "idp": "acme"})
    finally:
        await other.aclose()
    assert r.status_code == 403
    assert "location" not in r.headers
