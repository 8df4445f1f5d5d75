"""The peer for leg 2: FastMCP's own SEP-990 ID-JAG redemption, run by ``scripts/bench`` in a separate venv.

FastMCP (PyPI ``fastmcp``) redeems ID-JAGs in ``OAuthProxy(identity_assertion=IdentityAssertion(...))``
(``fastmcp/server/auth/identity_assertion.py``): it verifies the ID-JAG with its ``JWTVerifier`` against
the IdP's JWKS, checks ``typ``, ``sub``, lifetime (<= 300 s), ``client_id`` and ``resource``, records
the ``jti`` in a per-process dict, and mints an HS256 access token. Configured here to trust the same
IdP key as the broker (``BENCH_IDP_JWKS_URI``), with an in-memory client store.

Differences that favour the peer, stated in the results: its clients are public (no secret is checked;
the broker authenticates ``client_secret_basic``), it signs with HS256 (the broker with ES256), and its
replay state is per process (the broker's is shared in Redis, so it holds across workers and replicas).
Its ``jti`` cache refuses new assertions once it holds 10,000 unexpired ones per process; the bench
raises that cap so that a 10 s run measures redemption, not the cap (``BENCH_PEER_JTI_CAP``).
"""

from __future__ import annotations

import os
from typing import Any

from fastmcp import FastMCP
from fastmcp.server.auth import IdentityAssertion, OAuthProxy
from fastmcp.server.auth.providers.jwt import JWTVerifier
from key_value.aio.stores.memory import MemoryStore
from mcp.shared.auth import OAuthClientInformationFull

BASE = os.environ["BENCH_PEER_BASE_URL"]
ISSUER = os.environ["BENCH_IDP_ISSUER"]
CLIENT = os.environ["BENCH_CLIENT_ID"]
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"

proxy = OAuthProxy(
    upstream_authorization_endpoint=f"{BASE}/upstream/authorize",  # never used by the jwt-bearer grant
    upstream_token_endpoint=f"{BASE}/upstream/token",
    upstream_client_id="unused",
    upstream_client_secret="unused-upstream-secret",  # noqa: S106 - a placeholder, never sent
    token_verifier=JWTVerifier(jwks_uri=os.environ["BENCH_IDP_JWKS_URI"], issuer=BASE, algorithm="ES256"),
    base_url=BASE,
    jwt_signing_key=b"0" * 32,
    client_storage=MemoryStore(),
    require_authorization_consent=False,
    identity_assertion=IdentityAssertion(
        trusted_issuers=[ISSUER],
        jwks_uris={ISSUER: os.environ["BENCH_IDP_JWKS_URI"]},  # no OIDC discovery: the bench IdP is not a host
        algorithm="ES256",
        access_token_expiry_seconds=600,
    ),
)
validator = proxy._identity_assertion_validator
assert validator is not None  # noqa: S101
validator._jti_cache_max_size = int(os.environ.get("BENCH_PEER_JTI_CAP", "10000000"))

server = FastMCP("bench-peer", auth=proxy)


@server.tool()
def ping() -> str:
    """A tool, so the server is a normal MCP server."""
    return "pong"


inner = server.http_app(path="/mcp")
_registered = False


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Register the bench client in this worker's in-memory store on first use, then serve FastMCP."""
    global _registered
    if not _registered and scope["type"] == "http":
        await proxy.register_client(
            OAuthClientInformationFull(client_id=CLIENT, redirect_uris=None, grant_types=[JWT_BEARER])
        )
        _registered = True
    await inner(scope, receive, send)
