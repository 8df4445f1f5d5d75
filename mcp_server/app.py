"""The ASGI app of the whole deployment: every service, its RFC 9728 metadata, one lifespan.

Routes (for a service at path ``P`` with resource URL ``R``)::

    POST/GET/DELETE P                                  the service's Streamable HTTP endpoint
    GET /.well-known/oauth-protected-resource{P}       RFC 9728 §3.1 metadata naming the broker
    GET /healthz                                       liveness

Every service shares one HTTP client and one cached copy of the broker's JWKS.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from mcp.server.auth.routes import create_protected_resource_routes
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from mcp_server.gate import ServiceGate
from mcp_server.introspection import IntrospectionRevocation
from mcp_server.jwks import BrokerKeys
from mcp_server.services import WRITE_TOOLS_BY_KIND, ServiceServer, build_service
from mcp_server.settings import McpSettings, validate_settings
from mcp_server.verifier import BrokerTokenVerifier

__all__ = ["Deployment", "build_deployment", "create_app", "metadata_url"]


def metadata_url(resource: str) -> str:
    """Where a resource's metadata lives: the well-known path inserted before its path (RFC 9728 §3.1)."""
    parts = urlsplit(resource)
    return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"


@dataclass(frozen=True, slots=True)
class Deployment:
    """Everything ``create_app`` built, for tests and the CLI to inspect."""

    settings: McpSettings
    servers: tuple[ServiceServer, ...]
    verifiers: tuple[BrokerTokenVerifier, ...]
    keys: BrokerKeys
    http: httpx.AsyncClient


def _transport_security(settings: McpSettings) -> TransportSecuritySettings:
    """DNS-rebinding protection: only this deployment's own Host and Origin values (MCP transports §Security)."""
    origin = urlsplit(settings.origin)
    hosts = [origin.netloc, *settings.allowed_hosts]
    origins = [settings.origin, *settings.allowed_origins]
    if origin.hostname in ("127.0.0.1", "localhost", "::1"):
        hosts += ["127.0.0.1:*", "localhost:*", "[::1]:*"]
        origins += ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins)


def build_deployment(
    settings: McpSettings, *, http: httpx.AsyncClient | None = None, env: Mapping[str, str] | None = None
) -> Deployment:
    """Build keys, verifiers and one ``MCPServer`` per service.

    Raises:
        ConfigError: the settings are invalid (e.g. the introspection secret is not set).
    """
    env = os.environ if env is None else env
    validate_settings(settings, env=env)
    trust = settings.broker
    client = http or httpx.AsyncClient(follow_redirects=False)
    keys = BrokerKeys(
        trust.resolved_jwks_uri,
        client,
        refresh_interval=trust.jwks_refresh_interval,
        max_age=trust.jwks_max_age,
        failure_backoff=trust.jwks_failure_backoff,
        max_bytes=trust.jwks_max_bytes,
        timeout=trust.http_timeout,
    )
    revocation = None
    if trust.revocation_check == "introspect" and trust.introspection is not None:
        revocation = IntrospectionRevocation(
            trust.introspection_endpoint,
            trust.introspection.client_id,
            trust.introspection.secret(env),
            client,
            cache_ttl=trust.revocation_cache_ttl,
            timeout=trust.http_timeout,
        )
    verifiers = tuple(BrokerTokenVerifier(svc, trust, keys, revocation=revocation) for svc in settings.services())
    servers = tuple(build_service(v.service, v, authorization_server=trust.issuer) for v in verifiers)
    return Deployment(settings=settings, servers=servers, verifiers=verifiers, keys=keys, http=client)


def create_app(
    settings: McpSettings, *, http: httpx.AsyncClient | None = None, env: Mapping[str, str] | None = None
) -> Starlette:
    """The deployment as one Starlette app (see the module docstring); ``app.state.deployment`` holds the parts."""
    deployment = build_deployment(settings, http=http, env=env)
    security = _transport_security(settings)
    routes: list[BaseRoute] = []
    for srv, verifier in zip(deployment.servers, deployment.verifiers, strict=True):
        svc = srv.service
        sdk_app = srv.streamable_http_app(
            streamable_http_path=svc.path,
            json_response=settings.json_response,
            stateless_http=settings.stateless,
            max_request_body_size=settings.max_request_body_bytes,
            session_idle_timeout=None if settings.stateless else settings.session_idle_timeout,
            max_sessions=settings.max_sessions,
            transport_security=security,
        )
        routes += create_protected_resource_routes(
            resource_url=AnyHttpUrl(svc.resource),
            authorization_servers=[AnyHttpUrl(settings.broker.issuer)],
            scopes_supported=list(svc.scopes),
            resource_name=svc.title,
        )
        gate = ServiceGate(
            sdk_app,
            service=svc,
            verifier=verifier,
            write_tools=WRITE_TOOLS_BY_KIND[svc.kind],
            resource_metadata_url=metadata_url(svc.resource),
            max_body_bytes=settings.max_request_body_bytes,
        )
        routes.append(Route(svc.path, endpoint=gate, methods=["GET", "POST", "DELETE"]))

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "services": [s.service.name for s in deployment.servers]})

    routes.append(Route("/healthz", healthz, methods=["GET"]))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            if http is None:
                stack.push_async_callback(deployment.http.aclose)
            for srv in deployment.servers:
                await stack.enter_async_context(srv.session_manager.run())
            yield {}

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.deployment = deployment
    return app
