"""Admin endpoint: ``POST /admin/rotate-keys`` behind a Bearer admin token (compared in constant time)."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from litestar import Request, Response, post

from idp_mock.context import context_of, secret_digest
from idp_mock.errors import InvalidToken
from idp_mock.responses import json_response, oauth_error_response

__all__ = ["rotate_keys_endpoint"]

_log = logging.getLogger("idp_mock")


@post("/admin/rotate-keys", status_code=200)
async def rotate_keys_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Publish a new signing key and switch to it; the old key stays in the JWKS until its tokens expire."""
    ctx = context_of(request.app.state)
    scheme, _, presented = (request.headers.get("authorization") or "").partition(" ")
    expected = ctx.admin_token
    if expected is None or scheme.lower() != "bearer":
        return oauth_error_response(InvalidToken("Admin token required."))
    if not hmac.compare_digest(secret_digest(presented.strip()), expected):
        return oauth_error_response(InvalidToken("Admin token invalid."))
    kid = ctx.keys.rotate()
    _log.info("signing key rotated: now signing with kid %s", kid)
    return json_response({"kid": kid, "published_kids": list(ctx.keys.kids)})
