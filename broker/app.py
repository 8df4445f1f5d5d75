"""Application factory: ``create_app(settings) -> Litestar``. No module-level singletons (STYLE P9)."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from broker.audit import Audit, sink_for
from broker.cimd import MetadataDocuments
from broker.client_auth import ClientAuthenticator
from broker.clients import ClientRegistry
from broker.core.policy import TrustIndex
from broker.errors import ConfigError, OAuthError
from broker.grants.base import GrantContext
from broker.http.responses import http_exception_handler, oauth_error_handler, unexpected_error_handler
from broker.http.routes import build_routes, issuer_path
from broker.http.token import Services
from broker.interactive.federation import Federation
from broker.interactive.flow import InteractiveFlow
from broker.jwks import RemoteJwks
from broker.keys import load_keyring
from broker.logging import configure_logging
from broker.settings import BrokerSettings, load_settings
from broker.stores import Store

__all__ = ["CONFIG_ENV", "app_from_env", "build_store", "create_app"]

CONFIG_ENV = "XAA_BROKER_CONFIG"
"""Environment variable naming the config file for ``app_from_env`` (multi-worker uvicorn)."""

_log = logging.getLogger("xaa.broker")


def build_store(settings: BrokerSettings, *, clock: Callable[[], float] = time.time) -> Store:
    """Redis when ``redis_url``/Sentinel is configured, else the in-process store (one instance only)."""
    if settings.redis_url is not None or settings.redis.mode == "sentinel":
        from broker.stores.redis import build_redis_store

        return build_redis_store(settings)
    from broker.stores.memory import MemoryStore

    _log.warning("no redis_url configured: using the in-process store; do not run replicas or several workers")
    return MemoryStore(now=clock)


def create_app(
    settings: BrokerSettings,
    *,
    store: Store | None = None,
    http: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
    env: Mapping[str, str] | None = None,
    keys_dir: Path | None = None,
) -> Litestar:
    """Build the broker app.

    Args:
        settings: validated configuration.
        store: shared state; default from ``settings`` (Redis or in-process).
        http: outbound client for JWKS/discovery (tests pass one with an ASGI transport).
        clock: time source (tests inject one).
        env: environment for ``client_secret_env`` lookups (default ``os.environ``).
        keys_dir: override of ``settings.keys_dir``.
    """
    the_store = store if store is not None else build_store(settings, clock=clock)
    owns_http = http is None
    client = http if http is not None else httpx.AsyncClient(follow_redirects=False, timeout=settings.jwks.timeout)
    trust = TrustIndex(settings)
    jwks = RemoteJwks(client, the_store, settings.jwks, now=clock)
    directory = keys_dir if keys_dir is not None else Path(settings.keys_dir)
    ctx = GrantContext(
        settings=settings,
        trust=trust,
        store=the_store,
        jwks=jwks,
        idp_keys=load_keyring(directory, "idp", settings.signing_alg, now=clock),
        as_keys=load_keyring(directory, "as", settings.signing_alg, now=clock),
        audit=Audit(sink_for(settings.audit.output)),
        clock=clock,
    )
    documents = (
        MetadataDocuments(client, settings.interactive, timeout=settings.jwks.timeout, now=clock)
        if settings.interactive.client_id_metadata_documents
        else None
    )
    registry = ClientRegistry(trust, documents)
    authenticator = ClientAuthenticator(settings, trust, the_store, jwks, clock=clock, env=env, registry=registry)
    flow = None
    if settings.interactive.enabled:
        federation = Federation(client, settings.jwks, f"{settings.as_issuer}/callback", env=env)
        flow = InteractiveFlow(ctx, registry, federation, issuer_path(settings.as_issuer))
    services = Services(ctx=ctx, authenticator=authenticator, flow=flow)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owns_http:
                await client.aclose()
            await the_store.close()

    return Litestar(
        route_handlers=build_routes(issuer_path(settings.idp_issuer), issuer_path(settings.as_issuer)),
        state=State({"services": services}),
        lifespan=[lifespan],
        exception_handlers={
            OAuthError: oauth_error_handler,
            HTTPException: http_exception_handler,
            Exception: unexpected_error_handler,
        },
        request_max_body_size=settings.max_body_bytes,
        openapi_config=None,
        # Litestar's default logging config would replace the root handlers at start-up, dropping the
        # redaction filter and the configured level (configure_logging owns logging).
        logging_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Factory for ``uvicorn --factory broker.app:app_from_env`` (one app per worker)."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"set {CONFIG_ENV} to the broker config file")
    loaded = load_settings(path)
    configure_logging(os.environ.get("XAA_LOG_LEVEL", "INFO"))
    for warning in loaded.warnings:
        _log.warning("config: %s", warning)
    app = create_app(loaded.settings)
    # Everything built so far lives as long as the worker: keep it out of the collector's full passes.
    gc.freeze()
    return app
