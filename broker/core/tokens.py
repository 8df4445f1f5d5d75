"""What the broker mints: the ID-JAG (leg 1) and the RFC 9068 access token (leg 2), as pure claim sets."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from broker.constants import ACCESS_TOKEN_TYP, ID_JAG_TYP
from broker.core.scopes import format_scope

__all__ = [
    "Grant",
    "access_token_claims",
    "access_token_header",
    "cache_key",
    "id_jag_claims",
    "id_jag_header",
    "new_jti",
    "pick_auth_claims",
]

_FIXED_AUTH_CLAIMS = ("auth_time", "acr", "amr")


@dataclass(frozen=True, slots=True)
class Grant:
    """A fully authorized request: who, for which client, where, with which scopes."""

    idp: str
    """Name of the IdP trust entry the user signed in with (ID-JAG ``tenant``)."""
    subject: str
    """The broker's subject for the user (namespaced per DESIGN OQ-1)."""
    client_id: str
    """The authenticated client at the broker."""
    audience: str
    """Authorization server the token is for (ID-JAG ``aud``)."""
    resource: str | None
    """The MCP server (RFC 8707); the access token's ``aud``."""
    scopes: frozenset[str]
    """Granted scopes after narrowing."""
    auth_claims: Mapping[str, Any]
    """``auth_time``/``acr``/``amr`` carried from the user's authentication (RFC 9068 §2.2.1)."""
    email: str | None = None
    """Carried into the ID-JAG only (ID-JAG §3.1 RECOMMENDED; EMA §7.4.3: minimise elsewhere)."""


def new_jti() -> str:
    """A unique, unguessable token id (>= 128 bits, checklist L1-53)."""
    return secrets.token_urlsafe(18)


def pick_auth_claims(claims: Mapping[str, Any]) -> dict[str, Any]:
    """Copy the authentication claims whose values are fixed at sign-in (RFC 9068 §2.2.1)."""
    return {k: claims[k] for k in _FIXED_AUTH_CLAIMS if k in claims}


def id_jag_header(alg: str, kid: str) -> dict[str, str]:
    """ID-JAG §3.1: ``typ`` MUST be ``oauth-id-jag+jwt``."""
    return {"alg": alg, "kid": kid, "typ": ID_JAG_TYP}


def id_jag_claims(
    grant: Grant, *, issuer: str, client_id_at_audience: str, jti: str, now: int, ttl: int
) -> dict[str, Any]:
    """Claims of an ID-JAG (ID-JAG §3.1; granted values only, §4.3.3)."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": grant.subject,
        "aud": grant.audience,
        "client_id": client_id_at_audience,
        "jti": jti,
        "iat": now,
        "exp": now + ttl,
        "tenant": grant.idp,
        "scope": format_scope(grant.scopes),
        **grant.auth_claims,
    }
    if grant.resource is not None:
        claims["resource"] = grant.resource
    if grant.email is not None:
        claims["email"] = grant.email
    return claims


def access_token_header(alg: str, kid: str) -> dict[str, str]:
    """RFC 9068 §2.1: ``typ`` is ``at+jwt``."""
    return {"alg": alg, "kid": kid, "typ": ACCESS_TOKEN_TYP}


def access_token_claims(grant: Grant, *, issuer: str, jti: str, now: int, ttl: int) -> dict[str, Any]:
    """Claims of an RFC 9068 access token, audience-restricted to one MCP server (EMA §5.1, RFC 9068 §3)."""
    if grant.resource is None:
        raise ValueError("an access token needs a resource (RFC 9068 §3: no unrestricted tokens)")
    return {
        "iss": issuer,
        "sub": grant.subject,
        "aud": grant.resource,
        "client_id": grant.client_id,
        "jti": jti,
        "iat": now,
        "exp": now + ttl,
        "scope": format_scope(grant.scopes),
        **grant.auth_claims,
    }


def cache_key(subject: str, client_id: str, resource: str, scopes: frozenset[str]) -> str:
    """Access-token cache key: (subject, client, resource, scope set); the subject encodes the IdP.

    Computable from an access token's own claims, so revocation can drop the cached copy.
    """
    raw = "\x1f".join((subject, client_id, resource, format_scope(scopes)))
    return sha256(raw.encode()).hexdigest()
