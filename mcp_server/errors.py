"""Errors of the sample MCP deployment.

::

    Exception
    ├── ConfigError            bad mcp.toml; the message names the key path ($.service[1].path)
    ├── TokenRejected          a presented access token is not acceptable -> 401 invalid_token
    └── VerifierUnavailable    the broker's JWKS or introspection cannot be reached -> 503

``reason`` on the token errors is safe to log: it never contains the token.
"""

from __future__ import annotations

__all__ = ["ConfigError", "TokenRejected", "VerifierUnavailable"]


class ConfigError(Exception):
    """The configuration is invalid; the message names the file and the key path."""


class TokenRejected(Exception):
    """The access token failed a check (RFC 9068 §4); ``reason`` is for the log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VerifierUnavailable(Exception):
    """The token could not be checked because the broker is unreachable (fail closed, never accept)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
