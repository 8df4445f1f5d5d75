"""A client identified by its Client ID Metadata Document goes through the whole interactive flow."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from litestar import Litestar, get

from broker.core.pkce import s256
from tests.interactive.browser import Browser
from tests.interactive.conftest import CIMD_CLIENT_ID, CIMD_PORT, CLIENT_REDIRECT
from tests.live import Stack, serving

DOCUMENT: dict[str, Any] = {
    "client_id": CIMD_CLIENT_ID,
    "client_name": "Docs Bot",
    "redirect_uris": ["http://127.0.0.1/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}


@pytest.fixture(scope="module")
async def document_host() -> AsyncIterator[list[int]]:
    """Serves the client's metadata document on its URL; yields a hit counter."""
    hits = [0]

    @get("/oauth/client.json", media_type="application/json")
    async def document() -> dict[str, Any]:
        hits[0] += 1
        return DOCUMENT

    async with serving(Litestar([document]), CIMD_PORT):
        yield hits


def authorize_url(stack: Stack, verifier: str, service: str, user: str) -> str:
    return f"{stack.broker}/as/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": CIMD_CLIENT_ID,
            "redirect_uri": CLIENT_REDIRECT,
            "state": "s1",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "resource": stack.resource(service),
            "login_hint": user,
        }
    )


async def test_a_metadata_document_client_signs_in_with_consent_and_redeems_its_code(
    stack: Stack, browser: Browser, document_host: list[int]
) -> None:
    verifier = secrets.token_urlsafe(48)
    stop = await browser.walk(authorize_url(stack, verifier, "tickets", "bob@acme.example"))
    assert stop.response.status_code == 200
    assert "Docs Bot" in stop.page  # self-asserted name, shown with its URL
    assert CIMD_CLIENT_ID in stop.page
    code = (await browser.submit(stop, decision="allow")).params["code"]
    async with httpx.AsyncClient() as http:
        r = await http.post(
            f"{stack.broker}/as/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": CLIENT_REDIRECT,
                "code_verifier": verifier,
                "client_id": CIMD_CLIENT_ID,
            },
        )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "tickets.read"
    assert document_host[0] >= 1


async def test_a_metadata_document_client_gets_only_what_policy_names_it_for(
    stack: Stack, browser: Browser, document_host: list[int]
) -> None:
    """Policy names the document URL for tickets only: the calendar is refused after sign-in, no code."""
    stop = await browser.walk(authorize_url(stack, secrets.token_urlsafe(48), "calendar", "alice@acme.example"))
    assert stop.params == {
        "error": "access_denied",
        "error_description": "You are not allowed to give this client access to the resource.",
        "state": "s1",
        "iss": f"{stack.broker}/as",
    }


async def test_an_unreachable_metadata_document_gets_an_error_page(stack: Stack, browser: Browser) -> None:
    """No verified redirect URI without the document: an error page, never a redirect."""
    url = authorize_url(stack, secrets.token_urlsafe(48), "tickets", "bob@acme.example").replace(
        "%2Foauth%2Fclient.json", "%2Foauth%2Fmissing.json"
    )
    stop = await browser.walk(url)
    assert stop.response.status_code == 400
    assert "location" not in stop.response.headers
    assert "metadata document" in stop.page
