"""Leg 2: RFC 7523 JWT bearer grant, ID-JAG -> RFC 9068 access token (ID-JAG §4.4, EMA §5).

Order (STYLE P8): structure -> trust entry by unverified ``iss`` -> signature -> claims ->
resource and policy -> **then** consume the ``jti`` (so forged tokens cannot burn replay slots)
-> mint (through the access-token cache).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any, Final

import msgspec
from joserfc.jwk import KeySet

from broker.constants import GRANT_JWT_BEARER, ID_JAG_TYP
from broker.core.claims import IdJagClaims
from broker.core.jose import TokenInvalid, peek, verify_jwt
from broker.core.resources import single_value
from broker.core.scopes import parse_scope, scope_claim
from broker.core.tokens import Grant, pick_auth_claims
from broker.errors import InvalidGrant, InvalidScope, InvalidTarget
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse
from broker.grants.issue import mint_access_token, redeem_for_access_token, response_from_cached
from broker.settings import IdpTrust

__all__ = ["GRANT_TYPE", "MULTI_VALUED", "Request", "handle"]

GRANT_TYPE: Final = GRANT_JWT_BEARER
MULTI_VALUED: Final = frozenset({"resource"})


class Request(msgspec.Struct, kw_only=True):
    """RFC 7523 §2.1 parameters, plus optional ``scope`` (RFC 7521 §4.1) and ``resource`` (RFC 8707)."""

    assertion: str
    scope: str | None = None
    resource: list[str] = msgspec.field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Issuer:
    """A trusted ID-JAG issuer: our own leg 1, or an IdP that issues ID-JAGs natively (ID-JAG §4.1)."""

    issuer: str
    idp: IdpTrust | None
    """None for our own leg 1 (the IdP is then named by the ``tenant`` claim we signed)."""


def _trusted_issuer(iss: object, ctx: GrantContext) -> _Issuer:
    """Pick the trust entry from the unverified ``iss`` (RFC 8725bis §3.8), refusing self-issued ID-JAGs."""
    settings = ctx.settings
    if iss == settings.idp_issuer:
        return _Issuer(settings.idp_issuer, None)
    if iss == settings.as_issuer:
        # ID-JAG §9.4: an AS MUST NOT accept an ID-JAG it issued itself in the same trust domain.
        raise InvalidGrant("The ID-JAG issuer is not trusted.", detail="self-issued ID-JAG (iss = leg 2)")
    idp = ctx.trust.idp_by_issuer.get(iss) if isinstance(iss, str) else None
    if idp is None or not idp.id_jag_issuer:
        raise InvalidGrant("The ID-JAG issuer is not trusted.", detail="untrusted ID-JAG issuer")
    return _Issuer(idp.issuer, idp)


async def _verify(assertion: str, client: AuthenticatedClient, ctx: GrantContext) -> tuple[_Issuer, Mapping[str, Any]]:
    settings = ctx.settings
    try:
        unverified = peek(assertion, max_bytes=settings.max_assertion_bytes)
    except TokenInvalid as exc:
        raise InvalidGrant("The assertion is not a valid JWT.", detail=exc.reason) from None
    trusted = _trusted_issuer(unverified.claims.get("iss"), ctx)
    own = trusted.idp is None
    max_lifetime = settings.id_jag_ttl if trusted.idp is None else trusted.idp.id_jag_max_lifetime
    claims = IdJagClaims(
        now=ctx.now,
        leeway=settings.clock_skew,
        issuer=trusted.issuer,
        audience=settings.as_issuer,
        client_id=client.client_id,
        max_lifetime=max_lifetime,
    )
    try:
        if trusted.idp is None:
            keys: KeySet = ctx.idp_keys.verification_keys()
            verified = verify_jwt(
                assertion,
                keys=keys,
                algorithms=(ctx.idp_keys.alg,),
                typ=ID_JAG_TYP,
                claims=claims,
                max_bytes=settings.max_assertion_bytes,
                unverified=unverified,
            )
        else:
            verified = await ctx.jwks.verify(
                assertion,
                issuer=trusted.idp.issuer,
                jwks_uri=trusted.idp.jwks_uri,
                inline=trusted.idp.jwks,
                algorithms=trusted.idp.algorithms,
                typ=ID_JAG_TYP,
                claims=claims,
                max_bytes=settings.max_assertion_bytes,
                unverified=unverified,
            )
    except TokenInvalid as exc:
        raise InvalidGrant(f"The ID-JAG failed validation: {exc.reason}.", detail=exc.reason) from None
    if own and verified.claims.get("tenant") not in ctx.trust.idp_by_name:
        raise InvalidGrant("The ID-JAG failed validation: unknown tenant.", detail="tenant names no [[idp]]")
    return trusted, verified.claims


def _choose_resource(claim: object, requested: list[str], ctx: GrantContext) -> str:
    """One access token per resource, governed by us (EMA §7.6.2, DESIGN OQ-6/7, RFC 9068 §3).

    Raises:
        InvalidGrant: the ID-JAG names no resource, or one we do not govern.
        InvalidTarget: the ``resource`` parameter is not in the ID-JAG, or a choice is needed.
    """
    if claim is None:
        raise InvalidGrant("The ID-JAG does not name a resource; no unrestricted token is issued.")
    candidates = [claim] if isinstance(claim, str) else list(claim) if isinstance(claim, list) else []
    for value in candidates:
        if value not in ctx.trust.resources:
            raise InvalidGrant(
                "The ID-JAG names a resource this authorization server does not govern.",
                detail="resource claim not registered",
            )
    wanted = single_value(requested, "resource")
    if wanted is not None:
        if wanted not in candidates:
            raise InvalidTarget("The requested resource is not granted by the ID-JAG.")
        return wanted
    if len(candidates) != 1:
        raise InvalidTarget("The ID-JAG names several resources; choose one with the resource parameter.")
    return candidates[0]


def _authorize(
    trusted: _Issuer, claims: Mapping[str, Any], req: Request, client: AuthenticatedClient, ctx: GrantContext
) -> Grant:
    """Resource, scope and policy for a verified ID-JAG; AT scope = ID-JAG ∩ request ∩ resource ∩ policy (OQ-9)."""
    resource = _choose_resource(claims.get("resource"), req.resource, ctx)
    target = ctx.trust.resolve_target(ctx.settings.as_issuer, resource)
    if trusted.idp is None:
        idp = ctx.trust.idp_by_name[claims["tenant"]]
        subject = claims["sub"]
        groups: list[str] | None = None  # our leg 1 enforced group membership when it minted the ID-JAG
    else:
        idp = trusted.idp
        subject = ctx.trust.subject_for(idp, claims["sub"])
        raw = claims.get(idp.groups_claim)
        groups = [g for g in raw if isinstance(g, str)] if isinstance(raw, list) else []
    try:
        allowed = ctx.trust.allowed_scopes(idp, client.client_id, target, groups)
    except InvalidTarget as exc:
        # At leg 2 the ID-JAG itself is the grant: an unpermitted one is invalid_grant (RFC 7523 §3.1).
        raise InvalidGrant(exc.description, detail=exc.detail) from None
    granted_by_jag = scope_claim(claims.get("scope")) if "scope" in claims else None
    if "scope" in claims and granted_by_jag is None:
        raise InvalidGrant("The ID-JAG failed validation: malformed scope claim.")
    requested = parse_scope(req.scope)
    if requested is not None and granted_by_jag is not None and not requested <= granted_by_jag:
        raise InvalidScope(
            "The requested scope exceeds the scope granted by the ID-JAG.",
            detail=f"not in ID-JAG: {' '.join(sorted(requested - granted_by_jag))}",
        )
    ceiling = allowed if granted_by_jag is None else allowed & granted_by_jag
    scopes = ctx.trust.narrow(requested, ceiling, ceiling="scope of the ID-JAG and policy")
    return Grant(
        idp=idp.name,
        subject=subject,
        client_id=client.client_id,
        audience=ctx.settings.as_issuer,
        resource=resource,
        scopes=scopes,
        auth_claims=pick_auth_claims(claims),
    )


def _replay_key(issuer: str, jti: str) -> str:
    """Replay state is scoped by (iss, jti) and hashed (checklist L2-40, L2-43)."""
    return sha256(f"{issuer}\x1f{jti}".encode()).hexdigest()


async def handle(req: Request, client: AuthenticatedClient, ctx: GrantContext) -> TokenResponse:
    """Redeem an ID-JAG for an access token bound to one MCP server."""
    trusted, claims = await _verify(req.assertion, client, ctx)
    grant = _authorize(trusted, claims, req, client, ctx)
    replay_key = _replay_key(trusted.issuer, claims["jti"])
    ttl = max(int(claims["exp"]) - ctx.now() + ctx.settings.clock_skew, 1)
    if ctx.settings.id_jag_reuse == "same-token":
        response = await _redeem_idempotent(grant, replay_key, ttl, req, ctx)
    else:
        # EMA §7.4.2: replay detection is REQUIRED; consumed only now, after every check passed.
        redeemed = await redeem_for_access_token(grant, ctx, replay_key, ttl)
        if redeemed is None:
            ctx.audit.event("access_token.refused", "replay", client_id=client.client_id, idp=grant.idp)
            raise InvalidGrant("The ID-JAG has already been used.")
        response = redeemed
    ctx.audit.event(
        "access_token.issued",
        "granted",
        via="jwt_bearer",
        idp=grant.idp,
        client_id=client.client_id,
        resource=grant.resource,
        scope=response.scope,
    )
    return response


async def _redeem_idempotent(grant: Grant, replay_key: str, ttl: int, req: Request, ctx: GrantContext) -> TokenResponse:
    """DESIGN OQ-3 opt-in: the same client re-presenting the same ID-JAG gets the same token, never a new one."""
    reuse_key = sha256(
        "\x1f".join((replay_key, grant.client_id, grant.resource or "", req.scope or "")).encode()
    ).hexdigest()

    async def mint_once() -> tuple[bytes, int]:
        if not await ctx.store.claim_once(replay_key, ttl):
            raise InvalidGrant("The ID-JAG has already been used.")
        return mint_access_token(grant, ctx)

    value = await ctx.store.cache_get_or_mint(reuse_key, mint_once, ctx.now() + 1)
    return response_from_cached(value, ctx, None, grant.resource)
