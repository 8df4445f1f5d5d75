"""Issue 4 done-criteria: real clients of two ecosystems reach every service with broker tokens.

- the official ``mcp`` SDK's ``ClientSession``, authenticated by its ``IdentityAssertionOAuthProvider``
  whose ``assertion_provider`` runs leg 1 at the broker (``BrokerClient.assertion_provider``);
- the OpenAI Agents SDK's ``MCPServerStreamableHttp`` with a bearer token from the broker.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from agents.mcp import MCPServerStreamableHttp
from mcp import ClientSession
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent, TextResourceContents

from broker.client import BrokerClient
from broker.client.mcp import MemoryTokenStorage
from idp_mock import AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET
from tests.live import Stack

SERVICES = {"calendar": "events", "documents": "documents", "tickets": "tickets"}


@asynccontextmanager
async def sdk_session(stack: Stack, broker: BrokerClient, id_token: str, service: str) -> AsyncIterator[ClientSession]:
    auth = IdentityAssertionOAuthProvider(
        server_url=stack.resource(service),
        storage=MemoryTokenStorage(),
        client_id=AGENT_APP_CLIENT_ID,
        client_secret=AGENT_APP_CLIENT_SECRET,
        issuer=broker.as_issuer,
        assertion_provider=broker.assertion_provider(id_token),
        token_endpoint_auth_method="client_secret_basic",
    )
    async with (
        httpx2.AsyncClient(auth=auth, timeout=30) as http,
        streamable_http_client(stack.resource(service), http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


@pytest.fixture
async def broker(stack: Stack) -> AsyncIterator[BrokerClient]:
    async with BrokerClient.for_broker(stack.broker, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET) as client:
        yield client


def _text(content: object) -> str:
    assert isinstance(content, TextContent)
    return content.text


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_sdk_identity_assertion_provider_lists_tools_and_resources_and_calls_a_tool(
    stack: Stack, broker: BrokerClient, service: str
) -> None:
    id_token = await stack.sign_in("alice")
    async with sdk_session(stack, broker, id_token, service) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        plural = SERVICES[service]
        assert {"whoami", f"list_{plural}", f"show_{plural}"} <= tools

        who = json.loads(_text((await session.call_tool("whoami", {})).content[0]))
        assert who["service"] == service
        assert who["aud"] == stack.resource(service)
        assert who["client_id"] == AGENT_APP_CLIENT_ID
        assert who["iss"] == broker.as_issuer
        assert who["sub"].startswith("acme|")

        resources = (await session.list_resources()).resources
        uris = {str(r.uri) for r in resources}
        assert f"ui://{service}/view.html" in uris
        items = [u for u in uris if u.startswith(f"{service}://{plural}/")]
        assert len(items) >= 2  # the user's seeded items
        read = await session.read_resource(items[0])
        body = read.contents[0]
        assert isinstance(body, TextResourceContents)
        assert json.loads(body.text)["owner"] == who["sub"]

        templates = (await session.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == [f"{service}://{plural}/{{item_id}}"]


async def test_the_app_view_is_html_showing_the_signed_in_users_items(stack: Stack, broker: BrokerClient) -> None:
    id_token = await stack.sign_in("alice")
    async with sdk_session(stack, broker, id_token, "calendar") as session:
        read = await session.read_resource("ui://calendar/view.html")
    view = read.contents[0]
    assert isinstance(view, TextResourceContents)
    assert view.mime_type == "text/html;profile=mcp-app"
    assert "Team stand-up" in view.text
    assert "Signed in as <code>acme|" in view.text


async def test_users_see_only_their_own_items(stack: Stack, broker: BrokerClient) -> None:
    alice, bob = await stack.sign_in("alice"), await stack.sign_in("bob")
    async with sdk_session(stack, broker, alice, "tickets") as session:
        listed = (await session.call_tool("list_tickets", {})).structured_content
        assert listed is not None
        alice_uris = {t["uri"] for t in listed["result"]}
        assert len(alice_uris) >= 2
    async with sdk_session(stack, broker, bob, "tickets") as session:
        bob_uris = {str(r.uri) for r in (await session.list_resources()).resources if str(r.uri).startswith("tickets")}
        assert bob_uris and not (bob_uris & alice_uris)
        foreign = next(iter(alice_uris))
        with pytest.raises(Exception, match="no such ticket"):
            await session.read_resource(foreign)


async def test_openai_agents_mcp_client_lists_and_reads_resources_with_a_broker_token(
    stack: Stack, broker: BrokerClient
) -> None:
    id_token = await stack.sign_in("alice")
    token = await broker.access_token(id_token, resource=stack.resource("documents"))
    server = MCPServerStreamableHttp(
        {"url": stack.resource("documents"), "headers": {"Authorization": f"Bearer {token.token}"}},
        name="documents",
    )
    async with server:
        listed = await server.list_resources()
        uris = [str(r.uri) for r in listed.resources]
        item = next(u for u in uris if u.startswith("documents://documents/"))
        read = await server.read_resource(item)
        tools = {t.name for t in await server.list_tools()}
    assert "ui://documents/view.html" in uris
    body = read.contents[0]
    assert isinstance(body, TextResourceContents)
    assert json.loads(body.text)["title"] in {"Onboarding notes", "Q3 plan"}
    assert "whoami" in tools
