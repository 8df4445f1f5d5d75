"""Token endpoints: the fixed pipeline every grant goes through (STYLE P2).

``no-store`` -> POST only -> body within the size cap -> form body only -> parse -> reject repeated
parameters (RFC 6749 §3.2) -> authenticate the client -> look up the grant (unknown:
``unsupported_grant_type``) -> client allowed this grant (else ``unauthorized_client``) -> decode the
grant's Struct (bad: ``invalid_request`` naming the parameter) -> handle.

The two token endpoints are the hot path (every agent tool call may pass through one), so they are
plain ASGI handlers inside the Litestar app (:func:`token_endpoint`): they read the body and the two
headers they need straight from the ASGI messages and send the JSON answer themselves, which saves
Litestar's request/response machinery (~45 µs a request, measured by ``scripts/bench``). Errors are
raised as before and rendered by the app's exception handlers (``broker.http.responses``), so an
error looks the same on every endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote_plus

import msgspec
from litestar import Request
from litestar.exceptions import ClientException, MethodNotAllowedException
from litestar.handlers import ASGIRouteHandler, asgi
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE
from litestar.types import HTTPScope, Receive, Scope, Send

from broker.client_auth import ClientAuthenticator
from broker.errors import InvalidRequest, OAuthError, UnauthorizedClient, UnsupportedGrantType
from broker.grants import GRANT_HANDLERS, Role
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.interactive.flow import InteractiveFlow

AnyRequest = Request[Any, Any, Any]

__all__ = [
    "Services",
    "TokenHttpRequest",
    "decode_urlencoded",
    "parse_form",
    "parse_form_body",
    "reject_repeats",
    "run_token_pipeline",
    "token_endpoint",
]

Form = dict[str, list[str]]
_MAX_FIELDS = 32


@dataclass(slots=True)
class Services:
    """What the HTTP layer needs; one instance per app, kept in ``app.state``."""

    ctx: GrantContext
    authenticator: ClientAuthenticator
    flow: InteractiveFlow | None = None
    """The interactive fallback's endpoints, when ``[interactive] enabled``."""


@dataclass(frozen=True, slots=True)
class TokenHttpRequest:
    """What the token pipeline reads from an HTTP request: two headers and the body."""

    content_type: str | None
    authorization: str | None
    body: bytes


async def parse_form(request: AnyRequest) -> Form:
    """Read a Litestar request's form body: see :func:`parse_form_body`."""
    return parse_form_body(request.headers.get("content-type"), await request.body())


def parse_form_body(content_type: str | None, body: bytes) -> Form:
    """Parse an ``application/x-www-form-urlencoded`` body (RFC 6749 §3.2); blank values are omitted (§3.1).

    Raises:
        InvalidRequest: another content type, bad encoding, or too many fields.
    """
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise InvalidRequest("The request body must be application/x-www-form-urlencoded.")
    try:
        return decode_urlencoded(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The request body is not valid form encoding.") from None


_SHORT: Final = 128
_unquote_short: Final = lru_cache(maxsize=512)(unquote_plus)
"""Names and short values (grant types, URNs, resource URLs) repeat from request to request: decode each once."""


def decode_urlencoded(text: str) -> Form:
    """``urllib.parse.parse_qs(text, max_num_fields=32)``, the same result for every input, in a fifth of the time.

    The token endpoints parse a form on every request; ``parse_qs`` spends most of its time in
    per-call set-up and in decoding the same short names and URNs again. Percent-decoding is still
    ``unquote_plus`` (UTF-8, invalid sequences replaced); a pair with an empty raw value is omitted,
    as ``parse_qs`` does without ``keep_blank_values``.

    Raises:
        ValueError: more than 32 fields (as ``parse_qs`` raises).
    """
    if text.count("&") >= _MAX_FIELDS:
        raise ValueError("Max number of fields exceeded")
    form: Form = {}
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        if not value:
            continue
        name = _unquote_short(name) if len(name) <= _SHORT else unquote_plus(name)
        value = _unquote_short(value) if len(value) <= _SHORT else unquote_plus(value)
        values = form.get(name)
        if values is None:
            form[name] = [value]
        else:
            values.append(value)
    return form


def reject_repeats(form: Form, allowed: Iterable[str] = ()) -> None:
    """RFC 6749 §3.2: request parameters MUST NOT be included more than once (unless the grant allows it).

    Raises:
        InvalidRequest: naming the repeated parameter.
    """
    multi = set(allowed)
    for name, values in form.items():
        if len(values) > 1 and name not in multi:
            raise InvalidRequest(f"The {name[:40]} parameter must not be repeated.")


_MISSING = re.compile(r"Object missing required field `([^`]+)`")
_AT = re.compile(r"at `\$\.([A-Za-z_]+)")


def _decode(form: Form, request_type: type[object], multi: frozenset[str]) -> object:
    fields = request_type.__struct_fields__  # type: ignore[attr-defined]
    data: dict[str, object] = {}
    for name in fields:
        values = form.get(name)
        if values:
            data[name] = values if name in multi else values[0]
    try:
        return msgspec.convert(data, type=request_type)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        missing = _MISSING.search(msg)
        if missing:
            raise InvalidRequest(f"The {missing.group(1)} parameter is required.") from None
        at = _AT.search(msg)
        raise InvalidRequest(f"The {at.group(1) if at else 'request'} parameter is invalid.") from None


_MULTI_VALUED_ANY: Final[dict[str, frozenset[str]]] = {
    role: frozenset(m for h in table.values() for m in h.multi_valued) for role, table in GRANT_HANDLERS.items()
}
"""Parameters some grant of the role may repeat; the grant's own list is checked once it is known."""


async def run_token_pipeline(request: TokenHttpRequest, role: Role, services: Services, audience: str) -> TokenResponse:
    """Run the fixed pipeline for one token request at ``role``'s endpoint."""
    ctx = services.ctx
    form = parse_form_body(request.content_type, request.body)
    table = GRANT_HANDLERS[role]
    reject_repeats(form, _MULTI_VALUED_ANY[role])
    grant_type_values = form.get("grant_type")
    if not grant_type_values:
        raise InvalidRequest("The grant_type parameter is required.")
    client: AuthenticatedClient | None = None
    grant_type = grant_type_values[0]
    try:
        client = await services.authenticator.authenticate(request.authorization, form, audience)
        handler = table.get(grant_type)
        if handler is None:
            raise UnsupportedGrantType(f"This endpoint does not support the grant type {grant_type[:80]!r}.")
        if grant_type not in client.config.grant_types:
            raise UnauthorizedClient()
        reject_repeats(form, handler.multi_valued)
        grant_request = _decode(form, handler.request_type, handler.multi_valued)
        return await handler.handle(grant_request, client, ctx)
    except OAuthError as exc:
        ctx.audit.event(
            "token.refused",
            exc.error,
            role=role,
            grant_type=grant_type[:80],
            client_id=client.client_id if client else None,
            reason=exc.detail,
        )
        raise


_JSON_NO_STORE: Final = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),  # RFC 6749 §5.1
    (b"pragma", b"no-cache"),
]
_encode_json = msgspec.json.Encoder().encode


def _too_large() -> ClientException:
    return ClientException(status_code=HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail="Request Entity Too Large")


def _headers(scope: HTTPScope, max_body: int) -> tuple[str | None, str | None]:
    """``Content-Type`` and ``Authorization`` of a token request, after the method and size checks.

    Raises:
        MethodNotAllowedException: not a POST (RFC 6749 §3.2).
        InvalidRequest: a repeated ``Content-Type`` or ``Authorization`` header (one credential per
            request, RFC 6749 §2.3).
        ClientException: 413, the announced body exceeds ``max_body`` (refused before reading it).
    """
    if scope["method"] != "POST":
        raise MethodNotAllowedException(headers={"Allow": "POST"})
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:  # ASGI header names are lower-case
        if name in _READ_HEADERS:
            if name in found:
                raise InvalidRequest(f"The {_READ_HEADERS[name]} header must not be repeated.")
            found[name] = value.decode("latin-1")
    length = found.get(b"content-length", "")
    if length.isdigit() and int(length) > max_body:
        raise _too_large()
    return found.get(b"content-type"), found.get(b"authorization")


_READ_HEADERS: Final = {
    b"content-type": "Content-Type",
    b"authorization": "Authorization",
    b"content-length": "Content-Length",
}


async def _body(receive: Receive, max_body: int) -> bytes:
    """The request body, refused once it exceeds ``max_body`` bytes (413) or if the client leaves (400)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise InvalidRequest("The client went away before sending the request body.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def token_endpoint(path: str, role: Role, audience: Callable[[Services], str]) -> ASGIRouteHandler:
    """The token endpoint of ``role`` at ``path``, as a plain ASGI handler (see the module docstring).

    Args:
        path: the route path.
        role: which grant table serves it.
        audience: picks this endpoint's issuer identifier (the ``aud`` of client assertions).
    """

    @asgi(path, copy_scope=False)
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["app"].state.services
        limit = services.ctx.settings.max_body_bytes
        content_type, authorization = _headers(scope, limit)  # type: ignore[arg-type] # HTTP route: an HTTPScope
        request = TokenHttpRequest(content_type, authorization, await _body(receive, limit))
        body = _encode_json(await run_token_pipeline(request, role, services, audience(services)))
        headers = [*_JSON_NO_STORE, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return endpoint
