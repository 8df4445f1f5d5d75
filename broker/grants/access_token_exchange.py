"""The agents' shortcut at leg 2: RFC 8693 with an ID token -> access token in one call.

Both legs run inside the broker; no ID-JAG leaves it. ``requested_token_type`` is
``urn:ietf:params:oauth:token-type:access_token`` and ``resource`` names the MCP server.
"""

from __future__ import annotations

from typing import Final

from broker.constants import GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN
from broker.errors import InvalidRequest
from broker.grants._identity import authorize_identity, verify_id_token
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.grants.issue import issue_access_token
from broker.grants.token_exchange import MULTI_VALUED, Request, check_common

__all__ = ["GRANT_TYPE", "MULTI_VALUED", "Request", "handle"]

GRANT_TYPE: Final = GRANT_TOKEN_EXCHANGE


async def handle(req: Request, client: AuthenticatedClient, ctx: GrantContext) -> TokenResponse:
    """Exchange an ID token directly for an access token bound to ``resource`` (leg 1 + leg 2 policy)."""
    if req.requested_token_type not in (None, TOKEN_TYPE_ACCESS_TOKEN):
        raise InvalidRequest(
            f"requested_token_type must be {TOKEN_TYPE_ACCESS_TOKEN} here; ID-JAGs are issued by leg 1."
        )
    audience, resource = check_common(req)
    as_issuer = ctx.settings.as_issuer
    if audience is not None and audience != as_issuer:
        raise InvalidRequest("The audience of this endpoint's access tokens is set by resource; omit audience.")
    idp, claims = await verify_id_token(req.subject_token, client, ctx)
    grant = authorize_identity(idp, claims, client, ctx, audience=as_issuer, resource=resource, scope=req.scope)
    response = await issue_access_token(grant, ctx, issued_token_type=TOKEN_TYPE_ACCESS_TOKEN)
    ctx.audit.event(
        "access_token.issued",
        "granted",
        via="token_exchange",
        idp=idp.name,
        client_id=client.client_id,
        resource=grant.resource,
        scope=response.scope,
    )
    return response
