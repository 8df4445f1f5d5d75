"""Tokens of the interactive flow: access token plus a rotated refresh token, grouped in families.

A family starts at one sign-in (one authorization code). Every refresh token is used once and
replaced (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2); presenting a used one, or a used code (RFC 6749
§4.1.2), revokes the whole family, including its latest access token. Access tokens here are never
taken from the shared cache: each sign-in gets its own, so revoking one family leaves others alone.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from broker.constants import GRANT_REFRESH_TOKEN
from broker.core.scopes import format_scope
from broker.errors import InvalidGrant, UnauthorizedClient
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.grants.issue import sign_access_token
from broker.interactive.records import (
    CodeRecord,
    GrantRecord,
    RefreshRecord,
    decode,
    encode,
    family_at_key,
    family_revoked_key,
    new_secret,
    refresh_key,
)

__all__ = ["family_is_revoked", "issue_tokens", "load_bound", "revoke_family", "revoke_refresh_token"]

_Bound = TypeVar("_Bound", CodeRecord, RefreshRecord)


class _FamilyAccessToken(msgspec.Struct, array_like=True):
    jti: str
    exp: int


async def issue_tokens(
    record: GrantRecord,
    client: AuthenticatedClient,
    ctx: GrantContext,
    *,
    family: str,
    family_expires_at: int,
    scopes: frozenset[str] | None = None,
) -> TokenResponse:
    """Mint an access token for ``record`` and, if the client may refresh, a new refresh token of ``family``."""
    grant = record.grant(client.client_id, ctx.settings.as_issuer, scopes)
    token, claims = sign_access_token(grant, ctx)
    now = ctx.now()
    await ctx.store.state_put(
        family_at_key(family),
        msgspec.msgpack.encode(_FamilyAccessToken(claims["jti"], claims["exp"])),
        max(claims["exp"] - now, 1),
    )
    refresh_token: str | None = None
    interactive = ctx.settings.interactive
    if interactive.refresh_tokens and GRANT_REFRESH_TOKEN in client.config.grant_types:
        ttl = min(interactive.refresh_token_ttl, family_expires_at - now)
        if ttl > 0:
            refresh_token = new_secret()
            rt = RefreshRecord(
                client_id=client.client_id, grant=record, family=family, family_expires_at=family_expires_at
            )
            await ctx.store.state_put(refresh_key(refresh_token), encode(rt), ttl)
    ctx.audit.event(
        "access_token.issued",
        "issued",
        grant_type="interactive",
        client_id=client.client_id,
        sub=grant.subject,
        resource=grant.resource,
        scope=format_scope(grant.scopes),
        refresh_token=refresh_token is not None,
    )
    return TokenResponse(
        access_token=token,
        token_type="Bearer",  # noqa: S106 - the RFC 6750 token type, not a secret
        expires_in=claims["exp"] - now,
        scope=claims["scope"],
        resource=grant.resource,
        refresh_token=refresh_token,
    )


async def load_bound(
    key: str, kind: type[_Bound], client: AuthenticatedClient, ctx: GrantContext, *, name: str, short: str
) -> _Bound:
    """The code or refresh token stored under ``key``, if it was issued to ``client`` (RFC 6749 §4.1.3, §6).

    ``name`` is the public word for it ("authorization code"), ``short`` the one for the audit detail.

    Raises:
        InvalidGrant: unknown, expired, or issued to another client.
    """
    raw = await ctx.store.state_get(key)
    if raw is None:
        raise InvalidGrant(f"The {name} is invalid or expired.", detail=f"unknown {short}")
    record: _Bound = decode(raw, kind)
    if record.client_id != client.client_id:
        raise InvalidGrant(f"The {name} was issued to another client.", detail=f"{short} of another client")
    return record


async def family_is_revoked(family: str, ctx: GrantContext) -> bool:
    """Whether ``family`` was revoked (replay, or an explicit revocation)."""
    return await ctx.store.state_get(family_revoked_key(family)) is not None


async def revoke_family(family: str, ctx: GrantContext, *, reason: str) -> None:
    """Revoke every refresh token of ``family`` and its latest access token (RFC 6749 §4.1.2, §10.4)."""
    interactive = ctx.settings.interactive
    await ctx.store.state_put(family_revoked_key(family), b"1", interactive.refresh_token_max_lifetime)
    raw = await ctx.store.state_get(family_at_key(family))
    if raw is not None:
        latest = msgspec.msgpack.decode(raw, type=_FamilyAccessToken)
        ttl = max(latest.exp - ctx.now() + ctx.settings.clock_skew, 1)
        await ctx.store.revoke(latest.jti, ttl, None)
    ctx.audit.event("token_family.revoked", "revoked", reason=reason)


async def revoke_refresh_token(token: str, client: AuthenticatedClient, ctx: GrantContext) -> bool:
    """RFC 7009 §2.1: revoke a refresh token (and its family) issued to ``client``; False if unknown.

    Raises:
        UnauthorizedClient: the token was issued to another client.
    """
    raw = await ctx.store.state_get(refresh_key(token))
    if raw is None:
        return False
    record: RefreshRecord = decode(raw, RefreshRecord)
    if record.client_id != client.client_id:
        raise UnauthorizedClient("The token was not issued to this client.")
    await revoke_family(record.family, ctx, reason="refresh token revoked by its client")
    return True
