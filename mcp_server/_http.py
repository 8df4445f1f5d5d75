"""Outbound calls to the broker: timeout, no redirects, and a cap on what is read."""

from __future__ import annotations

from typing import Any

import httpx

from mcp_server.errors import VerifierUnavailable

__all__ = ["fetch_capped"]


async def fetch_capped(
    http: httpx.AsyncClient, method: str, url: str, *, what: str, max_bytes: int, timeout: float, **kwargs: Any
) -> tuple[int, bytes]:
    """Send one request and read at most ``max_bytes`` of the answer.

    Raises:
        VerifierUnavailable: transport failure, or a body larger than ``max_bytes``.
    """
    body = bytearray()
    try:
        async with http.stream(method, url, timeout=timeout, follow_redirects=False, **kwargs) as resp:
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise VerifierUnavailable(f"{what} response larger than {max_bytes} bytes")
            return resp.status_code, bytes(body)
    except httpx.HTTPError as exc:
        raise VerifierUnavailable(f"{what} request failed: {type(exc).__name__}") from None
