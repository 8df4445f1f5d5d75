"""The one-call shortcut, the access-token cache, introspection (RFC 7662) and revocation (RFC 7009)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from broker.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN
from tests.broker_env import FILES, SECRETS, TICKETS, BrokerEnv, assert_error, basic, decode_unverified

RS = basic("rs-app", SECRETS["rs-app"])


async def shortcut(broker: BrokerEnv, subject_token: str | None = None, **params: Any) -> httpx.Response:
    form = {
        "grant_type": GRANT_TOKEN_EXCHANGE,
        "requested_token_type": TOKEN_TYPE_ACCESS_TOKEN,
        "subject_token": subject_token or broker.acme.id_token(),
        "subject_token_type": TOKEN_TYPE_ID_TOKEN,
        "resource": FILES,
        "scope": "files.read",
        **params,
    }
    return await broker.http.post(
        "/as/token", data={k: v for k, v in form.items() if v is not None}, headers=basic("agent-app")
    )


async def test_shortcut_exchanges_id_token_for_access_token_in_one_call(broker: BrokerEnv) -> None:
    r = await shortcut(broker)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["issued_token_type"] == TOKEN_TYPE_ACCESS_TOKEN
    assert body["token_type"] == "Bearer"
    header, claims = decode_unverified(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["aud"] == FILES
    assert claims["sub"] == "acme|alice"


async def test_shortcut_applies_the_same_policy_as_leg1(broker: BrokerEnv) -> None:
    r = await shortcut(broker, subject_token=broker.acme.id_token(sub="bob", groups=["sales"]))
    assert_error(r, 400, "invalid_grant", "The user is not allowed to access the requested resource.")
    r = await shortcut(broker, resource=TICKETS, scope="tickets.write")
    assert_error(r, 400, "invalid_scope", "The requested scope exceeds the scope policy allows.")


async def test_shortcut_refuses_to_issue_id_jags(broker: BrokerEnv) -> None:
    """No ID-JAG leaves through the shortcut: that is leg 1's job."""
    r = await shortcut(broker, requested_token_type=TOKEN_TYPE_ID_JAG)
    assert_error(
        r,
        400,
        "invalid_request",
        f"requested_token_type must be {TOKEN_TYPE_ACCESS_TOKEN} here; ID-JAGs are issued by leg 1.",
    )


@pytest.mark.spec("L2-64")
async def test_repeat_request_gets_the_cached_token(broker: BrokerEnv) -> None:
    """Cache keyed by (subject, client, resource, scopes): a repeat while life remains is the same token."""
    first = (await shortcut(broker)).json()
    broker.clock.advance(30)
    second = (await shortcut(broker)).json()
    assert second["access_token"] == first["access_token"]
    assert second["expires_in"] == first["expires_in"] - 30
    other_scope = (await shortcut(broker, scope="files.read files.write")).json()
    assert other_scope["access_token"] != first["access_token"]


async def test_cached_token_is_not_served_near_expiry(broker: BrokerEnv) -> None:
    first = (await shortcut(broker)).json()
    broker.clock.advance(first["expires_in"] - broker.settings.cache_min_remaining + 1)
    second = (await shortcut(broker, subject_token=broker.acme.id_token())).json()
    assert second["access_token"] != first["access_token"]


async def test_leg2_reuses_the_cached_token_for_the_same_grant(broker: BrokerEnv) -> None:
    """A new ID-JAG (jti consumed) for the same user/client/resource/scopes gets the cached access token."""
    a = (await broker.leg2(await broker.id_jag())).json()
    b = (await broker.leg2(await broker.id_jag())).json()
    assert a["access_token"] == b["access_token"]


async def test_concurrent_identical_requests_mint_once(broker: BrokerEnv) -> None:
    token = broker.acme.id_token()
    results = await asyncio.gather(*(shortcut(broker, subject_token=token) for _ in range(20)))
    assert {r.status_code for r in results} == {200}
    assert len({r.json()["access_token"] for r in results}) == 1


@pytest.mark.spec("IR-01", "IR-03")
async def test_introspection_reports_an_active_token(broker: BrokerEnv) -> None:
    at = (await shortcut(broker)).json()["access_token"]
    r = await broker.http.post("/as/introspect", data={"token": at}, headers=RS)
    assert r.status_code == 200
    body = r.json()
    assert body["active"] is True
    assert body["aud"] == FILES
    assert body["client_id"] == "agent-app"
    assert body["scope"] == "files.read"
    assert body["sub"] == "acme|alice"


@pytest.mark.spec("N132", "IR-01")
async def test_introspection_requires_an_authenticated_caller(broker: BrokerEnv) -> None:
    """RFC 7662 §2.1: token scanning is prevented by requiring authorization."""
    at = (await shortcut(broker)).json()["access_token"]
    r = await broker.http.post("/as/introspect", data={"token": at})
    assert_error(r, 401, "invalid_client")
    r = await broker.http.post("/as/introspect", data={"token": at}, headers=basic("agent-app"))
    assert_error(r, 400, "unauthorized_client", "The client is not allowed to introspect tokens.")


@pytest.mark.spec("IR-02")
@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
async def test_introspection_of_invalid_token_is_just_inactive(broker: BrokerEnv, token: str) -> None:
    r = await broker.http.post("/as/introspect", data={"token": token}, headers=RS)
    assert r.status_code == 200
    assert r.json() == {"active": False}


async def test_introspection_of_an_id_jag_is_inactive(broker: BrokerEnv) -> None:
    """An ID-JAG is not an access token (typ, iss, key all differ)."""
    r = await broker.http.post("/as/introspect", data={"token": await broker.id_jag()}, headers=RS)
    assert r.json() == {"active": False}


@pytest.mark.spec("IR-04")
async def test_revoked_token_is_inactive_and_never_served_from_cache(broker: BrokerEnv) -> None:
    at = (await shortcut(broker)).json()["access_token"]
    r = await broker.http.post(
        "/as/revoke", data={"token": at, "token_type_hint": "access_token"}, headers=basic("agent-app")
    )
    assert r.status_code == 200
    intro = await broker.http.post("/as/introspect", data={"token": at}, headers=RS)
    assert intro.json() == {"active": False}
    again = (await shortcut(broker)).json()["access_token"]
    assert again != at


@pytest.mark.spec("N133")
async def test_revocation_of_unknown_token_is_200(broker: BrokerEnv) -> None:
    """RFC 7009 §2.2: invalid tokens do not cause an error response."""
    r = await broker.http.post("/as/revoke", data={"token": "whatever"}, headers=basic("agent-app"))
    assert r.status_code == 200


async def test_revocation_of_another_clients_token_is_refused(broker: BrokerEnv) -> None:
    """RFC 7009 §2.1: the server verifies the token was issued to the revoking client."""
    at = (await shortcut(broker)).json()["access_token"]
    r = await broker.http.post("/as/revoke", data={"token": at}, headers=basic("other-app"))
    assert_error(r, 400, "unauthorized_client", "The token was not issued to this client.")
    intro = await broker.http.post("/as/introspect", data={"token": at}, headers=RS)
    assert intro.json()["active"] is True


@pytest.mark.spec("L2-46", "OQ-3")
async def test_idempotent_reuse_mode_returns_the_same_token_for_the_same_id_jag(redis_url: str, tmp_path: Any) -> None:
    """DESIGN OQ-3 opt-in: re-presenting the same ID-JAG gets the same token, never a new one."""
    from redis.asyncio import Redis

    from broker.stores.redis import RedisStore
    from tests.broker_env import make_env

    client = Redis.from_url(redis_url)
    await client.flushdb()
    env = make_env(RedisStore(client), tmp_path, extra_toml='id_jag_reuse = "same-token"')
    try:
        jag = await env.id_jag()
        results = await asyncio.gather(*(env.leg2(jag) for _ in range(10)))
        assert {r.status_code for r in results} == {200}
        assert len({r.json()["access_token"] for r in results}) == 1
        stolen = await env.leg2(jag, auth=basic("other-app"))
        assert_error(
            stolen, 400, "invalid_grant", "The ID-JAG failed validation: The ID-JAG was issued to another client."
        )
    finally:
        await env.http.aclose()
        await env.store.close()
