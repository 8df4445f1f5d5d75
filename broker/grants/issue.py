"""Minting and caching: sign an ID-JAG, or get-or-mint an access token through the shared cache."""

from __future__ import annotations

from typing import Any

import msgspec

from broker.constants import TOKEN_TYPE_ID_JAG
from broker.core.jose import sign_jwt
from broker.core.tokens import (
    Grant,
    access_token_claims,
    access_token_header,
    cache_key,
    id_jag_claims,
    id_jag_header,
    new_jti,
)
from broker.grants.base import GrantContext, TokenResponse

__all__ = ["access_token_ttl", "issue_access_token", "issue_id_jag", "redeem_for_access_token", "sign_access_token"]


class _Cached(msgspec.Struct, array_like=True):
    token: str
    exp: int
    scope: str


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Cached).decode


def issue_id_jag(grant: Grant, ctx: GrantContext, client_id_at_audience: str) -> TokenResponse:
    """Sign an ID-JAG for ``grant`` with the leg-1 key (ID-JAG §3.1, §4.3.4)."""
    now = ctx.now()
    ttl = ctx.settings.id_jag_ttl
    keys = ctx.idp_keys
    claims = id_jag_claims(
        grant,
        issuer=ctx.settings.idp_issuer,
        client_id_at_audience=client_id_at_audience,
        jti=new_jti(),
        now=now,
        ttl=ttl,
    )
    token = sign_jwt(id_jag_header(keys.alg, keys.kid), claims, keys.signing_key)
    return TokenResponse(
        access_token=token,
        token_type="N_A",  # RFC 8693 §2.2.1: the ID-JAG is not an OAuth access token
        expires_in=ttl,
        scope=claims["scope"],
        issued_token_type=TOKEN_TYPE_ID_JAG,
        resource=grant.resource,
    )


def access_token_ttl(grant: Grant, ctx: GrantContext) -> int:
    """Default lifetime capped by the resource's ``token_ttl`` (DESIGN OQ-10)."""
    res = ctx.trust.resources[grant.resource] if grant.resource is not None else None
    ttl = ctx.settings.access_token_ttl
    return min(ttl, res.token_ttl) if res is not None else ttl


def sign_access_token(grant: Grant, ctx: GrantContext) -> tuple[str, dict[str, Any]]:
    """Sign a fresh RFC 9068 access token; returns it and its claims."""
    keys = ctx.as_keys
    claims = access_token_claims(
        grant, issuer=ctx.settings.as_issuer, jti=new_jti(), now=ctx.now(), ttl=access_token_ttl(grant, ctx)
    )
    return sign_jwt(access_token_header(keys.alg, keys.kid), claims, keys.signing_key), claims


def mint_access_token(grant: Grant, ctx: GrantContext) -> tuple[bytes, int]:
    """Sign a fresh RFC 9068 access token; returns (cache value, expiry)."""
    token, claims = sign_access_token(grant, ctx)
    return _encode(_Cached(token, claims["exp"], claims["scope"])), claims["exp"]


def response_from_cached(
    value: bytes, ctx: GrantContext, issued_token_type: str | None, resource: str | None
) -> TokenResponse:
    """Turn a cached access token into a token response with its remaining lifetime."""
    cached = _decode(value)
    return TokenResponse(
        access_token=cached.token,
        token_type="Bearer",
        expires_in=max(cached.exp - ctx.now(), 0),
        scope=cached.scope,
        issued_token_type=issued_token_type,
        resource=resource,
    )


async def issue_access_token(grant: Grant, ctx: GrantContext, *, issued_token_type: str | None = None) -> TokenResponse:
    """Return the cached access token for (subject, client, resource, scopes), or mint one once.

    A repeat request gets the cached token while at least ``cache_min_remaining`` seconds remain;
    concurrent identical requests mint once (the store's single-flight).
    """
    assert grant.resource is not None  # noqa: S101 - guaranteed by the grant handlers
    key = cache_key(grant.subject, grant.client_id, grant.resource, grant.scopes)

    async def mint() -> tuple[bytes, int]:
        return mint_access_token(grant, ctx)

    value = await ctx.store.cache_get_or_mint(key, mint, ctx.now() + ctx.settings.cache_min_remaining)
    return response_from_cached(value, ctx, issued_token_type, grant.resource)


async def redeem_for_access_token(grant: Grant, ctx: GrantContext, replay_key: str, ttl: int) -> TokenResponse | None:
    """Consume ``replay_key`` once, then :func:`issue_access_token`; None (nothing issued) on a replay.

    The store claims the key and reads the cache in one round trip; the claim is made first, so a
    replayed assertion never reaches the cache (EMA §7.4.2).
    """
    assert grant.resource is not None  # noqa: S101 - guaranteed by the grant handlers
    key = cache_key(grant.subject, grant.client_id, grant.resource, grant.scopes)

    async def mint() -> tuple[bytes, int]:
        return mint_access_token(grant, ctx)

    fresh_until = ctx.now() + ctx.settings.cache_min_remaining
    value = await ctx.store.claim_then_get_or_mint(replay_key, ttl, key, mint, fresh_until)
    return None if value is None else response_from_cached(value, ctx, None, grant.resource)
