"""The broker, configured by ``examples/broker.toml``, trusts the mock IdP over HTTP (issue 3 done-criterion).

The IdP signs users in through the real authorization-code + PKCE flow; the broker fetches its JWKS
over HTTP (an ASGI transport), follows a key rotation by refetching on the unknown ``kid``, and
redeems ID-JAGs the IdP issues itself (``id_jag_issuer = true``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar
from redis.asyncio import Redis

from broker.app import create_app
from broker.settings import BrokerSettings, load_settings
from broker.stores.redis import RedisStore
from idp_mock import (
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    AGENT_APP_REDIRECT_URIS,
    DEFAULT_ISSUER,
    IdJagSettings,
    IdpSettings,
    login,
    rotate_keys,
)
from idp_mock import create_app as create_idp
from tests.broker_env import assert_error, basic, decode_unverified

EXAMPLE = Path(__file__).parents[2] / "examples" / "broker.toml"
PUBLIC_URL = "http://127.0.0.1:8000"
AS_ISSUER = f"{PUBLIC_URL}/as"
CALENDAR = "http://127.0.0.1:8101/calendar/mcp"
TICKETS = "http://127.0.0.1:8101/tickets/mcp"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"


def _asgi(app: Litestar) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=cast(Any, app))


@dataclass
class World:
    idp: Litestar
    idp_http: httpx.AsyncClient
    broker: httpx.AsyncClient
    settings: BrokerSettings

    async def sign_in(self, user: str) -> str:
        tokens = await login(
            DEFAULT_ISSUER,
            user,
            AGENT_APP_CLIENT_ID,
            AGENT_APP_CLIENT_SECRET,
            AGENT_APP_REDIRECT_URIS[0],
            http=self.idp_http,
        )
        token: str = tokens["id_token"]
        return token

    async def leg1(self, id_token: str, resource: str, scope: str) -> httpx.Response:
        form = {
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": ID_JAG,
            "subject_token": id_token,
            "subject_token_type": ID_TOKEN,
            "audience": AS_ISSUER,
            "resource": resource,
            "scope": scope,
        }
        return await self.broker.post("/idp/token", data=form, headers=basic("agent-app", AGENT_APP_CLIENT_SECRET))

    async def leg2(self, id_jag: str) -> httpx.Response:
        form = {"grant_type": JWT_BEARER, "assertion": id_jag}
        return await self.broker.post("/as/token", data=form, headers=basic("agent-app", AGENT_APP_CLIENT_SECRET))


@pytest.fixture
async def world(redis_url: str, tmp_path: Path) -> AsyncIterator[World]:
    settings = load_settings(EXAMPLE).settings
    idp = create_idp(IdpSettings(id_jag=IdJagSettings(enabled=True, audiences=(AS_ISSUER,))))
    redis = Redis.from_url(redis_url)
    await redis.flushdb()
    async with (
        httpx.AsyncClient(transport=_asgi(idp), base_url=DEFAULT_ISSUER) as idp_http,
        httpx.AsyncClient(transport=_asgi(idp)) as broker_outbound,
    ):
        broker_app = create_app(settings, store=RedisStore(redis), http=broker_outbound, keys_dir=tmp_path / "keys")
        async with httpx.AsyncClient(transport=_asgi(broker_app), base_url=PUBLIC_URL) as broker:
            yield World(idp, idp_http, broker, settings)
    await redis.aclose()


async def test_example_config_accepts_the_mock_idps_id_tokens_for_both_legs(world: World) -> None:
    id_token = await world.sign_in("alice")
    r = await world.leg1(id_token, CALENDAR, "calendar.read calendar.write")
    assert r.status_code == 200, r.text
    _, jag = decode_unverified(r.json()["access_token"])
    assert jag["sub"] == "acme|" + decode_unverified(id_token)[1]["sub"]
    assert jag["resource"] == CALENDAR
    at = await world.leg2(r.json()["access_token"])
    assert at.status_code == 200, at.text
    _, claims = decode_unverified(at.json()["access_token"])
    assert claims["aud"] == CALENDAR
    assert claims["scope"] == "calendar.read calendar.write"


async def test_id_tokens_keep_working_across_an_idp_key_rotation(world: World) -> None:
    before = await world.sign_in("alice")
    assert (await world.leg1(before, CALENDAR, "calendar.read")).status_code == 200
    old_kid = decode_unverified(before)[0]["kid"]
    new_kid = rotate_keys(world.idp)
    after = await world.sign_in("alice")
    assert decode_unverified(after)[0]["kid"] == new_kid != old_kid
    r = await world.leg1(after, CALENDAR, "calendar.read")  # unknown kid: the broker refetches the JWKS once
    assert r.status_code == 200, r.text
    again = await world.leg1(before, CALENDAR, "calendar.read")  # the old key stays published until expiry
    assert again.status_code == 200, again.text


async def test_policy_refuses_a_user_outside_the_group(world: World) -> None:
    bob = await world.sign_in("bob")  # sales, not engineering
    assert_error(
        await world.leg1(bob, CALENDAR, "calendar.read"),
        400,
        "invalid_grant",
        "The user is not allowed to access the requested resource.",
    )
    tickets = await world.leg1(bob, TICKETS, "tickets.read")  # every acme user may read tickets
    assert tickets.status_code == 200, tickets.text


async def test_leg2_redeems_an_id_jag_the_idp_issued_itself(world: World) -> None:
    """``id_jag_issuer = true``: the Okta-style path, the IdP's own token exchange then our leg 2.

    The IdP's ID-JAG carries no ``groups``, so a group-restricted rule (calendar) does not match it,
    while the tickets rule (any acme user) does: policy still applies to native ID-JAGs.
    """
    id_token = await world.sign_in("alice")

    async def native_id_jag(resource: str, scope: str) -> str:
        form = {
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": ID_JAG,
            "subject_token": id_token,
            "subject_token_type": ID_TOKEN,
            "audience": AS_ISSUER,
            "resource": resource,
            "scope": scope,
        }
        r = await world.idp_http.post("/token", data=form, auth=(AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET))
        assert r.status_code == 200, r.text
        token: str = r.json()["access_token"]
        return token

    jag = await native_id_jag(TICKETS, "tickets.read")
    r = await world.leg2(jag)
    assert r.status_code == 200, r.text
    _, claims = decode_unverified(r.json()["access_token"])
    assert claims["aud"] == TICKETS
    assert claims["scope"] == "tickets.read"
    assert_error(await world.leg2(jag), 400, "invalid_grant", "The ID-JAG has already been used.")
    calendar = await world.leg2(await native_id_jag(CALENDAR, "calendar.read"))
    assert_error(calendar, 400, "invalid_grant", "The user is not allowed to access the requested resource.")
