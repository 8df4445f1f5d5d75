"""The interactive flow's pages in a real browser: headless Chromium picks the organisation on the
broker's chooser, signs in on the mock IdP's page, allows on the broker's consent page, and lands on
the client's redirect URI with a code that redeems (issue 7: pages tested in Debian's chromium).

The client's loopback callback is intercepted in the browser, as a desktop MCP client would receive it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from broker.core.pkce import s256
from tests.idp_mock.cdp import CHROMIUM, Page, chromium_page
from tests.interactive.conftest import CLIENT_REDIRECT
from tests.live import Stack

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not on PATH (Debian: apt-get install -y chromium)"
)

SCREENSHOT_ENV = "XAA_CONSENT_SCREENSHOT"
"""Set to a file path to keep the consent page screenshot for a person to look at."""


async def _load(page: Page, action: str) -> None:
    """Click and wait for the next page to finish loading."""
    await page.click(action)
    await page.event("Page.loadEventFired")


async def _text(page: Page, selector: str) -> str:
    value: str = await page.evaluate(f"document.querySelector({selector!r}).innerText")
    return value


async def test_a_person_chooses_signs_in_and_allows_in_chromium(stack: Stack, tmp_path: Path) -> None:
    verifier = secrets.token_urlsafe(48)
    url = f"{stack.broker}/as/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": "mcp-desktop",
            "redirect_uri": CLIENT_REDIRECT,
            "state": "browser-state",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "resource": stack.resource("documents"),
            "scope": "documents.read",
        }
    )
    async with chromium_page() as page:
        await page.send("Page.enable")
        await page.send("Fetch.enable", patterns=[{"urlPattern": f"{CLIENT_REDIRECT}*"}])
        await page.send("Page.navigate", url=url)
        await page.event("Page.loadEventFired")

        assert await page.evaluate("document.title") == "Choose your organisation"
        await _load(page, "button[value=acme]")  # -> the mock IdP's sign-in form
        await page.click("#user-2")  # Carol (engineering)
        await _load(page, "button[value=sign_in]")  # -> the broker's consent page

        assert await page.evaluate("document.title") == "Allow access?"
        assert await _text(page, "#user") == "carol@acme.example"
        assert await _text(page, "#client") == "MCP Desktop"
        assert await _text(page, "#resource") == "Documents"
        assert await _text(page, "#scopes") == "documents.read"
        shot = Path(os.environ.get(SCREENSHOT_ENV) or tmp_path / "consent.png")
        await page.screenshot(shot)
        assert shot.stat().st_size > 1000
        await page.click("#allow")

        request = await page.answer_intercepted("allowed")

    callback = {k: v[0] for k, v in parse_qs(urlsplit(request["url"]).query).items()}
    assert callback["state"] == "browser-state"
    assert callback["iss"] == f"{stack.broker}/as"
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{stack.broker}/as/token",
            data={
                "grant_type": "authorization_code",
                "code": callback["code"],
                "redirect_uri": CLIENT_REDIRECT,
                "code_verifier": verifier,
                "client_id": "mcp-desktop",
            },
        )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "documents.read"
