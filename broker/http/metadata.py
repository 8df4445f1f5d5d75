"""RFC 8414 authorization server metadata for both roles, at the path-inserted well-known URLs."""

from __future__ import annotations

from typing import Any

from broker.constants import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_JWT_BEARER,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    ID_JAG_GRANT_PROFILE,
    TOKEN_TYPE_ID_JAG,
)
from broker.settings import ASYMMETRIC_ALGORITHMS, BrokerSettings

__all__ = ["as_metadata", "idp_metadata"]

_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def _common(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        # RFC 8414 §2: REQUIRED when private_key_jwt is listed; never "none".
        "token_endpoint_auth_signing_alg_values_supported": sorted(ASYMMETRIC_ALGORITHMS),
    }


def idp_metadata(settings: BrokerSettings) -> dict[str, Any]:
    """Leg 1 (ID-JAG §7.1, identity chaining §3): token exchange to ID-JAGs; no authorization endpoint."""
    return {
        **_common(settings.idp_issuer),
        "grant_types_supported": [GRANT_TOKEN_EXCHANGE],
        "identity_chaining_requested_token_types_supported": [TOKEN_TYPE_ID_JAG],
        "response_types_supported": [],
    }


def as_metadata(settings: BrokerSettings) -> dict[str, Any]:
    """Leg 2 (ID-JAG §7.2; RFC 9728 §4 ``protected_resources``; DESIGN OQ-17 for the authorization endpoint).

    With the interactive fallback on: the code and refresh grants, ``none`` for public clients, RFC 9207
    ``iss`` in authorization responses, and CIMD support when enabled (CIMD-02 §6, checklist MD-13).
    """
    issuer = settings.as_issuer
    scopes = sorted({s for r in settings.resource for s in r.scopes})
    interactive = settings.interactive
    grants = [GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE]
    token_auth = list(_AUTH_METHODS)
    if interactive.enabled:
        grants += [GRANT_AUTHORIZATION_CODE] + ([GRANT_REFRESH_TOKEN] if interactive.refresh_tokens else [])
        token_auth.append("none")
    extra: dict[str, Any] = {}
    if interactive.enabled:
        extra["authorization_response_iss_parameter_supported"] = True
        extra["client_id_metadata_document_supported"] = interactive.client_id_metadata_documents
    return {
        **_common(issuer),
        "token_endpoint_auth_methods_supported": token_auth,
        **extra,
        "grant_types_supported": grants,
        "authorization_grant_profiles_supported": [ID_JAG_GRANT_PROFILE],
        "authorization_endpoint": f"{issuer}/authorize",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "protected_resources": [r.resource for r in settings.resource],
        "introspection_endpoint": f"{issuer}/introspect",
        "introspection_endpoint_auth_methods_supported": _AUTH_METHODS,
        "revocation_endpoint": f"{issuer}/revoke",
        "revocation_endpoint_auth_methods_supported": token_auth,
    }
