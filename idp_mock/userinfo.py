"""UserInfo endpoint (OIDC Core §5.3) with Bearer tokens in the header only (RFC 6750 §2.1)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from idp_mock.context import context_of
from idp_mock.errors import InvalidToken
from idp_mock.responses import NO_STORE, json_response, oauth_error_response

__all__ = ["userinfo_get", "userinfo_post"]


async def _userinfo(request: Request[Any, Any, Any]) -> Response[bytes]:
    ctx = context_of(request.app.state)
    header = request.headers.get("authorization")
    if header is None:
        # RFC 6750 §3.1: no credentials, so no error code in the challenge.
        challenge = {"WWW-Authenticate": 'Bearer realm="idp_mock"', **NO_STORE}
        return Response(b"", status_code=401, headers=challenge)
    scheme, _, value = header.partition(" ")
    token = ctx.state.find_access_token(value.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return oauth_error_response(InvalidToken())
    user = token.grant.auth.user
    return json_response(
        {
            "sub": user.subject,
            "name": user.name,
            "preferred_username": user.username,
            "email": user.email,
            "email_verified": True,
            "groups": list(user.groups),
        }
    )


@get("/userinfo")
async def userinfo_get(request: Request[Any, Any, Any]) -> Response[bytes]:
    """``GET /userinfo``."""
    return await _userinfo(request)


@post("/userinfo", status_code=200)
async def userinfo_post(request: Request[Any, Any, Any]) -> Response[bytes]:
    """``POST /userinfo`` (OIDC Core §5.3.1: both methods MUST be supported)."""
    return await _userinfo(request)
