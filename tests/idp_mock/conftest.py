"""Fixtures for the mock IdP: an injectable clock, in-process apps over httpx.ASGITransport, flow helpers."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar import Litestar

from idp_mock import (
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    AGENT_APP_REDIRECT_URIS,
    DEFAULT_ISSUER,
    IdJagSettings,
    IdpSettings,
    create_app,
)
from idp_mock.pkce import s256

REDIRECT_URI = AGENT_APP_REDIRECT_URIS[0]
AS_AUDIENCE = "http://127.0.0.1:8000/as"
MCP_RESOURCE = "http://127.0.0.1:8765/notes/mcp"


def asgi(app: Litestar) -> httpx.ASGITransport:
    """httpx's in-process transport for a Litestar app (its ASGI signature is wider than httpx's stub)."""
    return httpx.ASGITransport(app=cast("Any", app))


class FakeClock:
    """A clock tests move by hand (no sleeping)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Idp:
    """An in-process IdP and an HTTP client bound to it."""

    app: Litestar
    http: httpx.AsyncClient
    clock: FakeClock
    issuer: str = DEFAULT_ISSUER

    def auth_params(self, **overrides: str | None) -> tuple[dict[str, str], str]:
        """Valid authorization request parameters for agent-app and the PKCE verifier they commit to."""
        verifier = secrets.token_urlsafe(48)
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": AGENT_APP_CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid profile email groups offline_access",
            "state": "state-123",
            "nonce": "nonce-456",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "login_hint": "alice",
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}, verifier

    async def authorize(self, params: dict[str, str]) -> httpx.Response:
        return await self.http.get("/authorize", params=params)

    async def code_for(self, **overrides: str | None) -> tuple[str, str]:
        """Sign in by login_hint; returns (code, verifier)."""
        params, verifier = self.auth_params(**overrides)
        r = await self.authorize(params)
        assert r.status_code == 302, r.text
        return callback_params(r)["code"], verifier

    async def token(self, data: dict[str, str], *, auth: tuple[str, str] | None = None) -> httpx.Response:
        if auth is None:
            return await self.http.post("/token", data=data)
        return await self.http.post("/token", data=data, auth=auth)

    async def tokens_for(self, **overrides: str | None) -> dict[str, Any]:
        """A complete confidential-client sign-in; returns the token response."""
        code, verifier = await self.code_for(**overrides)
        r = await self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET),
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def callback_params(response: httpx.Response) -> dict[str, str]:
    """Query parameters of the redirect the IdP sent to the client's redirect URI."""
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def id_jag_settings(**kwargs: Any) -> IdpSettings:
    """Default users and clients with native ID-JAG issuance for the broker's leg-2 issuer."""
    return IdpSettings(id_jag=IdJagSettings(enabled=True, audiences=(AS_AUDIENCE,)), **kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_idp(clock: FakeClock) -> AsyncIterator[Callable[..., Idp]]:
    """Factory: ``make_idp(settings)`` -> an in-process IdP on the fake clock; clients closed at teardown."""
    made: list[Idp] = []

    def make(settings: IdpSettings | None = None) -> Idp:
        s = settings or IdpSettings()
        app = create_app(s, now=clock, env={})
        http = httpx.AsyncClient(transport=asgi(app), base_url=s.issuer)
        made.append(Idp(app=app, http=http, clock=clock, issuer=s.issuer))
        return made[-1]

    try:
        yield make
    finally:
        for m in made:
            await m.http.aclose()


@pytest.fixture
def idp(make_idp: Callable[..., Idp]) -> Idp:
    """The default IdP (built-in users and clients), in process."""
    return make_idp()
