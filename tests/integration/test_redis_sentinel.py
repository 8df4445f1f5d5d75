"""The broker on Redis Sentinel (``[redis] mode = "sentinel"``): a primary, a replica, a Sentinel, a failover."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from broker.settings import parse_settings
from broker.stores.redis import build_redis_store
from tests.broker_env import BrokerEnv, assert_error, make_env
from tests.redis_server import RedisSentinelSet, redis_cli, spawn_redis_sentinel

USED = "The ID-JAG has already been used."
UNAVAILABLE = "Token state is temporarily unavailable; no token was issued. Retry later."


@pytest.fixture
async def sentinel_broker(tmp_path: Path) -> AsyncIterator[tuple[BrokerEnv, RedisSentinelSet]]:
    """A broker whose store is built from settings exactly as in production, through the Sentinel."""
    group = spawn_redis_sentinel()
    toml = (
        'public_url = "http://127.0.0.1:8000"\n[redis]\nmode = "sentinel"\n'
        f'sentinels = ["127.0.0.1:{group.sentinel.port}"]\nservice_name = "{group.service}"\nwait_replicas = 1\n'
    )
    env = make_env(build_redis_store(parse_settings(toml).settings), tmp_path)
    try:
        yield env, group
    finally:
        await env.http.aclose()
        await env.store.close()
        group.stop()


async def _until_issued(env: BrokerEnv, deadline: float) -> httpx.Response:
    """Redeem new ID-JAGs until one succeeds; meanwhile every answer must be a clean 503 (fail closed)."""
    while True:
        r = await env.leg2(await env.id_jag())
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        assert_error(r, 503, "temporarily_unavailable", UNAVAILABLE)
        await asyncio.sleep(0.1)


@pytest.mark.spec("L2-40", "OQ-18")
async def test_single_use_holds_across_a_sentinel_failover(sentinel_broker: tuple[BrokerEnv, RedisSentinelSet]) -> None:
    """A jti recorded before the failover (``wait_replicas = 1``: on the replica too) is still spent after it."""
    env, group = sentinel_broker
    jag = await env.id_jag()
    first = await env.leg2(jag)
    assert first.status_code == 200, first.text
    assert_error(await env.leg2(jag), 400, "invalid_grant", USED)

    old = group.primary.port
    assert redis_cli(group.sentinel.port, "sentinel", "failover", group.service) == "OK"
    deadline = time.monotonic() + 30
    while group.primary_port() in (old, 0) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert group.primary_port() == group.replica.port

    after = await _until_issued(env, time.monotonic() + 30)  # the client finds the new primary
    assert after.status_code == 200, after.text
    assert "role:master" in redis_cli(group.replica.port, "info", "replication")
    assert_error(await env.leg2(jag), 400, "invalid_grant", USED)  # replay refused on the new primary
