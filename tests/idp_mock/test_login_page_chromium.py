"""The sign-in page in a real browser: headless Chromium picks a user, clicks "Sign in", and lands on the callback.

The IdP runs under uvicorn (``python -m idp_mock serve``); the browser is driven over the Chrome DevTools
Protocol. The callback (``http://127.0.0.1:8765/callback``) is intercepted in the browser, as the client
app would receive it, and the code is then redeemed over HTTP.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp_mock import AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET
from idp_mock.pkce import s256
from tests.idp_mock.cdp import CHROMIUM, Page, chromium_page
from tests.idp_mock.conftest import REDIRECT_URI
from tests.idp_mock.served import ServedIdp, serve_idp

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not on PATH (Debian: apt-get install -y chromium)"
)

SCREENSHOT_ENV = "IDP_MOCK_SCREENSHOT"
"""Set to a file path to keep the login page screenshot for a person to look at."""


@pytest.fixture(scope="module")
def served() -> Iterator[ServedIdp]:
    with serve_idp() as s:
        yield s


def _authorize_url(issuer: str, verifier: str) -> str:
    params = {
        "response_type": "code",
        "client_id": AGENT_APP_CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email groups",
        "state": "browser-state",
        "nonce": "browser-nonce",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    return f"{issuer}/authorize?{urlencode(params)}"


async def _accessible_names(page: Page) -> list[tuple[str, str]]:
    tree = await page.send("Accessibility.getFullAXTree")
    out: list[tuple[str, str]] = []
    for node in tree["nodes"]:
        role = node.get("role", {}).get("value", "")
        name = node.get("name", {}).get("value", "")
        if role in ("radio", "button", "heading", "group"):
            out.append((role, name))
    return out


async def test_user_signs_in_through_the_form_in_chromium(served: ServedIdp, tmp_path: Path) -> None:
    """Pick Bob with the mouse, press Sign in: the browser is sent to the callback with code, state and iss."""
    verifier = "v" * 20 + "browser-verifier-0123456789-abcdefghijk"
    async with chromium_page() as page:
        await page.send("Page.enable")
        await page.send("Fetch.enable", patterns=[{"urlPattern": f"{REDIRECT_URI}*"}])
        await page.send("Page.navigate", url=_authorize_url(served.issuer, verifier))
        await page.event("Page.loadEventFired")

        assert await page.evaluate("document.title") == "Sign in · idp_mock"
        names = await _accessible_names(page)
        assert ("heading", "Sign in") in names
        assert ("button", "Sign in") in names
        assert ("button", "Cancel") in names
        radios = [n for role, n in names if role == "radio"]
        assert radios == ["Alice Anderson", "Bob Brown", "Carol Clark"]
        shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "login.png")
        await page.screenshot(shot)
        assert shot.stat().st_size > 1000

        await page.click("#user-1")
        assert await page.evaluate("document.querySelector('#user-1').checked") is True
        await page.click("button[value=sign_in]")

        request = await page.answer_intercepted("signed in")

    url = request["url"]
    assert url.startswith(REDIRECT_URI + "?")
    callback = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert callback["state"] == "browser-state"
    assert callback["iss"] == served.issuer
    async with httpx.AsyncClient(base_url=served.issuer) as http:
        r = await http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET),
        )
        assert r.status_code == 200
        keys = KeySet.import_key_set((await http.get("/jwks")).json())
    claims = jwt.decode(r.json()["id_token"], keys, algorithms=["RS256"]).claims
    assert claims["sub"] == "bob"
    assert claims["nonce"] == "browser-nonce"
