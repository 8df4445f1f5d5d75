"""The whole stack on real sockets: mock IdP, broker and MCP deployment under uvicorn, in this process.

Configs come from ``examples/broker.toml`` and ``examples/mcp.toml`` with their ports moved to
free ones, so the example files themselves are what the end-to-end tests run.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from broker.app import create_app as create_broker
from broker.settings import BrokerSettings, parse_settings
from broker.stores.redis import RedisStore
from idp_mock import (
    AGENT_APP,
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    AGENT_APP_REDIRECT_URIS,
    BROKER_CLIENT_ID,
    PUBLIC_CLI,
    IdpSettings,
    login,
)
from idp_mock import ClientConfig as IdpClient
from idp_mock import create_app as create_idp
from mcp_server.app import create_app as create_mcp
from mcp_server.settings import McpSettings
from mcp_server.settings import parse_settings as parse_mcp_settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
INTROSPECTION_ENV = {"MCP_INTROSPECTION_SECRET": "mcp-servers-secret"}


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(app: Any, port: int) -> AsyncIterator[str]:
    """Run ``app`` under uvicorn on ``port`` until the block exits; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"uvicorn on port {port} stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass(frozen=True)
class Stack:
    """URLs and settings of a running stack."""

    idp: str
    broker: str
    mcp: str
    broker_settings: BrokerSettings
    mcp_settings: McpSettings
    keys_dir: Path

    def resource(self, service: str) -> str:
        """The resource URL (RFC 8707) of a sample service."""
        return f"{self.mcp}/{service}/mcp"

    async def sign_in(self, user: str, http: httpx.AsyncClient | None = None) -> str:
        """A real auth-code + PKCE sign-in at the mock IdP; returns the ID token."""
        tokens = await login(
            self.idp, user, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, AGENT_APP_REDIRECT_URIS[0], http=http
        )
        token: str = tokens["id_token"]
        return token


def _moved(text: str, idp: int, broker: int, mcp: int) -> str:
    return (
        text.replace("127.0.0.1:9000", f"127.0.0.1:{idp}")
        .replace("127.0.0.1:8000", f"127.0.0.1:{broker}")
        .replace("127.0.0.1:8101", f"127.0.0.1:{mcp}")
        .replace("port = 8101", f"port = {mcp}")
    )


def idp_settings(idp_port: int, broker_port: int) -> IdpSettings:
    """The mock IdP's default settings, its broker client redirecting to the broker on ``broker_port``."""
    broker_rp = IdpClient(
        client_id=BROKER_CLIENT_ID,
        public=True,
        redirect_uris=(f"http://127.0.0.1:{broker_port}/as/callback",),
    )
    return IdpSettings(issuer=f"http://127.0.0.1:{idp_port}", client=(AGENT_APP, PUBLIC_CLI, broker_rp))


@asynccontextmanager
async def live_stack(tmp_path: Path, *, redis_url: str | None = None, extra_config: str = "") -> AsyncIterator[Stack]:
    """Start IdP, broker (Redis store when ``redis_url`` is given) and MCP deployment on free ports.

    ``extra_config`` is TOML appended to the example broker config (its ports are moved too); the
    example ends with its ``[interactive]`` table, so bare keys there set interactive options.
    """
    idp_port, broker_port, mcp_port = free_port(), free_port(), free_port()
    broker_settings = parse_settings(
        _moved((EXAMPLES / "broker.toml").read_text() + extra_config, idp_port, broker_port, mcp_port)
    ).settings
    mcp_settings = parse_mcp_settings(
        _moved((EXAMPLES / "mcp.toml").read_text(), idp_port, broker_port, mcp_port), env=INTROSPECTION_ENV
    )
    async with AsyncExitStack() as stack:
        idp_url = await stack.enter_async_context(serving(create_idp(idp_settings(idp_port, broker_port)), idp_port))
        store = None
        if redis_url is not None:
            from redis.asyncio import Redis

            redis = Redis.from_url(redis_url)
            await redis.flushdb()
            stack.push_async_callback(redis.aclose)
            store = RedisStore(redis)
        broker_app = create_broker(broker_settings, store=store, keys_dir=tmp_path / "keys")
        broker_url = await stack.enter_async_context(serving(broker_app, broker_port))
        mcp_app = create_mcp(mcp_settings, env=INTROSPECTION_ENV)
        mcp_url = await stack.enter_async_context(serving(mcp_app, mcp_port))
        yield Stack(idp_url, broker_url, mcp_url, broker_settings, mcp_settings, tmp_path / "keys")
