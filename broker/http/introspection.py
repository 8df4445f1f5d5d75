"""RFC 7662 introspection and RFC 7009 revocation of broker-issued access tokens (and refresh tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.constants import ACCESS_TOKEN_TYP
from broker.core.claims import AccessTokenClaims
from broker.core.jose import TokenInvalid, verify_jwt
from broker.core.scopes import scope_claim
from broker.core.tokens import cache_key
from broker.errors import InvalidRequest, UnauthorizedClient
from broker.http.token import AnyRequest, Services, parse_form, reject_repeats
from broker.interactive.tokens import revoke_refresh_token

__all__ = ["introspect", "revoke"]

_ACTIVE_MEMBERS = (
    "scope",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
    "auth_time",
    "acr",
    "amr",
)


def _verify_own(token: str, services: Services) -> Mapping[str, Any] | None:
    """Claims of a valid, unexpired access token we issued, or None."""
    ctx = services.ctx
    keys = ctx.as_keys
    try:
        return verify_jwt(
            token,
            keys=keys.verification_keys(),
            algorithms=(keys.alg,),
            typ=ACCESS_TOKEN_TYP,
            claims=AccessTokenClaims(now=ctx.now, leeway=0, issuer=ctx.settings.as_issuer),
            max_bytes=ctx.settings.max_assertion_bytes,
        ).claims
    except TokenInvalid:
        return None


async def _authenticated_form(request: AnyRequest, services: Services) -> tuple[Any, str]:
    form = await parse_form(request)
    reject_repeats(form)
    client = await services.authenticator.authenticate(
        request.headers.get("authorization"), form, services.ctx.settings.as_issuer
    )
    token = form.get("token")
    if not token:
        raise InvalidRequest("The token parameter is required.")
    return client, token[0]


async def introspect(request: AnyRequest, services: Services) -> dict[str, Any]:
    """RFC 7662 §2: authorized callers only (§2.1); anything not active is just ``{"active": false}`` (§2.2).

    Raises:
        InvalidClient: unauthenticated caller (401).
        UnauthorizedClient: the client is not allowed to introspect.
        StoreUnavailable: the revocation list cannot be read (503, never a guess).
    """
    client, token = await _authenticated_form(request, services)
    if not client.config.may_introspect:
        raise UnauthorizedClient("The client is not allowed to introspect tokens.")
    claims = _verify_own(token, services)
    if claims is None or await services.ctx.store.is_revoked(claims["jti"]):
        return {"active": False}
    out: dict[str, Any] = {"active": True, "token_type": "Bearer"}
    out.update({k: claims[k] for k in _ACTIVE_MEMBERS if k in claims})
    return out


async def revoke(request: AnyRequest, services: Services) -> None:
    """RFC 7009 §2: revoke an access token issued to the calling client; invalid tokens get 200 too (§2.2).

    The deny-list entry lives until the token's expiry, and the cached copy is dropped so the cache
    never serves a revoked token.

    Raises:
        UnauthorizedClient: the token was issued to another client (§2.1).
    """
    client, token = await _authenticated_form(request, services)
    claims = _verify_own(token, services)
    if claims is None:
        if services.flow is not None:  # a refresh token of the interactive fallback, perhaps
            await revoke_refresh_token(token, client, services.ctx)
        return
    if claims["client_id"] != client.client_id:
        raise UnauthorizedClient("The token was not issued to this client.")
    ctx = services.ctx
    scopes = scope_claim(claims.get("scope")) or frozenset()
    key = (
        cache_key(claims["sub"], claims["client_id"], claims["aud"], scopes) if isinstance(claims["aud"], str) else None
    )
    ttl = max(int(claims["exp"]) - ctx.now() + ctx.settings.clock_skew, 1)
    await ctx.store.revoke(claims["jti"], ttl, key)
    ctx.audit.event("access_token.revoked", "revoked", client_id=client.client_id, resource=claims["aud"])
