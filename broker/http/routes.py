"""Route handlers: thin wrappers that parse, call the pipeline or core, and render."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State

from broker.http.authorize import build_interactive_routes
from broker.http.introspection import introspect, revoke
from broker.http.metadata import as_metadata, idp_metadata
from broker.http.responses import NO_STORE, json_response
from broker.http.token import Services, token_endpoint

__all__ = ["build_routes", "issuer_path"]


def _services(state: State) -> Services:
    services: Services = state.services
    return services


def issuer_path(issuer: str) -> str:
    """The path part of an issuer identifier (``/idp`` under ``public_url``)."""
    return urlsplit(issuer).path


def build_routes(idp_path: str, as_path: str) -> list[Any]:
    """Routes for both roles; paths follow ``public_url`` (which may carry a path prefix)."""
    # Leg 1 (RFC 8693) and leg 2 (RFC 7523 jwt-bearer, the RFC 8693 shortcut, the interactive grants).
    idp_token = token_endpoint(f"{idp_path}/token", "idp", lambda s: s.ctx.settings.idp_issuer)
    as_token = token_endpoint(f"{as_path}/token", "as", lambda s: s.ctx.settings.as_issuer)

    @post(f"{as_path}/introspect", status_code=200)
    async def as_introspect(request: Request[Any, Any, State], state: State) -> Response[bytes]:
        """RFC 7662 introspection."""
        return json_response(await introspect(request, _services(state)))

    @post(f"{as_path}/revoke", status_code=200)
    async def as_revoke(request: Request[Any, Any, State], state: State) -> Response[bytes]:
        """RFC 7009 revocation."""
        await revoke(request, _services(state))
        return Response(b"", headers=NO_STORE)

    @get(f"/.well-known/oauth-authorization-server{idp_path}")
    async def idp_meta(state: State) -> Response[bytes]:
        """RFC 8414 §3 metadata for leg 1."""
        return _public_json(idp_metadata(_services(state).ctx.settings))

    @get(f"/.well-known/oauth-authorization-server{as_path}")
    async def as_meta(state: State) -> Response[bytes]:
        """RFC 8414 §3 metadata for leg 2."""
        return _public_json(as_metadata(_services(state).ctx.settings))

    @get(f"{idp_path}/jwks")
    async def idp_jwks(state: State) -> Response[bytes]:
        """Leg-1 public keys: current, next and retired-until-expiry."""
        return _public_json(_services(state).ctx.idp_keys.public_jwks())

    @get(f"{as_path}/jwks")
    async def as_jwks(state: State) -> Response[bytes]:
        """Leg-2 public keys: current, next and retired-until-expiry."""
        return _public_json(_services(state).ctx.as_keys.public_jwks())

    @get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(state: State) -> Response[bytes]:
        """Readiness: the shared store answers (503 otherwise, so load balancers drain us)."""
        await _services(state).ctx.store.ping()
        return json_response({"status": "ready"})

    return [
        idp_token,
        as_token,
        as_introspect,
        as_revoke,
        idp_meta,
        as_meta,
        idp_jwks,
        as_jwks,
        healthz,
        readyz,
        *build_interactive_routes(as_path),
    ]


def _public_json(body: dict[str, Any]) -> Response[bytes]:
    return Response(
        msgspec.json.encode(body),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )
