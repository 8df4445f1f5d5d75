"""Native ID-JAG issuance: RFC 8693 token exchange of an ID token this IdP issued (ID-JAG §4.3).

The request names the resource authorization server (``audience``), optionally the MCP server
(``resource``) and ``scope``. The answer is an ID-JAG (``typ: oauth-id-jag+jwt``, ID-JAG §3.1) in an
RFC 8693 §2.2.1 response with ``issued_token_type`` id-jag and ``token_type`` ``N_A``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from joserfc.jwt import JWTClaimsRegistry

from idp_mock.context import IdpContext
from idp_mock.errors import InvalidClient, InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget
from idp_mock.keys import OwnTokenInvalid
from idp_mock.params import Params
from idp_mock.settings import ClientConfig
from idp_mock.state import new_secret

__all__ = [
    "GRANT_TYPE",
    "ID_JAG_TYP",
    "TOKEN_TYPE_ID_JAG",
    "TOKEN_TYPE_ID_TOKEN",
    "handle",
]

GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
"""RFC 8693 §2.1."""
TOKEN_TYPE_ID_TOKEN: Final = "urn:ietf:params:oauth:token-type:id_token"
"""RFC 8693 §3."""
TOKEN_TYPE_ID_JAG: Final = "urn:ietf:params:oauth:token-type:id-jag"
"""ID-JAG §4.3 / §10."""
ID_JAG_TYP: Final = "oauth-id-jag+jwt"
"""ID-JAG §3.1: the JOSE ``typ`` of an ID-JAG."""

_SCOPE_TOKEN: Final = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 §3.3
_log = logging.getLogger("idp_mock")


def _single_target(params: Params, name: str) -> str | None:
    """RFC 8693 §2.1 allows repeats; one audience and one resource per ID-JAG here (RFC 8693 §2.2.2)."""
    values = params.all(name)
    if len(values) > 1:
        raise InvalidTarget(f"Only one {name} per request is supported.")
    return values[0] if values else None


def _check_resource(resource: str) -> None:
    """RFC 8707 §2: an absolute URI without a fragment."""
    parts = urlsplit(resource)
    if not parts.scheme or not parts.netloc or parts.fragment:
        raise InvalidTarget("resource must be an absolute URI without a fragment (RFC 8707 §2).")


def _check_scope(scope: str) -> None:
    if not all(_SCOPE_TOKEN.match(s) for s in scope.split(" ")):
        raise InvalidScope("scope is not a space-separated list of scope tokens (RFC 6749 §3.3).")


def _verify_subject(ctx: IdpContext, client: ClientConfig, token: str) -> dict[str, Any]:
    """The subject token must be an ID token this IdP issued to the authenticated client (ID-JAG §4.3.3)."""
    registry = JWTClaimsRegistry(
        now=ctx.now_int,
        leeway=ctx.settings.clock_skew,
        iss={"essential": True, "value": ctx.issuer},
        aud={"essential": True, "value": client.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    )
    try:
        claims = ctx.keys.verify(token, typ="JWT", claims=registry)
    except OwnTokenInvalid as exc:
        _log.info("ID-JAG exchange refused for client %s: %s", client.client_id, exc.reason)
        raise InvalidGrant("The subject token is not a valid ID token issued to this client.") from None
    azp = claims.get("azp")
    if azp is not None and azp != client.client_id:
        raise InvalidGrant("The subject token is not a valid ID token issued to this client.")
    return claims


@dataclass(frozen=True, slots=True)
class _Exchange:
    subject_token: str
    audience: str
    resource: str | None
    scope: str | None


def _parse(ctx: IdpContext, params: Params) -> _Exchange:
    """RFC 8693 §2.1 parameters, with the ID-JAG profile's fixed token types (ID-JAG §4.3)."""
    subject_token = params.require("subject_token")
    if params.require("subject_token_type") != TOKEN_TYPE_ID_TOKEN:
        raise InvalidRequest(f"subject_token_type must be {TOKEN_TYPE_ID_TOKEN}.")
    if params.require("requested_token_type") != TOKEN_TYPE_ID_JAG:
        raise InvalidRequest(f"requested_token_type must be {TOKEN_TYPE_ID_JAG}.")
    if "actor_token" in params or "actor_token_type" in params:
        raise InvalidRequest("actor_token is not supported.")
    audience = _single_target(params, "audience")
    if audience is None:
        raise InvalidRequest("The audience parameter is required.")
    if audience not in ctx.settings.id_jag.audiences:
        raise InvalidTarget("This identity provider does not issue ID-JAGs for that audience.")
    resource = _single_target(params, "resource")
    if resource is not None:
        _check_resource(resource)
    scope = params.one("scope")
    if scope is not None:
        _check_scope(scope)
    return _Exchange(subject_token, audience, resource, scope)


def handle(ctx: IdpContext, client: ClientConfig, params: Params) -> dict[str, Any]:
    """Exchange an ID token for an ID-JAG (ID-JAG §4.3, RFC 8693 §2).

    Raises:
        InvalidClient: a public client (client authentication is required, EMA §7.7).
        InvalidRequest: missing or unsupported token types, missing ``audience``, ``actor_token``.
        InvalidTarget: audience not configured, several audiences/resources, malformed resource.
        InvalidScope: malformed scope.
        InvalidGrant: the subject token is not a valid ID token issued to this client.
    """
    if client.public:
        raise InvalidClient("Token exchange requires client authentication.")
    req = _parse(ctx, params)
    subject = _verify_subject(ctx, client, req.subject_token)
    now = ctx.now_int()
    ttl = ctx.settings.id_jag.ttl
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": subject["sub"],
        "aud": req.audience,
        "client_id": client.id_jag_client_ids.get(req.audience, client.client_id),
        "jti": new_secret(),
        "iat": now,
        "exp": now + ttl,
    }
    optional = {"resource": req.resource, "scope": req.scope, **{k: subject.get(k) for k in ("auth_time", "email")}}
    claims.update({k: v for k, v in optional.items() if v is not None})
    # ID-JAG §9.2: record audience, resource, scope and client (never the tokens).
    _log.info(
        "ID-JAG issued: client=%s audience=%s resource=%s scope=%s",
        client.client_id,
        req.audience,
        req.resource,
        req.scope,
    )
    body: dict[str, Any] = {
        "access_token": ctx.keys.sign(claims, typ=ID_JAG_TYP),
        "issued_token_type": TOKEN_TYPE_ID_JAG,
        "token_type": "N_A",
        "expires_in": ttl,
    }
    # RFC 8693 §2.2.1: scope is echoed; resource too, so the client sees the granted target (RFC 8707 §2.2).
    body.update({k: v for k, v in (("scope", req.scope), ("resource", req.resource)) if v is not None})
    return body
