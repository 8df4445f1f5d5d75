"""Leg-1 subject validation and the policy decision, shared by leg 1 and the one-call shortcut.

Order (STYLE P8): cheap structure -> trust lookup by unverified ``iss`` -> signature -> claims -> policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from broker.core.jose import Jwt, TokenInvalid, peek
from broker.core.scopes import parse_scope
from broker.core.tokens import Grant, pick_auth_claims
from broker.errors import InvalidGrant, UnauthorizedClient
from broker.grants.base import AuthenticatedClient, GrantContext
from broker.settings import IdpTrust

__all__ = ["FOREIGN_TYPS", "authorize_identity", "groups_of", "verify_id_token", "verify_id_token_of"]

FOREIGN_TYPS: Final = frozenset(
    {
        "at+jwt",
        "oauth-id-jag+jwt",
        "client-authentication+jwt",
        "dpop+jwt",
        "logout+jwt",
        "secevent+jwt",
        "token-introspection+jwt",
        "jwt-authorization-grant+jwt",
    }
)
"""``typ`` values that name another kind of token: never an identity assertion (PR:stt §4.3.3, 8725bis §3.12)."""


async def verify_id_token(
    token: str, client: AuthenticatedClient, ctx: GrantContext
) -> tuple[IdpTrust, Mapping[str, Any]]:
    """Verify an enterprise IdP's ID token for this client (OIDC Core §3.1.3.7, ID-JAG §4.3.3).

    Raises:
        UnauthorizedClient: the client has no IdP client id configured, so it cannot present ID tokens.
        InvalidGrant: any validation failure (DESIGN OQ-4).
    """
    audience = client.config.id_token_audience
    if audience is None:
        raise UnauthorizedClient("The client is not configured to exchange identity assertions.")
    settings = ctx.settings
    try:
        unverified = peek(token, max_bytes=settings.max_assertion_bytes)
    except TokenInvalid as exc:
        raise InvalidGrant("The subject token is not a valid JWT.", detail=exc.reason) from None
    iss = unverified.claims.get("iss")
    idp = ctx.trust.idp_by_issuer.get(iss) if isinstance(iss, str) else None
    if idp is None:
        raise InvalidGrant("The subject token issuer is not trusted.", detail="untrusted subject token issuer")
    try:
        # ID tokens are presented repeatedly (several resources, re-exchanges): remember the signature check.
        claims = await verify_id_token_of(idp, token, ctx, audience=audience, unverified=unverified, remember=True)
    except TokenInvalid as exc:
        raise InvalidGrant(f"The subject token failed validation: {exc.reason}.", detail=exc.reason) from None
    return idp, claims


async def verify_id_token_of(
    idp: IdpTrust,
    token: str,
    ctx: GrantContext,
    *,
    audience: str,
    nonce: str | None = None,
    unverified: Jwt | None = None,
    remember: bool = False,
) -> Mapping[str, Any]:
    """Verify an ID token of ``idp`` for ``audience`` (OIDC Core §3.1.3.7).

    The one rule set for leg 1 and the broker's own federated sign-in (which also checks its ``nonce``).

    Raises:
        TokenInvalid: any check failed.
        JwksUnavailable: the IdP's keys cannot be fetched.
    """
    from broker.core.claims import IdTokenClaims

    settings = ctx.settings
    claims = IdTokenClaims(
        now=ctx.now,
        leeway=settings.clock_skew,
        issuer=idp.issuer,
        audience=audience,
        max_age=idp.max_id_token_age,
        nonce=nonce,
    )
    verified = await ctx.jwks.verify(
        token,
        issuer=idp.issuer,
        jwks_uri=idp.jwks_uri,
        inline=idp.jwks,
        algorithms=idp.algorithms,
        typ=None,
        claims=claims,
        max_bytes=settings.max_assertion_bytes,
        forbidden_typs=FOREIGN_TYPS,
        unverified=unverified,
        remember=remember,
    )
    return verified.claims


def groups_of(claims: Mapping[str, Any], claim: str) -> tuple[str, ...]:
    """The user's groups from an ID token claim (strings only, sorted)."""
    raw = claims.get(claim)
    return tuple(sorted(g for g in raw if isinstance(g, str))) if isinstance(raw, list) else ()


def authorize_identity(
    idp: IdpTrust,
    claims: Mapping[str, Any],
    client: AuthenticatedClient,
    ctx: GrantContext,
    *,
    audience: str,
    resource: str | None,
    scope: str | None,
) -> Grant:
    """Apply the pair table and policy to a verified ID token; return what may be granted.

    Raises:
        InvalidTarget, InvalidScope, InvalidGrant, InvalidRequest: see :class:`broker.core.policy.TrustIndex`.
    """
    requested = parse_scope(scope)
    target = ctx.trust.resolve_target(audience, resource)
    groups = groups_of(claims, idp.groups_claim)
    allowed = ctx.trust.allowed_scopes(idp, client.client_id, target, groups)
    scopes = ctx.trust.narrow(requested, allowed, ceiling="scope policy allows")
    email = claims.get("email")
    return Grant(
        idp=idp.name,
        subject=ctx.trust.subject_for(idp, claims["sub"]),
        client_id=client.client_id,
        audience=target.audience,
        resource=target.resource,
        scopes=scopes,
        auth_claims=pick_auth_claims(claims),
        email=email if isinstance(email, str) else None,
    )
