"""Token endpoints: the fixed pipeline every grant goes through (STYLE P2).

``no-store`` -> form body only -> parse -> reject repeated parameters (RFC 6749 §3.2) ->
authenticate the client -> look up the grant (unknown: ``unsupported_grant_type``) -> client
allowed this grant (else ``unauthorized_client``) -> decode the grant's Struct (bad:
``invalid_request`` naming the parameter) -> handle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import msgspec
from litestar import Request

from broker.client_auth import ClientAuthenticator
from broker.errors import InvalidRequest, OAuthError, UnauthorizedClient, UnsupportedGrantType
from broker.grants import GRANT_HANDLERS, Role
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.interactive.flow import InteractiveFlow

AnyRequest = Request[Any, Any, Any]

__all__ = ["Services", "parse_form", "reject_repeats", "run_token_pipeline"]

Form = dict[str, list[str]]
_MAX_FIELDS = 32


@dataclass(slots=True)
class Services:
    """What the HTTP layer needs; one instance per app, kept in ``app.state``."""

    ctx: GrantContext
    authenticator: ClientAuthenticator
    flow: InteractiveFlow | None = None
    """The interactive fallback's endpoints, when ``[interactive] enabled``."""


async def parse_form(request: AnyRequest) -> Form:
    """Read an ``application/x-www-form-urlencoded`` body (RFC 6749 §3.2); blank values are omitted (§3.1).

    Raises:
        InvalidRequest: another content type, bad encoding, or too many fields.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        raise InvalidRequest("The request body must be application/x-www-form-urlencoded.")
    body = await request.body()
    try:
        text = body.decode("utf-8")
        return parse_qs(text, keep_blank_values=False, strict_parsing=False, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("The request body is not valid form encoding.") from None


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


async def run_token_pipeline(request: AnyRequest, role: Role, services: Services, audience: str) -> TokenResponse:
    """Run the fixed pipeline for one token request at ``role``'s endpoint."""
    ctx = services.ctx
    form = await parse_form(request)
    table = GRANT_HANDLERS[role]
    reject_repeats(form, {m for h in table.values() for m in h.multi_valued})
    grant_type_values = form.get("grant_type")
    if not grant_type_values:
        raise InvalidRequest("The grant_type parameter is required.")
    client: AuthenticatedClient | None = None
    grant_type = grant_type_values[0]
    try:
        client = await services.authenticator.authenticate(request.headers.get("authorization"), form, audience)
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
