"""The sign-in form over HTTP: a real form, a CSRF token bound to the pending request and to the browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from idp_mock import DEFAULT_ISSUER, IdpSettings, UserConfig
from tests.idp_mock.conftest import REDIRECT_URI, Idp, asgi, callback_params


def _hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert m is not None, name
    return m.group(1)


async def _open_page(idp: Idp) -> tuple[httpx.Response, str, str]:
    params, verifier = idp.auth_params(login_hint=None)
    r = await idp.authorize(params)
    assert r.status_code == 200
    return r, _hidden(r.text, "login_id"), verifier


async def test_authorize_without_login_hint_shows_an_accessible_form(idp: Idp) -> None:
    """A real HTML form: labelled radio buttons for each user, a Sign in button, CSRF token, no script, no framing."""
    r, _, _ = await _open_page(idp)
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="en">' in html
    assert '<form method="post" action="/login">' in html
    assert "<legend>Choose a user</legend>" in html
    for username, name in (("alice", "Alice Anderson"), ("bob", "Bob Brown"), ("carol", "Carol Clark")):
        assert f'name="username" value="{username}"' in html
        assert name in html
    assert ">Sign in</button>" in html
    assert _hidden(html, "csrf_token")
    assert "<script" not in html
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "form-action 'self' http://127.0.0.1:8765" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


async def test_submitting_the_form_signs_in_and_redirects_with_303(idp: Idp) -> None:
    """RFC 9700 §4.12: 303 after the POST; the code, state and iss go to the client."""
    r, login_id, verifier = await _open_page(idp)
    form = {"login_id": login_id, "csrf_token": _hidden(r.text, "csrf_token"), "username": "bob", "action": "sign_in"}
    posted = await idp.http.post("/login", data=form)
    assert posted.status_code == 303
    assert posted.headers["location"].startswith(REDIRECT_URI + "?")
    got = callback_params(posted)
    assert got["state"] == "state-123"
    assert got["iss"] == DEFAULT_ISSUER
    token = await idp.token(
        {
            "grant_type": "authorization_code",
            "code": got["code"],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=("agent-app", "agent-app-secret"),
    )
    assert token.status_code == 200


async def test_wrong_csrf_token_is_refused_without_redirect(idp: Idp) -> None:
    """The form's CSRF token must match the pending request."""
    _, login_id, _ = await _open_page(idp)
    posted = await idp.http.post(
        "/login", data={"login_id": login_id, "csrf_token": "forged", "username": "bob", "action": "sign_in"}
    )
    assert posted.status_code == 403
    assert "location" not in posted.headers
    assert "CSRF check failed" in posted.text


async def test_form_posted_without_the_browser_cookie_is_refused(idp: Idp) -> None:
    """A cross-site POST does not carry the SameSite=Lax binding cookie, so it cannot complete the login."""
    r, login_id, _ = await _open_page(idp)
    csrf = _hidden(r.text, "csrf_token")
    async with httpx.AsyncClient(transport=asgi(idp.app), base_url=DEFAULT_ISSUER) as other_browser:
        posted = await other_browser.post(
            "/login", data={"login_id": login_id, "csrf_token": csrf, "username": "bob", "action": "sign_in"}
        )
    assert posted.status_code == 403
    assert "CSRF check failed" in posted.text


async def test_a_form_is_single_use(idp: Idp) -> None:
    r, login_id, _ = await _open_page(idp)
    form = {"login_id": login_id, "csrf_token": _hidden(r.text, "csrf_token"), "username": "bob", "action": "sign_in"}
    assert (await idp.http.post("/login", data=form)).status_code == 303
    again = await idp.http.post("/login", data=form)
    assert again.status_code == 400
    assert "expired or was already used" in again.text


async def test_an_expired_form_is_refused(idp: Idp) -> None:
    r, login_id, _ = await _open_page(idp)
    idp.clock.advance(600)
    form = {"login_id": login_id, "csrf_token": _hidden(r.text, "csrf_token"), "username": "bob", "action": "sign_in"}
    posted = await idp.http.post("/login", data=form)
    assert posted.status_code == 400
    assert "expired or was already used" in posted.text


async def test_cancel_redirects_access_denied(idp: Idp) -> None:
    """RFC 6749 §4.1.2.1: the user declined: ``access_denied`` with the state."""
    r, login_id, _ = await _open_page(idp)
    posted = await idp.http.post(
        "/login", data={"login_id": login_id, "csrf_token": _hidden(r.text, "csrf_token"), "action": "cancel"}
    )
    assert posted.status_code == 303
    assert callback_params(posted) == {
        "error": "access_denied",
        "error_description": "The user cancelled sign-in.",
        "state": "state-123",
        "iss": DEFAULT_ISSUER,
    }


async def test_unknown_user_re_renders_the_form_with_an_alert(idp: Idp) -> None:
    r, login_id, _ = await _open_page(idp)
    csrf = _hidden(r.text, "csrf_token")
    posted = await idp.http.post(
        "/login", data={"login_id": login_id, "csrf_token": csrf, "username": "mallory", "action": "sign_in"}
    )
    assert posted.status_code == 400
    assert 'role="alert">Choose a user to sign in as.' in posted.text
    retry = await idp.http.post(
        "/login", data={"login_id": login_id, "csrf_token": csrf, "username": "alice", "action": "sign_in"}
    )
    assert retry.status_code == 303


async def test_values_are_html_escaped(make_idp: Callable[..., Idp]) -> None:
    evil = UserConfig(username="eve", email="eve@x.example", name="<script>alert(1)</script>", groups=("<b>",))
    idp = make_idp(IdpSettings(user=(evil,)))
    params, _ = idp.auth_params(login_hint=None)
    r = await idp.authorize(params)
    assert "<script>alert(1)</script>" not in r.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
