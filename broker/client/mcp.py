"""Connect an agent to any SEP-990 protected MCP server: discovery, then the SDK's ID-JAG provider.

:func:`discover` finds the server's authorization server through RFC 9728 (the ``resource_metadata``
of the 401 challenge, then the well-known URLs), using the MCP SDK's discovery helpers. It checks
that the metadata's ``resource`` is the server's own identifier (RFC 9728 §3.3: otherwise an
attacker's metadata could steer the token elsewhere). :func:`open_session` then opens an MCP
``ClientSession`` whose HTTP client is authenticated by the SDK's ``IdentityAssertionOAuthProvider``,
with :meth:`BrokerClient.assertion_provider` doing leg 1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx2
from mcp import ClientSession
from mcp.client.auth import TokenStorage
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.auth.utils import (
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_protected_resource_response,
)
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from mcp.shared.auth_utils import resource_url_from_server_url

from broker.client.errors import BadBrokerResponse, BrokerUnreachable

__all__ = ["MemoryTokenStorage", "ProtectedResource", "discover", "open_session"]


@dataclass(frozen=True, slots=True)
class ProtectedResource:
    """What RFC 9728 metadata says about an MCP server."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...]


class MemoryTokenStorage(TokenStorage):
    """The SDK's token storage, in memory (tokens live as long as the session object)."""

    def __init__(self) -> None:
        self._tokens: OAuthToken | None = None
        self._client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        """Stored tokens."""
        return self._tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        """Store tokens."""
        self._tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        """Stored client registration."""
        return self._client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        """Store the client registration."""
        self._client = client_info


async def discover(server_url: str, http: httpx2.AsyncClient) -> ProtectedResource:
    """RFC 9728 discovery for ``server_url``.

    Raises:
        BrokerUnreachable: the server or its metadata could not be reached.
        BadBrokerResponse: no metadata, or metadata for another resource.
    """
    expected = resource_url_from_server_url(server_url)
    try:
        probe = await http.post(
            server_url,
            json={"jsonrpc": "2.0", "id": 0, "method": "ping"},
            headers={"Accept": "application/json, text/event-stream"},
        )
        hint = extract_resource_metadata_from_www_auth(probe) if probe.status_code in (401, 403) else None
        for url in build_protected_resource_metadata_discovery_urls(hint, server_url):
            found = await handle_protected_resource_response(await http.get(url))
            if found is None:
                continue
            resource = str(found.resource)
            if resource.rstrip("/") != expected.rstrip("/"):
                raise BadBrokerResponse(f"metadata at {url} is for {resource!r}, not {expected!r} (RFC 9728 §3.3)")
            servers = tuple(str(s).rstrip("/") for s in found.authorization_servers)
            if not servers:
                raise BadBrokerResponse(f"metadata at {url} names no authorization server")
            return ProtectedResource(resource, servers, tuple(found.scopes_supported or ()))
    except httpx2.HTTPError as exc:
        raise BrokerUnreachable(f"{server_url}: {type(exc).__name__}") from None
    raise BadBrokerResponse(f"no protected resource metadata for {server_url}")


@asynccontextmanager
async def open_session(
    server_url: str,
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    assertion_provider: Callable[[str, str], Awaitable[str]],
    scope: str | None = None,
) -> AsyncIterator[ClientSession]:
    """An initialized MCP session authenticated through the SEP-990 flow (leg 2 by the SDK, leg 1 by the callback)."""
    auth = IdentityAssertionOAuthProvider(
        server_url=server_url,
        storage=MemoryTokenStorage(),
        client_id=client_id,
        client_secret=client_secret,
        issuer=issuer,
        assertion_provider=assertion_provider,
        scope=scope,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name, not a secret)
    )
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        streamable_http_client(server_url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session
