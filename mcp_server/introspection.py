"""Optional revocation check: RFC 7662 introspection at the broker, cached, never per request uncached.

A token the broker calls ``active: true`` is not asked about again for ``cache_ttl`` seconds (the
longest a revocation can lag); one it calls inactive stays refused until it expires. Concurrent
requests with the same token share one introspection call. If the broker cannot answer, the
token is not accepted (fail closed: EMA §7.5.4, RFC 7662 §4).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Final

import httpx

from broker.client.agent import basic_credentials
from mcp_server._http import fetch_capped
from mcp_server.errors import TokenRejected, VerifierUnavailable

__all__ = ["IntrospectionRevocation"]

logger = logging.getLogger(__name__)

_MAX_RESPONSE_BYTES: Final = 65536


class IntrospectionRevocation:
    """Asks the broker whether tokens are still active, remembering the answers."""

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: str,
        http: httpx.AsyncClient,
        *,
        cache_ttl: float = 30.0,
        timeout: float = 2.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._endpoint = endpoint
        self._authorization = basic_credentials(client_id, client_secret)
        self._http = http
        self._cache_ttl = cache_ttl
        self._timeout = timeout
        self._max_entries = max_entries
        self._clock = clock
        self._answers: dict[bytes, tuple[bool, float]] = {}
        self._inflight: dict[bytes, asyncio.Future[bool]] = {}

    def __repr__(self) -> str:
        return f"IntrospectionRevocation({self._endpoint!r})"

    async def ensure_active(self, token: str, expires_at: float) -> None:
        """Pass if the broker considers the token active (answer cached).

        Raises:
            TokenRejected: the broker says the token is not active (revoked).
            VerifierUnavailable: the broker could not be asked.
        """
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._answers.get(key)
        if cached is not None and cached[1] > now:
            active = cached[0]
        else:
            active = await self._ask_once(key, token)
            until = min(now + self._cache_ttl, expires_at) if active else expires_at
            self._remember(key, active, until)
        if not active:
            raise TokenRejected("the broker reports the token inactive (revoked)")

    async def _ask_once(self, key: bytes, token: str) -> bool:
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            active = await self._introspect(token)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: there may be no waiter
            raise
        else:
            future.set_result(active)
            return active
        finally:
            del self._inflight[key]

    def _remember(self, key: bytes, active: bool, until: float) -> None:
        if len(self._answers) >= self._max_entries:
            now = self._clock()
            for k in [k for k, (_, exp) in self._answers.items() if exp <= now]:
                del self._answers[k]
            while len(self._answers) >= self._max_entries:
                del self._answers[next(iter(self._answers))]
        self._answers[key] = (active, until)

    async def _introspect(self, token: str) -> bool:
        """RFC 7662 §2.1 request; §2.2 response, of which only ``active`` is trusted."""
        status, raw = await fetch_capped(
            self._http,
            "POST",
            self._endpoint,
            what="introspection",
            max_bytes=_MAX_RESPONSE_BYTES,
            timeout=self._timeout,
            data={"token": token, "token_type_hint": "access_token"},
            headers={"Authorization": self._authorization, "Accept": "application/json"},
        )
        if status != 200:
            raise VerifierUnavailable(f"introspection answered HTTP {status}")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise VerifierUnavailable("introspection response is not JSON") from None
        active = body.get("active") if isinstance(body, dict) else None
        if not isinstance(active, bool):
            raise VerifierUnavailable("introspection response has no boolean 'active'")
        return active
