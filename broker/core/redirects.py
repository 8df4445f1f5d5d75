"""Redirect URI matching (OAuth 2.1 §2.3.1, RFC 9700 §4.1.3: exact string comparison).

The one exception is RFC 8252 §7.3: for a loopback redirect URI the port is chosen by the native app at
run time, so it may differ from the registered one; everything else must still match exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["redirect_uri_matches"]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})


def _loopback_without_port(uri: str) -> tuple[str, str, str, str] | None:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme != "http" or parts.username is not None or parts.password is not None:
        return None
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if host not in _LOOPBACK_HOSTS:
        return None
    return parts.scheme, host, parts.path, parts.query


def redirect_uri_matches(registered: Iterable[str], presented: str) -> bool:
    """Whether ``presented`` is one of the ``registered`` redirect URIs (exact, or loopback with any port)."""
    if "#" in presented:
        return False
    loopback = _loopback_without_port(presented)
    for uri in registered:
        if uri == presented:
            return True
        if loopback is not None and _loopback_without_port(uri) == loopback:
            return True
    return False
