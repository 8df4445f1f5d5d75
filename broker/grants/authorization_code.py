"""The authorization code grant at leg 2 (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, RFC 7636 §4.5-4.6, RFC 8707 §2.2).

The code is single use: a second redemption is refused and revokes every token issued from the
first (RFC 6749 §4.1.2). It must be redeemed by the client it was issued to, with the same
``redirect_uri`` and the PKCE verifier of its challenge; a ``resource`` sent here must be the one
the code was issued for.
"""

from __future__ import annotations

from typing import Final

import msgspec

from broker.constants import GRANT_AUTHORIZATION_CODE
from broker.core.pkce import verifier_matches
from broker.errors import InvalidGrant, InvalidTarget
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.interactive.records import CodeRecord, code_key, used_key
from broker.interactive.tokens import issue_tokens, load_bound, revoke_family

__all__ = ["GRANT_TYPE", "MULTI_VALUED", "Request", "handle"]

GRANT_TYPE: Final = GRANT_AUTHORIZATION_CODE
MULTI_VALUED: Final = frozenset[str]()


class Request(msgspec.Struct, frozen=True, kw_only=True):
    """RFC 6749 §4.1.3 parameters (``code_verifier``: RFC 7636 §4.5; ``resource``: RFC 8707 §2.2)."""

    code: str
    redirect_uri: str
    code_verifier: str
    resource: str | None = None


async def handle(req: Request, client: AuthenticatedClient, ctx: GrantContext) -> TokenResponse:
    """Redeem an authorization code once, for its client, redirect URI, verifier and resource."""
    record = await load_bound(code_key(req.code), CodeRecord, client, ctx, name="authorization code", short="code")
    if not await ctx.store.claim_once(used_key(req.code), ctx.settings.interactive.code_ttl * 2):
        await revoke_family(record.family, ctx, reason="authorization code replayed")
        raise InvalidGrant("The authorization code was already used.", detail="code replay: family revoked")
    if req.redirect_uri != record.redirect_uri:
        raise InvalidGrant("The redirect_uri does not match the authorization request.", detail="redirect mismatch")
    if not verifier_matches(req.code_verifier, record.code_challenge):
        raise InvalidGrant("The code_verifier does not match the code_challenge.", detail="PKCE verification failed")
    if req.resource is not None and req.resource != record.grant.resource:
        raise InvalidTarget(
            "The resource does not match the authorization request.", detail="resource differs from the code's"
        )
    family_expires_at = ctx.now() + ctx.settings.interactive.refresh_token_max_lifetime
    return await issue_tokens(record.grant, client, ctx, family=record.family, family_expires_at=family_expires_at)
