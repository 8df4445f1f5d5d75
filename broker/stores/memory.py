"""In-process store: the same contract as Redis for one process (demo, single instance, tests).

State lives in this process only: replicas or several uvicorn workers would each keep their own
replay state, which defeats single use (RFC 7523 §3 item 7). ``broker serve`` refuses ``--workers > 1``
without Redis, and the app logs a warning when this store is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from broker.stores import Minter
from broker.stores._singleflight import SingleFlight

__all__ = ["MemoryStore"]

_SWEEP_EVERY = 1024


class MemoryStore:
    """Dictionaries with absolute expiry times; expired entries are swept lazily."""

    def __init__(self, *, now: Callable[[], float] = time.time, max_entries: int = 1_000_000) -> None:
        self._now = now
        self._max_entries = max_entries
        self._claims: dict[str, float] = {}
        self._cache: dict[str, tuple[float, int, bytes]] = {}
        self._revoked: dict[str, float] = {}
        self._jwks: dict[str, tuple[float, bytes]] = {}
        self._locks: dict[str, float] = {}
        self._state: dict[str, tuple[float, bytes]] = {}
        self._flight: SingleFlight[bytes] = SingleFlight()
        self._ops = 0

    def _tick(self) -> float:
        now = self._now()
        self._ops += 1
        if self._ops % _SWEEP_EVERY == 0:
            self._sweep(now)
        return now

    def _sweep(self, now: float) -> None:
        for table in (self._claims, self._revoked, self._locks):
            for k in [k for k, until in table.items() if until <= now]:
                del table[k]
        for k in [k for k, (until, _, _) in self._cache.items() if until <= now]:
            del self._cache[k]
        for k in [k for k, (until, _) in self._jwks.items() if until <= now]:
            del self._jwks[k]
        for k in [k for k, (until, _) in self._state.items() if until <= now]:
            del self._state[k]

    async def claim_once(self, key: str, ttl: int) -> bool:
        now = self._tick()
        until = self._claims.get(key)
        if until is not None and until > now:
            return False
        if len(self._claims) >= self._max_entries:
            self._sweep(now)
        self._claims[key] = now + ttl
        return True

    def _cached(self, key: str, now: float) -> tuple[int, bytes] | None:
        entry = self._cache.get(key)
        if entry is None or entry[0] <= now:
            return None
        return entry[1], entry[2]

    async def cache_get(self, key: str) -> bytes | None:
        hit = self._cached(key, self._tick())
        return None if hit is None else hit[1]

    async def cache_get_or_mint(self, key: str, mint: Minter, fresh_until: int) -> bytes:
        hit = self._cached(key, self._tick())
        if hit is not None and hit[0] >= fresh_until:
            return hit[1]

        async def fill() -> bytes:
            value, exp = await mint()
            now = self._now()
            if exp > now:
                self._cache[key] = (float(exp), exp, value)
            return value

        return await self._flight.do(key, fill)

    async def claim_then_get_or_mint(
        self, claim_key: str, ttl: int, key: str, mint: Minter, fresh_until: int
    ) -> bytes | None:
        if not await self.claim_once(claim_key, ttl):
            return None
        return await self.cache_get_or_mint(key, mint, fresh_until)

    async def cache_delete(self, key: str) -> None:
        self._cache.pop(key, None)

    async def revoke(self, jti: str, ttl: int, cache_key: str | None) -> None:
        self._revoked[jti] = self._tick() + ttl
        if cache_key is not None:
            self._cache.pop(cache_key, None)

    async def is_revoked(self, jti: str) -> bool:
        until = self._revoked.get(jti)
        return until is not None and until > self._tick()

    async def jwks_get(self, issuer: str) -> bytes | None:
        entry = self._jwks.get(issuer)
        return entry[1] if entry is not None and entry[0] > self._tick() else None

    async def jwks_put(self, issuer: str, value: bytes, ttl: int) -> None:
        self._jwks[issuer] = (self._tick() + ttl, value)

    async def try_lock(self, key: str, ttl_ms: int) -> bool:
        now = self._tick()
        until = self._locks.get(key)
        if until is not None and until > now:
            return False
        self._locks[key] = now + ttl_ms / 1000
        return True

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def state_put(self, key: str, value: bytes, ttl: int) -> None:
        self._state[key] = (self._tick() + max(ttl, 1), value)

    async def state_get(self, key: str) -> bytes | None:
        entry = self._state.get(key)
        return entry[1] if entry is not None and entry[0] > self._tick() else None

    async def state_take(self, key: str) -> bytes | None:
        entry = self._state.pop(key, None)
        return entry[1] if entry is not None and entry[0] > self._tick() else None
