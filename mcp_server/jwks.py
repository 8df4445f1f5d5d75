"""The broker's signing keys: fetched from its JWKS, cached in process, refetched rarely.

Never fetched per request (RFC 8725 §3.8 / checklist RS-06): the key set is reused until it is
``max_age`` old; an unknown ``kid`` triggers at most one refetch per ``refresh_interval``; a failed
fetch is not retried for ``failure_backoff``. Fetches have a timeout, a size cap and follow no
redirects (an SSRF and memory guard).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any, Final

import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, KeySet

from mcp_server._http import fetch_capped
from mcp_server.errors import VerifierUnavailable

__all__ = ["BrokerKeys", "parse_jwks"]

logger = logging.getLogger(__name__)

_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""Private or symmetric key material a public JWKS must not carry (RFC 7517 §8.1.1); never used."""
_KEY_TYPES: Final = frozenset({"EC", "RSA", "OKP"})


def parse_jwks(raw: bytes) -> KeySet:
    """Import the usable public signing keys of a JWKS document (RFC 7517 §5).

    Keys with ``use`` other than ``sig``, symmetric keys and keys that fail to import are skipped;
    private members are dropped before import.

    Raises:
        VerifierUnavailable: not a JWKS, or no usable key in it.
    """
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise VerifierUnavailable("JWKS is not JSON") from None
    entries = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise VerifierUnavailable("JWKS has no 'keys' array")
    keys = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") not in _KEY_TYPES or entry.get("use", "sig") != "sig":
            continue
        public: dict[str, Any] = {k: v for k, v in entry.items() if k not in _PRIVATE_MEMBERS}
        try:
            keys.append(JWKRegistry.import_key(public))
        except (JoseError, ValueError, TypeError):
            logger.warning("skipping a JWKS entry that does not import (kid %r)", str(entry.get("kid"))[:64])
    if not keys:
        raise VerifierUnavailable("JWKS has no usable signing key")
    return KeySet(keys)


class BrokerKeys:
    """The broker's current key set, shared by every service of the deployment."""

    def __init__(
        self,
        jwks_uri: str,
        http: httpx.AsyncClient,
        *,
        refresh_interval: float = 30.0,
        max_age: float = 3600.0,
        failure_backoff: float = 2.0,
        max_bytes: int = 65536,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uri = jwks_uri
        self._http = http
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._failure_backoff = failure_backoff
        self._max_bytes = max_bytes
        self._timeout = timeout
        self._clock = clock
        self._keys: KeySet | None = None
        self._generation = 0
        self._loaded_at = -math.inf
        self._attempted_at = -math.inf
        self._last_failed = False
        self._lock = asyncio.Lock()

    async def current(self) -> tuple[KeySet, int]:
        """The key set to verify with and its generation (pass it to :meth:`refresh_for_unknown_kid`).

        Raises:
            VerifierUnavailable: no key set could be loaded yet.
        """
        if self._keys is not None and self._clock() - self._loaded_at < self._max_age:
            return self._keys, self._generation
        async with self._lock:
            now = self._clock()
            fresh = self._keys is not None and now - self._loaded_at < self._max_age
            may_try = not self._last_failed or now - self._attempted_at >= self._failure_backoff
            if not fresh and may_try:
                try:
                    await self._load()
                except VerifierUnavailable:
                    if self._keys is None:
                        raise
                    # A stale set beats none: keep verifying with it until the broker answers again.
                    logger.warning("JWKS refresh failed; still using the key set loaded earlier")
            if self._keys is None:
                raise VerifierUnavailable("the broker's JWKS could not be loaded")
            return self._keys, self._generation

    async def refresh_for_unknown_kid(self, seen_generation: int) -> KeySet | None:
        """Refetch after a token named an unknown ``kid``, at most once per ``refresh_interval``.

        Returns:
            A newer key set, or None when the last fetch is too recent (the token is then refused).

        Raises:
            VerifierUnavailable: the refetch failed.
        """
        async with self._lock:
            if self._generation != seen_generation and self._keys is not None:
                return self._keys  # another request refreshed while this one waited
            if self._clock() - self._attempted_at < self._refresh_interval:
                return None
            await self._load()
            return self._keys

    async def _load(self) -> None:
        self._attempted_at = self._clock()
        try:
            keys = parse_jwks(await self._fetch())
        except VerifierUnavailable as exc:
            self._last_failed = True
            logger.warning("cannot load the broker's JWKS from %s: %s", self._uri, exc.reason)
            raise
        self._keys = keys
        self._generation += 1
        self._loaded_at = self._attempted_at
        self._last_failed = False

    async def _fetch(self) -> bytes:
        status, body = await fetch_capped(
            self._http,
            "GET",
            self._uri,
            what="JWKS",
            max_bytes=self._max_bytes,
            timeout=self._timeout,
            headers={"Accept": "application/json"},
        )
        if status != 200:
            raise VerifierUnavailable(f"JWKS endpoint answered HTTP {status}")
        return body
