"""Fetch a small JSON document from a URL someone else controls (JWKS, discovery, client metadata).

One hygiene for every outbound fetch (RFC 8725bis §3.8, CIMD-02 security considerations): a total
timeout, no redirects, only ``200``, a size cap on both the declared and the streamed length, and a
JSON object or nothing. Failures raise :class:`FetchFailed` whose message is safe to log.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

__all__ = ["FetchFailed", "cache_max_age", "fetch_json"]

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.IGNORECASE)


class FetchFailed(Exception):
    """A fetch failed; the message is safe to log (it never holds the response body)."""


async def fetch_json(
    http: httpx.AsyncClient, url: str, *, timeout: float, max_bytes: int
) -> tuple[dict[str, Any], str | None]:
    """GET ``url`` and return its JSON object and its ``Cache-Control`` header.

    Args:
        http: the client; redirects are refused whatever its own setting.
        url: the document's URL (checked by the caller).
        timeout: seconds for the whole exchange (connect, headers and body).
        max_bytes: largest body accepted, by ``Content-Length`` and while streaming.

    Raises:
        FetchFailed: timeout, transport error, status other than 200, too large, not a JSON object.
    """
    body = bytearray()
    try:
        async with asyncio.timeout(timeout):
            async with http.stream(
                "GET", url, headers={"Accept": "application/json"}, follow_redirects=False
            ) as response:
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code}")
                cache_control = response.headers.get("cache-control")
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                    raise FetchFailed(f"document larger than {max_bytes} bytes")
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchFailed(f"document larger than {max_bytes} bytes")
    except TimeoutError:
        raise FetchFailed("timed out") from None
    except httpx.HTTPError as exc:
        raise FetchFailed(type(exc).__name__) from None
    try:
        doc = json.loads(body)
    except ValueError:
        raise FetchFailed("not JSON") from None
    if not isinstance(doc, dict):
        raise FetchFailed("not a JSON object")
    return doc, cache_control


def cache_max_age(cache_control: str | None) -> int | None:
    """Seconds a response may be reused per its ``Cache-Control`` (RFC 9111 §5.2.2), or None if it does not say.

    ``no-cache`` and ``no-store`` count as ``0`` (we never revalidate, so no-cache means refetch).
    """
    if not cache_control:
        return None
    if _NO_CACHE.search(cache_control):
        return 0
    m = _MAX_AGE.search(cache_control)
    return None if m is None else int(m.group(1))
