"""One contract, two stores: the in-process store and Redis behave the same (STYLE: ports and adapters)."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import Connection

from broker.errors import InvalidGrant, StoreUnavailable
from broker.settings import parse_settings
from broker.stores import Store
from broker.stores.memory import MemoryStore
from broker.stores.redis import RedisStore, build_redis_store
from tests.redis_server import RedisClusterNodes


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def store(request: pytest.FixtureRequest, redis_client: Redis) -> AsyncIterator[Store]:
    """The same contract on the in-process store, one Redis, and a three-master Redis Cluster."""
    s: Store
    if request.param == "memory":
        s = MemoryStore()
    elif request.param == "redis":
        s = RedisStore(Redis(connection_pool=redis_client.connection_pool))
    else:
        cluster: RedisClusterNodes = request.getfixturevalue("redis_cluster")
        nodes = RedisCluster.from_url(cluster.url)
        await nodes.flushall(target_nodes=RedisCluster.PRIMARIES)
        s = RedisStore(nodes)
    yield s
    await s.close()


class Minter:
    """Counts mints; each mint returns a new value valid for ``ttl`` seconds."""

    def __init__(self, ttl: int = 300, delay: float = 0.01) -> None:
        self.calls = 0
        self.ttl = ttl
        self.delay = delay

    async def __call__(self) -> tuple[bytes, int]:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return b"token-%d" % self.calls, int(time.time()) + self.ttl


@pytest.mark.spec("L2-40")
async def test_a_jti_is_claimed_exactly_once_under_concurrency(store: Store) -> None:
    results = await asyncio.gather(*(store.claim_once("jti-1", 60) for _ in range(50)))
    assert results.count(True) == 1
    assert await store.claim_once("jti-2", 60) is True


async def test_concurrent_identical_requests_mint_once(store: Store) -> None:
    mint = Minter()
    values = await asyncio.gather(*(store.cache_get_or_mint("k", mint, int(time.time())) for _ in range(20)))
    assert mint.calls == 1
    assert set(values) == {b"token-1"}
    assert await store.cache_get("k") == b"token-1"


@pytest.mark.spec("L2-40")
async def test_claim_then_get_or_mint_claims_first_and_a_replay_gets_nothing(store: Store) -> None:
    """One-round-trip redemption: a won claim gets the cached or new value; a replay gets None, caches nothing."""
    mint = Minter()
    first = await store.claim_then_get_or_mint("jti-1", 60, "k", mint, int(time.time()))
    assert first == b"token-1"
    assert await store.claim_then_get_or_mint("jti-1", 60, "k", mint, int(time.time())) is None
    assert await store.cache_get("k") == b"token-1"
    assert await store.claim_then_get_or_mint("jti-2", 60, "k", mint, int(time.time())) == b"token-1"
    renewed = await store.claim_then_get_or_mint("jti-3", 60, "k", mint, int(time.time()) + 1000)
    assert renewed not in (None, b"token-1")
    assert await store.cache_get("k") == renewed
    assert not await store.claim_once("jti-2", 60)


async def test_claim_then_get_or_mint_under_concurrency_one_winner_per_jti_one_token_per_key(store: Store) -> None:
    """Concurrent redemptions: one winner per jti; every winner for one cache key gets the same token."""
    mint = Minter()
    now = int(time.time())
    same_jti = await asyncio.gather(*(store.claim_then_get_or_mint("jti-x", 60, "k", mint, now) for _ in range(20)))
    winners = [v for v in same_jti if v is not None]
    assert len(winners) == 1
    assert await store.cache_get("k") == winners[0]
    many = await asyncio.gather(*(store.claim_then_get_or_mint(f"jti-{i}", 60, "k2", mint, now) for i in range(20)))
    assert len(set(many)) == 1
    assert None not in many
    assert await store.cache_get("k2") == many[0]


async def test_a_cached_value_too_close_to_expiry_is_reminted(store: Store) -> None:
    mint = Minter(ttl=100)
    first = await store.cache_get_or_mint("k", mint, int(time.time()))
    again = await store.cache_get_or_mint("k", mint, int(time.time()) + 50)
    assert again == first
    fresh = await store.cache_get_or_mint("k", mint, int(time.time()) + 200)
    assert fresh != first
    assert mint.calls == 2


async def test_a_failed_mint_reaches_every_waiter_and_caches_nothing(store: Store) -> None:
    async def refuse() -> tuple[bytes, int]:
        await asyncio.sleep(0.01)
        raise InvalidGrant("The ID-JAG has already been used.")

    results = await asyncio.gather(*(store.cache_get_or_mint("k", refuse, 0) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, InvalidGrant) for r in results)
    assert await store.cache_get("k") is None


async def test_revocation_denylists_the_jti_and_drops_the_cached_token(store: Store) -> None:
    await store.cache_get_or_mint("k", Minter(), 0)
    assert not await store.is_revoked("jti-9")
    await store.revoke("jti-9", 60, "k")
    assert await store.is_revoked("jti-9")
    assert await store.cache_get("k") is None


async def test_jwks_documents_and_locks_are_shared(store: Store) -> None:
    assert await store.jwks_get("https://idp.example") is None
    await store.jwks_put("https://idp.example", b'{"keys":[]}', 60)
    assert await store.jwks_get("https://idp.example") == b'{"keys":[]}'
    assert await store.try_lock("refresh", 10_000) is True
    assert await store.try_lock("refresh", 10_000) is False


async def test_memory_store_entries_expire_on_its_clock() -> None:
    now = [1000.0]
    store = MemoryStore(now=lambda: now[0])
    assert await store.claim_once("jti", 10)
    assert not await store.claim_once("jti", 10)
    now[0] += 11
    assert await store.claim_once("jti", 10)  # the replay window is the token's lifetime, then memory is freed


async def test_redis_entries_carry_a_ttl(redis_client: Redis) -> None:
    store = RedisStore(Redis(connection_pool=redis_client.connection_pool), prefix="t")
    await store.claim_once("jti", 42)
    keys = [k async for k in redis_client.scan_iter("t:jti:*")]
    assert len(keys) == 1
    assert 0 < await redis_client.ttl(keys[0]) <= 42


async def test_two_replicas_on_one_redis_mint_once(redis_client: Redis) -> None:
    """Across replicas the mint lock makes the second replica wait for the first one's token."""
    a = RedisStore(Redis(connection_pool=redis_client.connection_pool))
    b = RedisStore(Redis(connection_pool=redis_client.connection_pool))
    mint = Minter(delay=0.1)
    values = await asyncio.gather(a.cache_get_or_mint("k", mint, 0), b.cache_get_or_mint("k", mint, 0))
    assert mint.calls == 1
    assert values[0] == values[1]


@pytest.mark.spec("N92")
async def test_an_unreachable_redis_raises_store_unavailable_fast() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        settings = parse_settings(f'public_url = "http://127.0.0.1:8000"\nredis_url = "redis://127.0.0.1:{port}/0"\n')
        store = build_redis_store(settings.settings)
        try:
            with pytest.raises(StoreUnavailable):
                await store.claim_once("jti", 60)
            with pytest.raises(StoreUnavailable):
                await store.claim_then_get_or_mint("jti", 60, "k", Minter(), 0)
            with pytest.raises(StoreUnavailable):
                await store.ping()
        finally:
            await store.close()


async def test_kept_state_is_taken_by_exactly_one_caller(store: Store) -> None:
    """Authorization codes and sign-ins in progress are single use (RFC 6749 §4.1.2)."""
    await store.state_put("code-1", b"record", 60)
    assert await store.state_get("code-1") == b"record"
    taken = await asyncio.gather(*(store.state_take("code-1") for _ in range(20)))
    assert taken.count(b"record") == 1
    assert taken.count(None) == 19
    assert await store.state_get("code-1") is None


async def test_kept_state_expires_with_its_ttl() -> None:
    now = [1000.0]
    store = MemoryStore(now=lambda: now[0])
    await store.state_put("txn", b"v", 10)
    now[0] += 11
    assert await store.state_get("txn") is None
    assert await store.state_take("txn") is None


async def test_redis_state_carries_a_ttl(redis_client: Redis) -> None:
    store = RedisStore(Redis(connection_pool=redis_client.connection_pool), prefix="t2")
    await store.state_put("txn", b"v", 33)
    keys = [k async for k in redis_client.scan_iter("t2:st:*")]
    assert len(keys) == 1
    assert 0 < await redis_client.ttl(keys[0]) <= 33


async def test_concurrent_script_calls_share_one_pipeline_and_survive_a_script_cache_flush(redis_client: Redis) -> None:
    """Auto-pipelining: calls made together go out as one round trip; NOSCRIPT (Redis restarted) falls back per call."""
    client = Redis(connection_pool=redis_client.connection_pool)
    store = RedisStore(client)
    pool = client.connection_pool
    round_trips = 0
    checkout: Any = pool.get_connection

    async def counting_checkout(*args: Any, **kwargs: Any) -> Any:
        nonlocal round_trips
        round_trips += 1
        return await checkout(*args, **kwargs)

    pool.get_connection = counting_checkout  # type: ignore[method-assign]
    try:
        await redis_client.script_flush()
        round_trips = 0
        counter = itertools.count()

        async def mint() -> tuple[bytes, int]:
            return b"t%d" % next(counter), int(time.time()) + 300

        now = int(time.time())
        values = await asyncio.gather(
            *(store.claim_then_get_or_mint(f"j{i}", 60, f"k{i % 3}", mint, now) for i in range(30))
        )
        assert None not in values
        assert len(set(values)) == 3  # one token per cache key, whichever call won it
        round_trips = 0
        replays = await asyncio.gather(*(store.claim_then_get_or_mint(f"j{i}", 60, "k0", mint, now) for i in range(30)))
        assert replays == [None] * 30
        assert round_trips == 1  # the script is loaded now: one write and one read for all thirty
    finally:
        del pool.get_connection


async def test_a_round_trip_failing_half_way_fails_every_call_in_it_closed(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fail closed: when the batch's connection dies after some replies, every caller in it gets
    StoreUnavailable, none a token, and the half-read connection is not reused."""
    client = Redis(connection_pool=redis_client.connection_pool)
    store = RedisStore(client)
    now = int(time.time())
    await store.claim_then_get_or_mint("warm", 60, "k", Minter(delay=0), now)  # the script is loaded
    read = Connection.read_response
    reads = 0

    async def dies_after_two_replies(self: Connection, *args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        if reads > 2:
            raise ConnectionError("redis went away")
        return await read(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "read_response", dies_after_two_replies)
    results = await asyncio.gather(
        *(store.claim_then_get_or_mint(f"x{i}", 60, "k", Minter(delay=0), now) for i in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreUnavailable) for r in results), results
    monkeypatch.setattr(Connection, "read_response", read)
    # The next call gets a clean connection: its reply is its own, not one left over from the dead batch.
    assert await store.claim_then_get_or_mint("after", 60, "k2", Minter(delay=0), now) is not None
    assert await store.claim_then_get_or_mint("x0", 60, "k", Minter(delay=0), now) is None  # x0 was claimed
