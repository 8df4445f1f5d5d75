"""The refresh token grant at leg 2 (RFC 6749 §6, OAuth 2.1 §4.3, RFC 8707 §2.2).

Refresh tokens are bound to the client and resource they were issued for, used once and rotated;
a replayed one revokes its family (RFC 9700 §4.14.2). Every refresh re-applies the current policy
to the user's recorded IdP and groups, so a policy change takes effect without a new sign-in.
"""

from __future__ import annotations

from typing import Final

import msgspec

from broker.constants import GRANT_REFRESH_TOKEN
from broker.core.scopes import parse_scope
from broker.errors import InvalidGrant, InvalidTarget, OAuthError
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.interactive.records import RefreshRecord, refresh_key, used_key
from broker.interactive.tokens import family_is_revoked, issue_tokens, load_bound, revoke_family

__all__ = ["GRANT_TYPE", "MULTI_VALUED", "Request", "handle"]

GRANT_TYPE: Final = GRANT_REFRESH_TOKEN
MULTI_VALUED: Final = frozenset[str]()


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """RFC 6749 §6 parameters (``resource``: RFC 8707 §2.2)."""

    refresh_token: str
    scope: str | None = None
    resource: str | None = None


async def handle(req: Request, client: AuthenticatedClient, ctx: GrantContext) -> TokenResponse:
    """Rotate a refresh token: check binding and reuse, re-apply policy, issue a new pair."""
    key = refresh_key(req.refresh_token)
    record = await load_bound(key, RefreshRecord, client, ctx, name="refresh token", short="refresh token")
    if await family_is_revoked(record.family, ctx):
        raise InvalidGrant("The refresh token has been revoked.", detail="family revoked")
    if req.resource is not None and req.resource != record.grant.resource:
        raise InvalidTarget("The refresh token is bound to another resource.", detail="resource differs")
    original = frozenset(record.grant.scopes)
    requested = ctx.trust.narrow(parse_scope(req.scope), original, ceiling="scope of the original grant")
    # Malformed requests above leave the token usable; from here on it is spent.
    ttl = ctx.settings.interactive.refresh_token_max_lifetime
    if not await ctx.store.claim_once(used_key(req.refresh_token), ttl):
        await revoke_family(record.family, ctx, reason="refresh token replayed")
        raise InvalidGrant("The refresh token was already used.", detail="refresh token replay: family revoked")
    try:
        allowed = _current_policy(record, client, ctx)
    except OAuthError as exc:
        await revoke_family(record.family, ctx, reason=f"policy no longer allows: {exc.detail or exc.error}")
        raise InvalidGrant("The user is no longer allowed this access.", detail=exc.detail) from None
    scopes = requested & allowed
    if not scopes:
        await revoke_family(record.family, ctx, reason="policy no longer allows any requested scope")
        raise InvalidGrant("The user is no longer allowed this access.", detail="no scope left under policy")
    return await issue_tokens(
        record.grant, client, ctx, family=record.family, family_expires_at=record.family_expires_at, scopes=scopes
    )


def _current_policy(record: RefreshRecord, client: AuthenticatedClient, ctx: GrantContext) -> frozenset[str]:
    idp = ctx.trust.idp_by_name.get(record.grant.idp)
    if idp is None or idp.login is None:
        raise InvalidGrant("The user's IdP is no longer trusted.", detail=f"idp {record.grant.idp} gone")
    target = ctx.trust.resolve_target(ctx.settings.as_issuer, record.grant.resource)
    return ctx.trust.allowed_scopes(idp, client.client_id, target, record.grant.groups)
