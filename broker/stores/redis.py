"""Redis store (redis-py asyncio): replay state, token cache, JWKS cache, revocation shared by replicas.

Every Redis error becomes :class:`~broker.errors.StoreUnavailable` (503 ``temporarily_unavailable``):
the broker never issues a token it could not record (fail closed, checklist L2-42). The client is built
to fail fast (one attempt, short timeouts, LIBRARIES §4.2) so an outage costs milliseconds, not seconds.

Keys are ``{prefix}:{kind}:{hash}``; a cache entry and its mint lock share a hash tag so that a Redis
Cluster keeps them in one slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from broker.errors import StoreUnavailable
from broker.settings import BrokerSettings
from broker.stores import Minter
from broker.stores._batch import ScriptBatcher
from broker.stores._singleflight import SingleFlight

__all__ = ["RedisStore", "build_redis_store"]

_log = logging.getLogger("xaa.store")

_MINT_LOCK_MS = 2000
"""How long another replica's mint may hold the lock before we mint ourselves."""
_WAIT_STEP = 0.01
_WAIT_STEPS = 100

_LOOKUP = """
-- KEYS: cache entry, its mint lock. ARGV: fresh_until, lock ms.
-- Returns {value} on a fresh hit, {'', got_lock} on a miss.
local v = redis.call('GET', KEYS[1])
if v then
  local exp = tonumber(string.match(v, '^(%d+):'))
  if exp and exp >= tonumber(ARGV[1]) then return {v} end
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return {'', 1} end
return {'', 0}
"""
"""One round trip to read the cache and, on a miss, take the mint lock."""

_PUBLISH = """
-- KEYS: cache entry, its mint lock. ARGV: framed value, ttl (none cached if <= 0), 1 to release the lock.
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
if ARGV[3] == '1' then redis.call('DEL', KEYS[2]) end
return 1
"""
"""After a mint: cache the token and release the mint lock, batched with other requests' scripts."""

_REDEEM = """
-- KEYS: the jti to claim, the cache entry. ARGV: jti ttl, fresh_until, framed new value, its ttl.
-- Returns {0} if the jti was already claimed; else {1, cached value} or {1, new value} (now cached).
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {0} end
local v = redis.call('GET', KEYS[2])
if v then
  local exp = tonumber(string.match(v, '^(%d+):'))
  if exp and exp >= tonumber(ARGV[2]) then return {1, v} end
end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4]) end
return {1, ARGV[3]}
"""
"""One round trip per redemption: claim the jti, then answer from the cache or cache the token minted for it."""


@asynccontextmanager
async def _unavailable_on_error(op: str) -> AsyncIterator[None]:
    """Map every Redis/socket failure to StoreUnavailable (logged without keys or values)."""
    try:
        yield
    except (TimeoutError, RedisError, OSError) as exc:
        _log.warning("redis %s failed: %s", op, type(exc).__name__)
        raise StoreUnavailable(detail=f"redis {op}: {type(exc).__name__}") from None


def _frame(exp: int, value: bytes) -> bytes:
    return b"%d:" % exp + value


def _unframe(raw: bytes) -> tuple[int, bytes]:
    head, _, value = raw.partition(b":")
    return int(head), value


class RedisStore:
    """The :class:`~broker.stores.Store` contract on one Redis (standalone, Sentinel master or Cluster).

    Args:
        client: a ``redis.asyncio`` client (or ``RedisCluster``); the store owns and closes it.
        prefix: namespace for every key.
        wait_replicas: if > 0, ``WAIT`` for that many replicas after consuming a ``jti``, narrowing the
            window in which a failover could forget it (DESIGN OQ-18).
        now: clock used only to turn absolute expiries into Redis TTLs.
        also_close: other clients the store owns (a Sentinel's own connections), closed with it.
    """

    def __init__(
        self,
        client: Redis | RedisCluster,
        *,
        prefix: str = "xaa",
        wait_replicas: int = 0,
        now: Callable[[], float] = time.time,
        also_close: Sequence[Redis] = (),
    ) -> None:
        self._r: Any = client
        self._also_close = tuple(also_close)
        self._p = prefix
        self._wait_replicas = wait_replicas
        self._now = now
        self._flight: SingleFlight[bytes] = SingleFlight()
        self._cluster = isinstance(client, RedisCluster)
        self._batch = None if self._cluster else ScriptBatcher(client)
        self._scripts = {
            script: hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis names scripts by SHA-1
            for script in (_LOOKUP, _PUBLISH, _REDEEM)
        }

    def _k(self, kind: str, key: str) -> str:
        return f"{self._p}:{kind}:{{{key}}}"

    async def claim_once(self, key: str, ttl: int) -> bool:
        async with _unavailable_on_error("claim"):
            won = bool(await self._r.set(self._k("jti", key), b"1", nx=True, ex=max(ttl, 1)))
            if won:
                await self._wait_for_replicas()
            return won

    async def _wait_for_replicas(self) -> None:
        if self._wait_replicas > 0:
            acked = await self._r.execute_command("WAIT", self._wait_replicas, 100)
            if int(acked) < self._wait_replicas:
                _log.warning("jti recorded on %s of %s replicas", acked, self._wait_replicas)

    async def _get_framed(self, key: str) -> tuple[int, bytes] | None:
        async with _unavailable_on_error("cache get"):
            raw = await self._r.get(self._k("at", key))
        return None if raw is None else _unframe(raw)

    async def cache_get(self, key: str) -> bytes | None:
        hit = await self._get_framed(key)
        return None if hit is None else hit[1]

    async def _run(self, script: str, op: str, keys: list[str], args: list[int | bytes]) -> list[Any]:
        """EVALSHA ``script`` (auto-pipelined with concurrent calls), loading it on ``NOSCRIPT``.

        Redis errors become StoreUnavailable.
        """
        async with _unavailable_on_error(op):
            if self._batch is not None:
                batched: list[Any] = await self._batch.evalsha(script, self._scripts[script], keys, args)
                return batched
            try:
                reply: list[Any] = await self._r.evalsha(self._scripts[script], len(keys), *keys, *args)
            except NoScriptError:
                reply = await self._r.eval(script, len(keys), *keys, *args)
        return reply

    async def cache_get_or_mint(self, key: str, mint: Minter, fresh_until: int) -> bytes:
        keys = [self._k("at", key), self._k("mint", key)]
        reply = await self._run(_LOOKUP, "cache lookup", keys, [fresh_until, _MINT_LOCK_MS])
        if reply[0]:
            return _unframe(reply[0])[1]
        have_lock = bool(reply[1])
        # Callers in this process that miss meanwhile join this mint. (A caller whose miss is handled
        # first without the lock waits for the holder, as another replica would, then mints itself.)
        return await self._flight.do(key, lambda: self._mint_across_replicas(key, mint, fresh_until, have_lock))

    async def claim_then_get_or_mint(
        self, claim_key: str, ttl: int, key: str, mint: Minter, fresh_until: int
    ) -> bytes | None:
        if self._cluster:
            # The jti and the cache entry hash to different slots: a Cluster cannot run them in one script.
            if not await self.claim_once(claim_key, ttl):
                return None
            return await self.cache_get_or_mint(key, mint, fresh_until)
        # Mint first (a signature costs less than a round trip), then claim, read and write in one script.
        # The new token is returned only if the claim is won and no fresh token was cached; else dropped.
        value, exp = await mint()
        keys = [self._k("jti", claim_key), self._k("at", key)]
        args: list[int | bytes] = [max(ttl, 1), fresh_until, _frame(exp, value), int(exp - self._now())]
        reply = await self._run(_REDEEM, "redeem", keys, args)
        if not reply[0]:
            return None
        async with _unavailable_on_error("claim"):
            await self._wait_for_replicas()
        return _unframe(reply[1])[1]

    async def _mint_across_replicas(self, key: str, mint: Minter, fresh_until: int, have_lock: bool) -> bytes:
        """The lock holder mints; the others wait briefly for its value, then mint themselves."""
        lock = self._k("mint", key)
        if not have_lock:
            for _ in range(_WAIT_STEPS):
                await asyncio.sleep(_WAIT_STEP)
                hit = await self._get_framed(key)
                if hit is not None and hit[0] >= fresh_until:
                    return hit[1]
        value, exp = await mint()
        ttl = int(exp - self._now())
        await self._run(_PUBLISH, "cache set", [self._k("at", key), lock], [_frame(exp, value), ttl, int(have_lock)])
        return value

    async def cache_delete(self, key: str) -> None:
        async with _unavailable_on_error("cache delete"):
            await self._r.delete(self._k("at", key))

    async def revoke(self, jti: str, ttl: int, cache_key: str | None) -> None:
        async with _unavailable_on_error("revoke"):
            pipe = self._r.pipeline(transaction=False)
            pipe.set(self._k("rev", jti), b"1", ex=max(ttl, 1))
            if cache_key is not None:
                pipe.delete(self._k("at", cache_key))
            await pipe.execute()

    async def is_revoked(self, jti: str) -> bool:
        async with _unavailable_on_error("revocation check"):
            return bool(await self._r.exists(self._k("rev", jti)))

    async def jwks_get(self, issuer: str) -> bytes | None:
        async with _unavailable_on_error("jwks get"):
            raw = await self._r.get(self._k("jwks", issuer))
        return None if raw is None else bytes(raw)

    async def jwks_put(self, issuer: str, value: bytes, ttl: int) -> None:
        async with _unavailable_on_error("jwks put"):
            await self._r.set(self._k("jwks", issuer), value, ex=max(ttl, 1))

    async def try_lock(self, key: str, ttl_ms: int) -> bool:
        async with _unavailable_on_error("lock"):
            return bool(await self._r.set(self._k("lock", key), b"1", nx=True, px=max(ttl_ms, 1)))

    async def ping(self) -> None:
        async with _unavailable_on_error("ping"):
            await self._r.ping()

    async def close(self) -> None:
        for client in (self._r, *self._also_close):
            with contextlib.suppress(RedisError, OSError):  # closing a dead connection
                await client.aclose()

    async def state_put(self, key: str, value: bytes, ttl: int) -> None:
        async with _unavailable_on_error("state put"):
            await self._r.set(self._k("st", key), value, ex=max(ttl, 1))

    async def state_get(self, key: str) -> bytes | None:
        async with _unavailable_on_error("state get"):
            raw = await self._r.get(self._k("st", key))
        return None if raw is None else bytes(raw)

    async def state_take(self, key: str) -> bytes | None:
        async with _unavailable_on_error("state take"):
            raw = await self._r.getdel(self._k("st", key))
        return None if raw is None else bytes(raw)


def build_redis_store(settings: BrokerSettings) -> RedisStore:
    """The production client: fail-fast (one attempt, short timeouts), pool sized for concurrency."""
    r = settings.redis
    common: dict[str, Any] = {
        "socket_timeout": r.socket_timeout,
        "socket_connect_timeout": r.socket_timeout,
        "retry": Retry(NoBackoff(), 1),
        "max_connections": r.max_connections,
    }
    client: Redis | RedisCluster
    sentinels: list[Redis] = []
    if r.mode == "sentinel":
        sentinel = Sentinel(  # type: ignore[no-untyped-call]
            [(h.rpartition(":")[0], int(h.rpartition(":")[2])) for h in r.sentinels],
            socket_timeout=r.socket_timeout,
        )
        client = sentinel.master_for(r.service_name, **common)
        sentinels = list(sentinel.sentinels)  # its connections to the Sentinels: the store closes them too
    elif r.mode == "cluster":
        assert settings.redis_url is not None  # noqa: S101 - validated in settings
        common.pop("max_connections")
        client = RedisCluster.from_url(settings.redis_url, **common)
    else:
        assert settings.redis_url is not None  # noqa: S101 - validated in settings
        client = Redis.from_url(settings.redis_url, health_check_interval=10, **common)
    return RedisStore(client, prefix=r.key_prefix, wait_replicas=r.wait_replicas, also_close=sentinels)
