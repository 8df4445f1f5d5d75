"""Minting: ID tokens (OIDC Core §2) and the token response of the code and refresh grants (RFC 6749 §5.1)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from idp_mock.context import IdpContext
from idp_mock.state import AccessToken, Grant, RefreshToken, new_secret

__all__ = ["at_hash", "id_token_claims", "issue_token_response"]

OFFLINE_ACCESS = "offline_access"


def at_hash(access_token: str) -> str:
    """Left half of the SHA-256 of the access token, base64url (OIDC Core §3.1.3.6; RS256 and ES256 use SHA-256)."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def id_token_claims(ctx: IdpContext, grant: Grant, *, nonce: str | None, access_token: str) -> dict[str, Any]:
    """Claims of an ID token (OIDC Core §2, §5.1): the user, the client it is for, the sign-in it records."""
    now = ctx.now_int()
    user = grant.auth.user
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": user.subject,
        "aud": grant.client_id,
        "azp": grant.client_id,
        "iat": now,
        "exp": now + ctx.settings.id_token_ttl,
        "auth_time": grant.auth.auth_time,
        "jti": new_secret(),
        "sid": grant.auth.sid,
        "email": user.email,
        "email_verified": True,
        "name": user.name,
        "preferred_username": user.username,
        "groups": list(user.groups),
        "at_hash": at_hash(access_token),
    }
    if nonce is not None:
        # OIDC Core §3.1.2.1: the nonce is passed through unmodified; absent on refresh (§12.2).
        claims["nonce"] = nonce
    return claims


def issue_token_response(ctx: IdpContext, grant: Grant, scope: tuple[str, ...], *, nonce: str | None) -> dict[str, Any]:
    """Mint an access token, an ID token and (with ``offline_access``) a rotating refresh token.

    RFC 6749 §5.1 body; OIDC Core §3.1.3.3 adds ``id_token``; OIDC Core §11 ties refresh tokens to
    ``offline_access``.
    """
    now = ctx.now()
    access = ctx.state.add_access_token(
        AccessToken(grant=grant, scope=scope, expires_at=now + ctx.settings.access_token_ttl)
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ctx.settings.access_token_ttl,
        "scope": " ".join(scope),
    }
    if "openid" in scope:
        body["id_token"] = ctx.keys.sign(id_token_claims(ctx, grant, nonce=nonce, access_token=access), typ="JWT")
    if OFFLINE_ACCESS in scope:
        body["refresh_token"] = ctx.state.add_refresh_token(
            RefreshToken(grant=grant, scope=scope, expires_at=now + ctx.settings.refresh_token_ttl)
        )
    return body
