"""Integration fixtures: the broker on a real Redis (flushed per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from broker.stores.redis import RedisStore
from tests.broker_env import BrokerEnv, make_env


@pytest.fixture
async def broker(redis_url: str, tmp_path: Path) -> AsyncIterator[BrokerEnv]:
    """The broker app with a RedisStore on the session's real redis-server."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    env = make_env(RedisStore(client), tmp_path)
    try:
        yield env
    finally:
        await env.http.aclose()
        await env.store.close()
        await client.aclose()
