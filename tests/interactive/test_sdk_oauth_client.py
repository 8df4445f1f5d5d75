"""Issue 7 done-criterion: the official ``mcp`` SDK's standard ``OAuthClientProvider`` (authorization code
flow, no SEP-990) reaches a sample MCP server through the broker and the mock IdP, lists tools, calls one.

The SDK's browser step is scripted: the redirect handler walks the authorization URL with a cookie
jar, picks the organisation on the broker's chooser, signs in on the mock IdP's page, allows on the
broker's consent page and hands the code back.
"""

from __future__ import annotations

import json

import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata
from mcp.types import TextContent

from broker.client.mcp import MemoryTokenStorage
from tests.interactive.browser import Browser
from tests.interactive.conftest import CLIENT_REDIRECT
from tests.live import Stack


async def test_the_sdk_oauth_client_provider_signs_in_lists_tools_and_calls_one(stack: Stack) -> None:
    storage = MemoryTokenStorage()
    # A pre-registered public client (the broker offers no dynamic registration).
    await storage.set_client_info(
        OAuthClientInformationFull(
            client_id="mcp-desktop",
            redirect_uris=[CLIENT_REDIRECT],  # type: ignore[list-item]  # pydantic coerces to AnyUrl
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        )
    )
    browser = Browser(CLIENT_REDIRECT)
    pages: list[str] = []
    answer: dict[str, str] = {}

    async def redirect_handler(url: str) -> None:
        stop = await browser.walk(url)  # no login_hint from the SDK: the broker's IdP chooser
        pages.append("chooser")
        assert "Globex" in stop.page
        stop = await browser.submit(stop, idp="acme")  # -> the IdP's sign-in page
        pages.append("idp")
        stop = await browser.submit(stop, username="alice", action="sign_in")  # -> broker consent page
        pages.append("consent")
        assert "Calendar" in stop.page
        stop = await browser.submit(stop, decision="allow")
        answer.update(stop.params)

    async def callback_handler() -> AuthorizationCodeResult:
        return AuthorizationCodeResult(code=answer["code"], state=answer.get("state"), iss=answer.get("iss"))

    auth = OAuthClientProvider(
        server_url=stack.resource("calendar"),
        client_metadata=OAuthClientMetadata(
            redirect_uris=[CLIENT_REDIRECT],  # type: ignore[list-item]
            token_endpoint_auth_method="none",
            grant_types=["authorization_code", "refresh_token"],
            client_name="MCP Desktop",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )
    try:
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            streamable_http_client(stack.resource("calendar"), http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {t.name for t in (await session.list_tools()).tools}
            assert {"whoami", "list_events"} <= tools
            result = await session.call_tool("whoami", {})
            content = result.content[0]
            assert isinstance(content, TextContent)
            who = json.loads(content.text)
    finally:
        await browser.aclose()
    assert pages == ["chooser", "idp", "consent"]
    assert who["aud"] == stack.resource("calendar")
    assert who["client_id"] == "mcp-desktop"
    assert who["sub"] == "acme|alice"
    assert who["iss"] == f"{stack.broker}/as"
    tokens = await storage.get_tokens()
    assert tokens is not None and tokens.refresh_token  # the SDK kept the rotated refresh token
