"""ASGI wrapper around one service's SDK app: step-up challenges and failing closed.

The SDK enforces one endpoint-wide scope and answers 401/403 itself; this wrapper adds what a
serious resource server needs on top (MCP authorization spec §"Scope challenge handling",
RFC 6750 §3.1):

- a ``tools/call`` of a write tool without the write scope gets HTTP 403 ``insufficient_scope``
  with ``scope="<read> <write>"`` before the call runs, so clients can step up;
- the SDK's own 403 gains the missing ``scope=`` parameter;
- if the broker's keys or introspection cannot be reached, 503 ``temporarily_unavailable`` with
  ``Retry-After`` (never a 500, never an accepted token).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any, Final

from mcp.server.auth.provider import AccessToken

from mcp_server.errors import VerifierUnavailable
from mcp_server.settings import ResolvedService
from mcp_server.verifier import BrokerTokenVerifier

__all__ = ["ServiceGate", "challenge"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

RETRY_AFTER: Final = "5"


def challenge(error: str, description: str, *, scope: str | None, resource_metadata: str) -> str:
    """A ``WWW-Authenticate: Bearer`` value (RFC 6750 §3, RFC 9728 §5.1)."""
    parts = [f'error="{error}"', f'error_description="{description}"']
    if scope:
        parts.append(f'scope="{scope}"')
    parts.append(f'resource_metadata="{resource_metadata}"')
    return "Bearer " + ", ".join(parts)


async def _send_json(send: Send, status: int, body: dict[str, str], headers: list[tuple[bytes, bytes]]) -> None:
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(raw)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": raw})


def _called_tools(body: bytes) -> list[str]:
    """Names of the tools a JSON-RPC message or batch calls; [] when it is not parseable (the SDK answers)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    messages = doc if isinstance(doc, list) else [doc]
    names = []
    for m in messages:
        if isinstance(m, dict) and m.get("method") == "tools/call" and isinstance(m.get("params"), dict):
            name = m["params"].get("name")
            if isinstance(name, str):
                names.append(name)
    return names


def _bearer(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            text = value.decode("latin-1")
            return text[7:] if text[:7].lower() == "bearer " else None
    return None


class ServiceGate:
    """Wraps the SDK app of ``service`` (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: ResolvedService,
        verifier: BrokerTokenVerifier,
        write_tools: Collection[str],
        resource_metadata_url: str,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.service = service
        self.verifier = verifier
        self.write_tools = frozenset(write_tools)
        self.metadata_url = resource_metadata_url
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] == 403:
                    message = self._with_scope(message)
            await send(message)

        try:
            token = _bearer(scope)
            access = None if token is None else await self.verifier.verify_for_request(token)
            if scope["method"] == "POST":
                body = await self._read_body(receive)
                if body is None:
                    await _send_json(send, 413, {"error": "request_too_large"}, [])
                    return
                if access is not None and await self._refuse_missing_write_scope(access, body, send):
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_tracking)
        except VerifierUnavailable as exc:
            logger.warning("cannot verify tokens at %s: %s", self.service.name, exc.reason)
            if not started:
                await _send_json(
                    send,
                    503,
                    {
                        "error": "temporarily_unavailable",
                        "error_description": "the authorization server is unreachable",
                    },
                    [(b"retry-after", RETRY_AFTER.encode())],
                )

    async def _read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None when it exceeds the cap."""
        chunks = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return bytes(chunks)  # disconnect: let the SDK see what arrived
            chunks += message.get("body", b"")
            if len(chunks) > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return bytes(chunks)

    async def _refuse_missing_write_scope(self, access: AccessToken, body: bytes, send: Send) -> bool:
        if self.service.write_scope in access.scopes or not self.write_tools.intersection(_called_tools(body)):
            return False
        header = challenge(
            "insufficient_scope",
            f"Required scope: {self.service.write_scope}",
            scope=f"{self.service.read_scope} {self.service.write_scope}",
            resource_metadata=self.metadata_url,
        )
        await _send_json(
            send,
            403,
            {"error": "insufficient_scope", "error_description": f"Required scope: {self.service.write_scope}"},
            [(b"www-authenticate", header.encode())],
        )
        return True

    def _with_scope(self, message: Message) -> Message:
        headers = []
        for key, value in message.get("headers", []):
            if key.lower() == b"www-authenticate" and b"insufficient_scope" in value and b"scope=" not in value:
                value = challenge(
                    "insufficient_scope",
                    f"Required scope: {self.service.read_scope}",
                    scope=self.service.read_scope,
                    resource_metadata=self.metadata_url,
                ).encode()
            headers.append((key, value))
        return {**message, "headers": headers}


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
