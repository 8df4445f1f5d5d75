"""Session fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from tests.redis_server import RedisClusterNodes, RedisServer, spawn_redis, spawn_redis_cluster


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | None]:
    """A real Redis owned by this session; None when ``XAA_TEST_REDIS_URL`` points at an external one."""
    if os.environ.get("XAA_TEST_REDIS_URL"):
        yield None
        return
    server = spawn_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer | None) -> str:
    """URL of the session's real Redis."""
    return os.environ.get("XAA_TEST_REDIS_URL") or (redis_server.url if redis_server else "")


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    """A client on a flushed database (tests never share keys)."""
    client = Redis.from_url(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def outage_redis() -> Iterator[RedisServer]:
    """A private redis-server that a test may stop and restart (fail-closed tests)."""
    server = spawn_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterNodes]:
    """A real three-master Redis Cluster on loopback, started once per session (``[redis] mode = "cluster"``)."""
    cluster = spawn_redis_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()
