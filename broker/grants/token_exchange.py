"""Leg 1: RFC 8693 token exchange, enterprise ID token -> ID-JAG (ID-JAG §4.3)."""

from __future__ import annotations

from typing import Final

import msgspec

from broker.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN
from broker.core.resources import check_resource_syntax, single_value
from broker.errors import InvalidRequest
from broker.grants._identity import authorize_identity, verify_id_token
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.grants.issue import issue_id_jag

__all__ = ["GRANT_TYPE", "MULTI_VALUED", "Request", "handle"]

GRANT_TYPE: Final = GRANT_TOKEN_EXCHANGE
MULTI_VALUED: Final = frozenset({"audience", "resource"})
"""RFC 8693 §2.1 / RFC 8707 allow these more than once; we then refuse >1 with ``invalid_target``."""


class Request(msgspec.Struct, kw_only=True):
    """RFC 8693 §2.1 parameters (ID-JAG §4.3 profile)."""

    subject_token: str
    subject_token_type: str
    requested_token_type: str | None = None
    audience: list[str] = msgspec.field(default_factory=list)
    resource: list[str] = msgspec.field(default_factory=list)
    scope: str | None = None
    actor_token: str | None = None
    actor_token_type: str | None = None
    authorization_details: str | None = None


def check_common(req: Request) -> tuple[str | None, str | None]:
    """Rules shared by both token-exchange profiles; returns the single (audience, resource).

    Raises:
        InvalidRequest: unsupported subject token type or an actor token (RFC 8693 §2.1, DESIGN OQ-22).
        InvalidTarget: several audiences/resources, or a malformed resource (RFC 8707 §2).
    """
    if req.subject_token_type != TOKEN_TYPE_ID_TOKEN:
        raise InvalidRequest(f"Unsupported subject_token_type; only {TOKEN_TYPE_ID_TOKEN} is accepted.")
    if req.actor_token is not None or req.actor_token_type is not None:
        raise InvalidRequest("Actor tokens are not supported.")
    if req.authorization_details is not None:
        # RFC 9396 is not offered: refuse rather than silently issue a broader grant (checklist L1-45).
        raise InvalidRequest("authorization_details is not supported; use scope and resource.")
    audience = single_value(req.audience, "audience")
    resource = single_value(req.resource, "resource")
    if resource is not None:
        check_resource_syntax(resource)
    return audience, resource


async def handle(req: Request, client: AuthenticatedClient, ctx: GrantContext) -> TokenResponse:
    """Exchange an ID token for an ID-JAG for one authorization server and resource.

    ID-JAG §4.3: ``requested_token_type`` and ``audience`` are REQUIRED; the subject token is
    validated against the authenticated client; policy decides the granted resource and scopes.
    """
    if req.requested_token_type != TOKEN_TYPE_ID_JAG:
        raise InvalidRequest(f"requested_token_type must be {TOKEN_TYPE_ID_JAG} at this endpoint.")
    audience, resource = check_common(req)
    if audience is None:
        raise InvalidRequest("The audience parameter is required.")
    idp, claims = await verify_id_token(req.subject_token, client, ctx)
    grant = authorize_identity(idp, claims, client, ctx, audience=audience, resource=resource, scope=req.scope)
    ext = ctx.trust.externals.get(grant.audience)
    client_id_at_audience = ext.client_ids.get(client.client_id, client.client_id) if ext else client.client_id
    response = issue_id_jag(grant, ctx, client_id_at_audience)
    ctx.audit.event(
        "id_jag.issued",
        "granted",
        idp=idp.name,
        client_id=client.client_id,
        audience=grant.audience,
        resource=grant.resource,
        scope=response.scope,
    )
    return response
