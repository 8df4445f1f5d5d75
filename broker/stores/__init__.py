"""Storage ports: narrow Protocols, implemented in memory and on Redis, one contract suite for both.

Every implementation raises :class:`broker.errors.StoreUnavailable` when it cannot reach its
backend; nothing catches that and goes on (fail closed, STYLE P8).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

__all__ = ["Minter", "Store"]


Minter = Callable[[], Awaitable[tuple[bytes, int]]]
"""Mints a token when the cache misses: returns (value to cache, absolute expiry as epoch seconds)."""


class Store(Protocol):
    """All shared state the broker needs, behind one narrow interface.

    Keys passed in are logical (the broker hashes identifiers itself); implementations add their
    namespace. Every method raises ``StoreUnavailable`` when the backend cannot be reached.
    """

    async def claim_once(self, key: str, ttl: int) -> bool:
        """Atomically mark ``key`` used for ``ttl`` seconds; True only for the first caller (RFC 7523 §3 item 7)."""
        ...

    async def cache_get(self, key: str) -> bytes | None:
        """Return the cached value, or None."""
        ...

    async def cache_get_or_mint(self, key: str, mint: Minter, fresh_until: int) -> bytes:
        """Return a cached value whose expiry is at least ``fresh_until`` (epoch seconds), or mint once.

        The caller owns the clock: it passes ``now + min_remaining``, so the store never judges freshness.

        Concurrent identical requests (same ``key``) mint once: in-process by single-flight, across
        replicas by a short lock, falling back to minting if the holder does not publish in time.
        """
        ...

    async def claim_then_get_or_mint(
        self, claim_key: str, ttl: int, key: str, mint: Minter, fresh_until: int
    ) -> bytes | None:
        """:meth:`claim_once` on ``claim_key``, then, only if it was won, :meth:`cache_get_or_mint`.

        Returns None when ``claim_key`` was already claimed (a replay): nothing is returned or cached.
        An implementation may call ``mint`` before the claim is decided (the Redis store does, so that
        claim, cache read and cache write take one round trip); a value minted for a lost claim or a
        cache hit is dropped, never returned or stored.
        """
        ...

    async def cache_delete(self, key: str) -> None:
        """Remove a cached value (used on revocation)."""
        ...

    async def revoke(self, jti: str, ttl: int, cache_key: str | None) -> None:
        """Deny-list ``jti`` for ``ttl`` seconds and drop the cache entry that may hold it."""
        ...

    async def is_revoked(self, jti: str) -> bool:
        """Whether ``jti`` is on the deny-list."""
        ...

    async def jwks_get(self, issuer: str) -> bytes | None:
        """Shared copy of a remote JWKS document (with its fetch time, encoded by the caller)."""
        ...

    async def jwks_put(self, issuer: str, value: bytes, ttl: int) -> None:
        """Publish a fetched JWKS document to every replica."""
        ...

    async def try_lock(self, key: str, ttl_ms: int) -> bool:
        """Best-effort short lock (e.g. one JWKS refetch per interval); True if acquired."""
        ...

    async def state_put(self, key: str, value: bytes, ttl: int) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds (sign-ins in progress, codes, refresh tokens)."""
        ...

    async def state_get(self, key: str) -> bytes | None:
        """Return the value kept under ``key``, or None once it expired or was taken."""
        ...

    async def state_take(self, key: str) -> bytes | None:
        """Atomically return and remove the value under ``key``: exactly one caller gets it."""
        ...

    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the backend answers (readiness probe)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
