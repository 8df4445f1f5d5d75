"""OpenID Provider metadata (OIDC Discovery §3, RFC 8414 §2) and the JWKS (RFC 7517 §5)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from idp_mock import jag
from idp_mock.authorize import SCOPES_SUPPORTED
from idp_mock.client_auth import AUTH_METHODS
from idp_mock.context import IdpContext, context_of
from idp_mock.pkce import SUPPORTED_METHODS
from idp_mock.responses import json_response
from idp_mock.token import grant_handlers

__all__ = ["jwks", "metadata", "openid_configuration"]

CLAIMS_SUPPORTED = (
    "iss",
    "sub",
    "aud",
    "azp",
    "iat",
    "exp",
    "auth_time",
    "nonce",
    "sid",
    "jti",
    "at_hash",
    "email",
    "email_verified",
    "name",
    "preferred_username",
    "groups",
)


def metadata(ctx: IdpContext) -> dict[str, Any]:
    """The discovery document; every URL is under the issuer."""
    doc: dict[str, Any] = {
        "issuer": ctx.issuer,
        "authorization_endpoint": ctx.endpoint("authorize"),
        "token_endpoint": ctx.endpoint("token"),
        "userinfo_endpoint": ctx.endpoint("userinfo"),
        "jwks_uri": ctx.endpoint("jwks"),
        "scopes_supported": list(SCOPES_SUPPORTED),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(grant_handlers(ctx.settings)),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ctx.settings.signing_alg],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": list(SUPPORTED_METHODS),
        "claims_supported": list(CLAIMS_SUPPORTED),
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
    }
    if ctx.settings.id_jag.enabled:
        # draft-ietf-oauth-identity-chaining §2.4 metadata, as the ID-JAG draft's IdP examples use it.
        doc["identity_chaining_requested_token_types_supported"] = [jag.TOKEN_TYPE_ID_JAG]
    return doc


@get("/.well-known/openid-configuration")
async def openid_configuration(request: Request[Any, Any, Any]) -> Response[bytes]:
    """``GET /.well-known/openid-configuration`` (OIDC Discovery §4)."""
    ctx = context_of(request.app.state)
    return json_response(metadata(ctx), headers={"Cache-Control": "no-cache", "Pragma": "no-cache"})


@get("/jwks")
async def jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    """``GET /jwks``: public keys only, the retiring ones included until they expire."""
    ctx = context_of(request.app.state)
    return json_response(ctx.keys.jwks(), headers={"Cache-Control": "no-cache", "Pragma": "no-cache"})
