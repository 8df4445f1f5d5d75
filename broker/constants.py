"""Protocol identifiers used by the broker (URNs, ``typ`` values, grant profiles)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCESS_TOKEN_TYP",
    "CLIENT_ASSERTION_TYPE_JWT_BEARER",
    "CLIENT_AUTH_TYP",
    "GRANT_AUTHORIZATION_CODE",
    "GRANT_JWT_BEARER",
    "GRANT_REFRESH_TOKEN",
    "GRANT_TOKEN_EXCHANGE",
    "ID_JAG_GRANT_PROFILE",
    "ID_JAG_TYP",
    "TOKEN_TYPE_ACCESS_TOKEN",
    "TOKEN_TYPE_ID_JAG",
    "TOKEN_TYPE_ID_TOKEN",
    "TOKEN_TYPE_JWT",
]

GRANT_TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
"""RFC 8693 §2.1."""
GRANT_JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
"""RFC 7523 §2.1."""

GRANT_AUTHORIZATION_CODE: Final = "authorization_code"
"""RFC 6749 §4.1.3 (OAuth 2.1 §4.1.3: with PKCE)."""
GRANT_REFRESH_TOKEN: Final = "refresh_token"
"""RFC 6749 §6 (OAuth 2.1 §4.3: rotated for public clients)."""

TOKEN_TYPE_ID_TOKEN: Final = "urn:ietf:params:oauth:token-type:id_token"
"""RFC 8693 §3."""
TOKEN_TYPE_ID_JAG: Final = "urn:ietf:params:oauth:token-type:id-jag"
"""ID-JAG draft §4.3 / §10."""
TOKEN_TYPE_ACCESS_TOKEN: Final = "urn:ietf:params:oauth:token-type:access_token"
"""RFC 8693 §3."""
TOKEN_TYPE_JWT: Final = "urn:ietf:params:oauth:token-type:jwt"
"""RFC 8693 §3."""

ID_JAG_GRANT_PROFILE: Final = "urn:ietf:params:oauth:grant-profile:id-jag"
"""ID-JAG draft §7.2 ``authorization_grant_profiles_supported``."""

CLIENT_ASSERTION_TYPE_JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""RFC 7523 §2.2."""

ID_JAG_TYP: Final = "oauth-id-jag+jwt"
"""ID-JAG draft §3.1: the JOSE ``typ`` of an ID-JAG."""
ACCESS_TOKEN_TYP: Final = "at+jwt"
"""RFC 9068 §2.1."""
CLIENT_AUTH_TYP: Final = "client-authentication+jwt"
"""draft-ietf-oauth-rfc7523bis §3.2."""
