"""HTTP-level rules of the token endpoints, which read the request straight from ASGI (broker.http.token).

Method, size cap, one credential header, and what the answer looks like: the same on both roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from broker.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN
from tests.broker_env import AS_ISSUER, FILES, BrokerEnv, assert_error, basic

PATHS = ["/idp/token", "/as/token"]


def _leg1_form(broker: BrokerEnv) -> dict[str, str]:
    return {
        "grant_type": GRANT_TOKEN_EXCHANGE,
        "requested_token_type": TOKEN_TYPE_ID_JAG,
        "subject_token": broker.acme.id_token(),
        "subject_token_type": TOKEN_TYPE_ID_TOKEN,
        "audience": AS_ISSUER,
        "resource": FILES,
        "scope": "files.read",
    }


async def _asgi(
    broker: BrokerEnv, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> dict[str, Any]:
    """Drive the app with a raw ASGI request whose body arrives in ``chunks``; returns status, headers, body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    messages: Iterator[dict[str, Any]] = iter(
        [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    )
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}
        else:
            out["body"] += message.get("body", b"")

    await broker.app(scope, receive, send)  # type: ignore[arg-type]
    return out


@pytest.mark.parametrize("path", PATHS)
async def test_token_endpoint_takes_post_only_and_names_it_in_allow(broker: BrokerEnv, path: str) -> None:
    """RFC 6749 §3.2: the client MUST use POST; 405 says which method is allowed (RFC 9110 §15.5.6)."""
    for method in ("GET", "PUT", "DELETE"):
        r = await broker.http.request(method, path)
        assert r.status_code == 405, (method, r.text)
        assert r.headers["allow"] == "POST"
        assert r.json()["error"] == "invalid_request"
        assert "access_token" not in r.text


@pytest.mark.parametrize("path", PATHS)
async def test_a_second_authorization_header_is_invalid_request(broker: BrokerEnv, path: str) -> None:
    """RFC 6749 §2.3: one authentication method per request; two credentials are not picked between."""
    other = basic("other-app")["Authorization"]
    r = await broker.http.post(
        path,
        content=urlencode(_leg1_form(broker)),
        headers=[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Authorization", basic("agent-app")["Authorization"]),
            ("Authorization", other),
        ],
    )
    assert_error(r, 400, "invalid_request", "The Authorization header must not be repeated.")


async def test_a_second_content_type_header_is_invalid_request(broker: BrokerEnv) -> None:
    """RFC 6749 §3.2: the body is form-encoded; two declared types are not guessed between."""
    r = await broker.http.post(
        "/idp/token",
        content=urlencode(_leg1_form(broker)),
        headers=[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Type", "application/json"),
            ("Authorization", basic("agent-app")["Authorization"]),
        ],
    )
    assert_error(r, 400, "invalid_request", "The Content-Type header must not be repeated.")


async def test_a_body_over_the_cap_sent_in_chunks_without_length_is_413(broker: BrokerEnv) -> None:
    """Policy (checklist N11): the cap holds for a chunked body too, counted as it arrives, never a token."""
    chunk = b"subject_token=" + b"a" * 40_000
    out = await _asgi(
        broker,
        "/idp/token",
        [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"authorization", basic("agent-app")["Authorization"].encode()),
        ],
        [chunk, b"&" + chunk],
    )
    assert out["status"] == 413
    assert b"access_token" not in out["body"]
    assert out["headers"]["cache-control"] == "no-store"


async def test_an_announced_length_over_the_cap_is_refused_before_the_body(broker: BrokerEnv) -> None:
    """Policy (checklist N11): a Content-Length over the cap is refused without reading the body."""
    out = await _asgi(
        broker,
        "/as/token",
        [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"10000000")],
        [],  # nothing is ever sent: reading would see a disconnect, not a body
    )
    assert out["status"] == 413


async def test_a_body_split_across_chunks_is_read_whole(broker: BrokerEnv) -> None:
    """A form body may arrive in several ASGI messages; the token request is the same."""
    body = urlencode(_leg1_form(broker)).encode()
    out = await _asgi(
        broker,
        "/idp/token",
        [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"authorization", basic("agent-app")["Authorization"].encode()),
        ],
        [body[:100], body[100:300], body[300:]],
    )
    assert out["status"] == 200, out["body"]
    assert out["headers"]["content-type"] == "application/json"
    assert out["headers"]["cache-control"] == "no-store"
    assert out["headers"]["pragma"] == "no-cache"
    assert int(out["headers"]["content-length"]) == len(out["body"])


async def test_a_client_gone_before_the_body_gets_no_token(broker: BrokerEnv) -> None:
    """A disconnect instead of the body is an error, never a half-read request handed to a grant."""
    out = await _asgi(
        broker,
        "/idp/token",
        [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"authorization", basic("agent-app")["Authorization"].encode()),
        ],
        [],
    )
    assert out["status"] == 400
    assert b"access_token" not in out["body"]
