"""Issue 5: the agent client against a running broker: legs, shortcut, cache, typed errors, CLI."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from broker.client import (
    BadBrokerResponse,
    BrokerClient,
    BrokerUnreachable,
    InvalidClientError,
    InvalidGrantError,
    InvalidScopeError,
    InvalidTargetError,
    TemporarilyUnavailableError,
    TokenRequestError,
)
from broker.client.errors import error_from_response
from broker.client.inspect import inspect_token, render
from broker.client.mcp import discover
from idp_mock import AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET
from tests.broker_env import decode_unverified
from tests.live import ROOT, Stack, free_port, serving


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[BrokerClient]:
    async with BrokerClient.for_broker(stack.broker, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET) as c:
        yield c


async def test_both_legs_give_an_access_token_bound_to_the_resource(stack: Stack, client: BrokerClient) -> None:
    id_token = await stack.sign_in("alice")
    jag = await client.request_id_jag(id_token, resource=stack.resource("calendar"), scopes=["calendar.read"])
    header, claims = decode_unverified(jag.token)
    assert header["typ"] == "oauth-id-jag+jwt"
    assert (claims["aud"], claims["resource"]) == (client.as_issuer, stack.resource("calendar"))
    at = await client.redeem_id_jag(jag.token)
    assert decode_unverified(at.token)[1]["aud"] == stack.resource("calendar")
    assert at.scopes == ("calendar.read",)
    with pytest.raises(InvalidGrantError) as replay:
        await client.redeem_id_jag(jag.token)  # single use
    assert replay.value.error == "invalid_grant" and replay.value.status == 400


async def test_cached_tokens_are_reused_per_user_resource_and_scopes(stack: Stack, client: BrokerClient) -> None:
    alice = await stack.sign_in("alice")
    first = await client.access_token(alice, resource=stack.resource("documents"), scopes=["documents.read"])
    again = await client.access_token(alice, resource=stack.resource("documents"), scopes=["documents.read"])
    assert again is first
    wider = await client.access_token(alice, resource=stack.resource("documents"))
    assert wider is not first
    alice_again = await stack.sign_in("alice")  # a new ID token for the same user hits the same entry
    assert (
        await client.access_token(alice_again, resource=stack.resource("documents"), scopes=["documents.read"]) is first
    )
    client.forget(resource=stack.resource("documents"))
    assert (
        await client.access_token(alice, resource=stack.resource("documents"), scopes=["documents.read"])
    ) is not first


async def test_concurrent_identical_requests_run_the_legs_once(stack: Stack) -> None:
    calls = 0

    async def count(request: httpx.Request) -> None:
        nonlocal calls
        calls += request.url.path.endswith("/token")

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        client = BrokerClient.for_broker(stack.broker, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, http=http)
        alice = await stack.sign_in("alice")
        calls = 0
        tokens = await asyncio.gather(
            *(client.access_token(alice, resource=stack.resource("tickets")) for _ in range(8))
        )
    assert len({t.token for t in tokens}) == 1
    assert calls == 2  # one leg 1 and one leg 2 for eight callers


async def test_a_token_near_expiry_is_replaced(stack: Stack) -> None:
    now = [1_000.0]
    async with BrokerClient.for_broker(
        stack.broker, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, clock=lambda: now[0], refresh_margin=30
    ) as client:
        alice = await stack.sign_in("alice")
        first = await client.access_token(alice, resource=stack.resource("calendar"), shortcut=True)
        assert first.expires_at is not None
        now[0] = first.expires_at - 31
        assert await client.access_token(alice, resource=stack.resource("calendar"), shortcut=True) is first
        now[0] = first.expires_at - 29
        assert await client.access_token(alice, resource=stack.resource("calendar"), shortcut=True) is not first


async def test_policy_refusals_surface_as_typed_errors_with_the_oauth_code(stack: Stack, client: BrokerClient) -> None:
    bob = await stack.sign_in("bob")  # sales: no calendar
    with pytest.raises(InvalidGrantError) as denied:  # outside the allowed group: a generic invalid_grant (OQ-5)
        await client.access_token(bob, resource=stack.resource("calendar"))
    assert denied.value.error == "invalid_grant" and denied.value.status == 400
    with pytest.raises(InvalidScopeError):
        await client.request_id_jag(bob, resource=stack.resource("tickets"), scopes=["tickets.write"])
    with pytest.raises(InvalidTargetError):
        await client.request_id_jag(bob, resource="https://unknown.example/mcp")


async def test_wrong_client_credentials_are_invalid_client(stack: Stack) -> None:
    async with BrokerClient.for_broker(stack.broker, AGENT_APP_CLIENT_ID, "wrong") as client:
        with pytest.raises(InvalidClientError) as exc:
            await client.exchange_for_access_token(await stack.sign_in("alice"), resource=stack.resource("tickets"))
    assert exc.value.status == 401


async def test_a_metadata_issuer_mismatch_is_refused_before_any_secret_is_sent(stack: Stack) -> None:
    client = BrokerClient(
        idp_issuer=f"{stack.broker}/idp/",  # one character off: RFC 8414 §3.3 demands an exact match
        as_issuer=f"{stack.broker}/as",
        credentials=BrokerClient.for_broker(stack.broker, "a", "b")._as_credentials,
    )
    async with client:
        with pytest.raises(BadBrokerResponse, match="issuer"):
            await client.request_id_jag("x.y.z", resource=stack.resource("tickets"))


async def test_an_unreachable_broker_is_broker_unreachable() -> None:
    async with BrokerClient.for_broker(f"http://127.0.0.1:{free_port()}", "a", "b") as client:
        with pytest.raises(BrokerUnreachable):
            await client.exchange_for_access_token("x.y.z", resource="http://127.0.0.1:1/mcp")


def test_temporarily_unavailable_carries_retry_after() -> None:
    err = error_from_response("temporarily_unavailable", "store down", 503, "7")
    assert isinstance(err, TemporarilyUnavailableError)
    assert err.retry_after == 7.0
    unknown = error_from_response("something_new", None, 400)
    assert type(unknown) is TokenRequestError and unknown.error == "something_new"


async def test_decode_always_says_whether_the_signature_was_checked(stack: Stack, client: BrokerClient) -> None:
    at = await client.exchange_for_access_token(await stack.sign_in("alice"), resource=stack.resource("tickets"))
    plain = render(inspect_token(at.token), now=0)
    assert "signature: NOT verified" in plain
    async with httpx.AsyncClient() as http:
        from broker.client.inspect import fetch_jwks

        as_keys = await fetch_jwks(http, f"{stack.broker}/as/jwks")
        idp_keys = await fetch_jwks(http, f"{stack.broker}/idp/jwks")
    assert inspect_token(at.token, as_keys, source="as").verified
    wrong = inspect_token(at.token, idp_keys, source="idp")
    assert not wrong.verified and "NOT verified" in wrong.verdict


async def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "broker.client",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_exchange_runs_both_legs_and_verifies_what_came_back(stack: Stack) -> None:
    alice = await stack.sign_in("alice")
    common = ["exchange", "--broker", stack.broker, "--client-id", AGENT_APP_CLIENT_ID, "--id-token", alice]
    env = {"XAA_CLIENT_SECRET": AGENT_APP_CLIENT_SECRET}
    code, out, err = await _cli(*common, "--resource", stack.resource("calendar"), env=env)
    assert code == 0, err
    assert "== ID-JAG (leg 1)" in out and "== access token (leg 2)" in out
    assert out.count("signature: verified") == 2
    code, out, err = await _cli(*common, "--resource", stack.resource("tickets"), "--to", "shortcut", "--raw", env=env)
    assert code == 0, err
    assert decode_unverified(out.strip())[1]["aud"] == stack.resource("tickets")


async def test_cli_reports_a_refusal_with_its_oauth_error_and_exit_code_1(stack: Stack) -> None:
    bob = await stack.sign_in("bob")
    args = ["exchange", "--broker", stack.broker, "--client-id", AGENT_APP_CLIENT_ID, "--id-token", bob]
    code, _, err = await _cli(
        *args, "--resource", stack.resource("tickets"), "--scope", "tickets.write",
        env={"XAA_CLIENT_SECRET": AGENT_APP_CLIENT_SECRET},
    )  # fmt: skip
    assert code == 1
    assert "invalid_scope" in err
    code, _, err = await _cli(*args, "--resource", stack.resource("tickets"), env={"XAA_CLIENT_SECRET": ""})
    assert code == 2 and "XAA_CLIENT_SECRET" in err


async def test_cli_decode_verifies_only_with_a_jwks_and_says_so(stack: Stack, client: BrokerClient) -> None:
    at = await client.exchange_for_access_token(await stack.sign_in("alice"), resource=stack.resource("tickets"))
    code, out, _ = await _cli("decode", at.token)
    assert code == 0 and "signature: NOT verified" in out and '"at+jwt"' in out
    code, out, _ = await _cli("decode", at.token, "--jwks-uri", f"{stack.broker}/as/jwks")
    assert code == 0 and "signature: verified" in out
    code, out, _ = await _cli("decode", at.token, "--jwks-uri", f"{stack.broker}/idp/jwks")
    assert code == 1 and "signature: NOT verified" in out
    code, _, err = await _cli("decode", "not-a-token")
    assert code == 2 and "not a JWT" in err


async def test_discovery_finds_the_broker_from_the_mcp_servers_metadata(stack: Stack) -> None:
    async with httpx2.AsyncClient() as http:
        found = await discover(stack.resource("calendar"), http)
    assert found.resource == stack.resource("calendar")
    assert found.authorization_servers == (f"{stack.broker}/as",)
    assert set(found.scopes_supported) == {"calendar.read", "calendar.write"}


async def test_discovery_refuses_metadata_that_names_another_resource() -> None:
    port = free_port()

    async def challenge(_: Request) -> Response:
        meta = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
        return Response(status_code=401, headers={"WWW-Authenticate": f'Bearer resource_metadata="{meta}"'})

    async def metadata(_: Request) -> JSONResponse:
        return JSONResponse(
            {"resource": "https://victim.example/mcp", "authorization_servers": ["https://evil.example"]}
        )

    app = Starlette(
        routes=[
            Route("/mcp", challenge, methods=["POST"]),
            Route("/.well-known/oauth-protected-resource/mcp", metadata),
        ]
    )
    async with serving(app, port) as base, httpx2.AsyncClient() as http:
        with pytest.raises(BadBrokerResponse, match="RFC 9728"):
            await discover(f"{base}/mcp", http)
