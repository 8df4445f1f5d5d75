"""Issue 4: every token the MCP servers must refuse, refused with the right status and challenge.

Each test sends the attack over real HTTP to the running deployment and checks the status, the
``WWW-Authenticate`` header (RFC 6750 §3, RFC 9728 §5.1) and that nothing answered 500.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from joserfc.jwk import ECKey

from broker.client import BrokerClient
from broker.core.jose import sign_jwt
from broker.keys import load_keyring
from idp_mock import AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET
from mcp_server.app import create_app as create_mcp
from mcp_server.settings import parse_settings as parse_mcp_settings
from tests.broker_env import decode_unverified
from tests.live import INTROSPECTION_ENV, Stack, free_port, serving

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def call(name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": arguments or {}}}


@pytest.fixture
async def broker(stack: Stack) -> AsyncIterator[BrokerClient]:
    async with BrokerClient.for_broker(stack.broker, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def post(http: httpx.AsyncClient, url: str, token: str | None, body: Any = INITIALIZE) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await http.post(url, json=body, headers=headers)


def metadata_url(stack: Stack, service: str) -> str:
    return f"{stack.mcp}/.well-known/oauth-protected-resource/{service}/mcp"


def assert_invalid_token(r: httpx.Response, stack: Stack, service: str) -> None:
    assert r.status_code == 401, r.text
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{metadata_url(stack, service)}"' in challenge


def forge(stack: Stack, claims: dict[str, Any], **header: Any) -> str:
    """A token signed with the broker's own access-token key (only the tests hold it)."""
    ring = load_keyring(stack.keys_dir, "as", stack.broker_settings.signing_alg)
    return sign_jwt({"alg": ring.alg, "kid": ring.kid, "typ": "at+jwt", **header}, claims, ring.signing_key)


def good_claims(stack: Stack, service: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": f"{stack.broker}/as",
        "sub": "acme|forged",
        "aud": stack.resource(service),
        "client_id": AGENT_APP_CLIENT_ID,
        "jti": f"forged-{now}-{len(changes)}",
        "iat": now,
        "exp": now + 300,
        "scope": f"{service}.read",
    }
    claims.update(changes)
    return claims


async def test_a_request_without_a_token_gets_401_pointing_at_the_resource_metadata(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    r = await post(http, stack.resource("calendar"), None)
    assert r.status_code == 401
    assert f'resource_metadata="{metadata_url(stack, "calendar")}"' in r.headers["www-authenticate"]
    meta = (await http.get(metadata_url(stack, "calendar"))).json()
    assert meta["resource"] == stack.resource("calendar")
    assert meta["authorization_servers"] == [f"{stack.broker}/as"]
    assert set(meta["scopes_supported"]) == {"calendar.read", "calendar.write"}


async def test_a_valid_broker_token_opens_its_own_service(
    stack: Stack, broker: BrokerClient, http: httpx.AsyncClient
) -> None:
    id_token = await stack.sign_in("alice")
    token = await broker.access_token(id_token, resource=stack.resource("calendar"))
    r = await post(http, stack.resource("calendar"), token.token)
    assert r.status_code == 200, r.text
    assert r.headers["mcp-session-id"]


async def test_garbage_is_refused(stack: Stack, http: httpx.AsyncClient) -> None:
    for garbage in ("abc", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 20_000):
        assert_invalid_token(await post(http, stack.resource("calendar"), garbage), stack, "calendar")


async def test_an_id_token_signed_by_the_idp_is_refused(stack: Stack, http: httpx.AsyncClient) -> None:
    id_token = await stack.sign_in("alice")
    assert_invalid_token(await post(http, stack.resource("calendar"), id_token), stack, "calendar")


async def test_an_id_jag_from_the_broker_is_not_an_access_token(
    stack: Stack, broker: BrokerClient, http: httpx.AsyncClient
) -> None:
    id_token = await stack.sign_in("alice")
    jag = await broker.request_id_jag(id_token, resource=stack.resource("calendar"))
    assert decode_unverified(jag.token)[0]["typ"] == "oauth-id-jag+jwt"
    assert_invalid_token(await post(http, stack.resource("calendar"), jag.token), stack, "calendar")


async def test_a_token_minted_for_a_sibling_service_is_refused(
    stack: Stack, broker: BrokerClient, http: httpx.AsyncClient
) -> None:
    id_token = await stack.sign_in("alice")
    documents = await broker.access_token(id_token, resource=stack.resource("documents"))
    assert (await post(http, stack.resource("documents"), documents.token)).status_code == 200
    assert_invalid_token(await post(http, stack.resource("calendar"), documents.token), stack, "calendar")


async def test_an_expired_broker_token_is_refused(stack: Stack, http: httpx.AsyncClient) -> None:
    past = int(time.time()) - 3600
    token = forge(stack, good_claims(stack, "calendar", iat=past - 300, exp=past))
    assert_invalid_token(await post(http, stack.resource("calendar"), token), stack, "calendar")


async def test_a_broker_signed_token_with_the_wrong_typ_is_refused(stack: Stack, http: httpx.AsyncClient) -> None:
    for typ in ("JWT", "oauth-id-jag+jwt"):
        token = forge(stack, good_claims(stack, "calendar"), typ=typ)
        assert_invalid_token(await post(http, stack.resource("calendar"), token), stack, "calendar")


async def test_a_token_from_another_issuer_is_refused(stack: Stack, http: httpx.AsyncClient) -> None:
    signed_right = forge(stack, good_claims(stack, "calendar", iss="https://evil.example/as"))
    assert_invalid_token(await post(http, stack.resource("calendar"), signed_right), stack, "calendar")
    stranger = ECKey.generate_key("P-256", private=True)
    own_kid = decode_unverified(signed_right)[0]["kid"]
    signed_wrong = sign_jwt({"alg": "ES256", "kid": own_kid, "typ": "at+jwt"}, good_claims(stack, "calendar"), stranger)
    assert_invalid_token(await post(http, stack.resource("calendar"), signed_wrong), stack, "calendar")


async def test_a_revoked_token_is_refused(stack: Stack, broker: BrokerClient, http: httpx.AsyncClient) -> None:
    id_token = await stack.sign_in("alice")
    # a scope set no other test asks for: a fresh token, never seen (and cached as active) by the server
    token = await broker.exchange_for_access_token(
        id_token, resource=stack.resource("documents"), scopes=["documents.read"]
    )
    r = await http.post(
        f"{stack.broker}/as/revoke",
        data={"token": token.token, "token_type_hint": "access_token"},
        auth=(AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET),
    )
    assert r.status_code == 200
    assert_invalid_token(await post(http, stack.resource("documents"), token.token), stack, "documents")


async def test_a_write_tool_without_the_write_scope_gets_403_naming_the_scope_to_step_up_to(
    stack: Stack, broker: BrokerClient, http: httpx.AsyncClient
) -> None:
    bob = await stack.sign_in("bob")  # policy: everyone may read tickets, nobody may write them
    token = await broker.access_token(bob, resource=stack.resource("tickets"))
    assert token.scopes == ("tickets.read",)
    r = await post(http, stack.resource("tickets"), token.token, call("create_ticket", {"title": "x"}))
    assert r.status_code == 403, r.text
    challenge = r.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="tickets.read tickets.write"' in challenge
    assert f'resource_metadata="{metadata_url(stack, "tickets")}"' in challenge
    assert r.json()["error"] == "insufficient_scope"


async def test_a_token_without_the_read_scope_gets_403_naming_it(
    stack: Stack, broker: BrokerClient, http: httpx.AsyncClient
) -> None:
    alice = await stack.sign_in("alice")
    token = await broker.access_token(alice, resource=stack.resource("calendar"), scopes=["calendar.write"])
    assert token.scopes == ("calendar.write",)
    r = await post(http, stack.resource("calendar"), token.token)
    assert r.status_code == 403, r.text
    challenge = r.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="calendar.read"' in challenge


async def test_a_body_over_the_cap_gets_413_not_a_500(stack: Stack, http: httpx.AsyncClient) -> None:
    cap = stack.mcp_settings.max_request_body_bytes
    r = await http.post(
        stack.resource("calendar"), content=b"x" * (cap + 1), headers={**MCP_HEADERS, "Authorization": "Bearer abc"}
    )
    assert r.status_code == 413


async def test_when_the_brokers_keys_are_unreachable_the_service_fails_closed_with_503(
    stack: Stack, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    dead, port = free_port(), free_port()
    settings = parse_mcp_settings(
        f'port = {port}\n[broker]\nissuer = "http://127.0.0.1:{dead}/as"\njwks_failure_backoff = 0.01\n'
    )
    token = forge(stack, good_claims(stack, "calendar"))
    async with serving(create_mcp(settings), port) as base:
        r = await post(http, f"{base}/calendar/mcp", token)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"]
    assert r.json()["error"] == "temporarily_unavailable"


async def test_an_idle_session_is_closed_after_the_configured_timeout(
    stack: Stack, broker: BrokerClient, http: httpx.AsyncClient
) -> None:
    port = free_port()
    settings = msgspec.structs.replace(stack.mcp_settings, port=port, public_url=stack.mcp, session_idle_timeout=0.2)
    alice = await stack.sign_in("alice")
    token = await broker.access_token(alice, resource=stack.resource("calendar"))
    async with serving(create_mcp(settings, env=INTROSPECTION_ENV), port) as base:
        opened = await post(http, f"{base}/calendar/mcp", token.token)
        session = opened.headers["mcp-session-id"]
        headers = {**MCP_HEADERS, "Authorization": f"Bearer {token.token}", "Mcp-Session-Id": session}
        ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
        assert (await http.post(f"{base}/calendar/mcp", json=ping, headers=headers)).status_code == 200
        await asyncio.sleep(1.0)  # idle well past the timeout
        r = await http.post(f"{base}/calendar/mcp", json=ping, headers=headers)
    assert r.status_code == 404, r.text
