"""The broker JWKS is cached, refetched on an unknown ``kid`` at most once per interval, never per request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from joserfc.jwk import ECKey

from broker.client import BrokerClient
from broker.core.jose import sign_jwt
from idp_mock import AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET
from mcp_server.jwks import BrokerKeys
from mcp_server.verifier import BrokerTokenVerifier
from tests.live import Stack
from tests.mcp_server.test_refusals import good_claims


class Counted:
    def __init__(self) -> None:
        self.jwks_fetches = 0
        self.now = 1000.0

    async def hook(self, request: httpx.Request) -> None:
        self.jwks_fetches += request.url.path.endswith("/jwks")


@pytest.fixture
async def counted() -> AsyncIterator[tuple[Counted, httpx.AsyncClient]]:
    c = Counted()
    async with httpx.AsyncClient(event_hooks={"request": [c.hook]}) as http:
        yield c, http


async def test_jwks_is_fetched_once_for_many_requests_and_refetched_once_per_interval_on_unknown_kid(
    stack: Stack, counted: tuple[Counted, httpx.AsyncClient]
) -> None:
    c, http = counted
    trust = stack.mcp_settings.broker
    keys = BrokerKeys(trust.resolved_jwks_uri, http, refresh_interval=60, clock=lambda: c.now)
    service = next(s for s in stack.mcp_settings.services() if s.name == "calendar")
    verifier = BrokerTokenVerifier(service, trust, keys)
    async with BrokerClient.for_broker(stack.broker, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET) as broker:
        token = await broker.access_token(await stack.sign_in("alice"), resource=service.resource)
    for _ in range(20):
        assert await verifier.verify_token(token.token) is not None
    assert c.jwks_fetches == 1

    stranger = ECKey.generate_key("P-256", private=True)
    unknown = [
        sign_jwt({"alg": "ES256", "kid": f"unknown-{i}", "typ": "at+jwt"}, good_claims(stack, "calendar"), stranger)
        for i in range(3)
    ]
    assert await verifier.verify_token(unknown[0]) is None
    assert c.jwks_fetches == 1  # the set was fetched moments ago: an unknown kid does not refetch it yet
    c.now += 61
    assert await verifier.verify_token(unknown[0]) is None
    assert c.jwks_fetches == 2  # one refetch for the unknown kid
    assert await verifier.verify_token(unknown[1]) is None
    assert c.jwks_fetches == 2  # within the interval: no second refetch (no amplification by bogus kids)
    c.now += 61
    assert await verifier.verify_token(unknown[2]) is None
    assert c.jwks_fetches == 3
    assert await verifier.verify_token(token.token) is not None
    assert c.jwks_fetches == 3
