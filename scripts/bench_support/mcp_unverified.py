"""Bench only: the sample MCP deployment with token verification switched off, the baseline for its cost.

``BrokerTokenVerifier.check`` is replaced by a function that reads the claims without checking the
signature, ``typ``, issuer, audience, scope or expiry; everything else (the gate, the SDK's
Streamable HTTP handling, the tool) is unchanged. Never deploy this: it accepts any token.
"""

from __future__ import annotations

from mcp.server.auth.provider import AccessToken

from broker.core.jose import peek
from mcp_server import verifier
from mcp_server.__main__ import app_from_env


async def _unchecked(self: verifier.BrokerTokenVerifier, token: str) -> AccessToken:
    return verifier.access_token_of(token, dict(peek(token, max_bytes=16384).claims), self.service.resource)


verifier.BrokerTokenVerifier.check = _unchecked  # type: ignore[method-assign]
app = app_from_env()
