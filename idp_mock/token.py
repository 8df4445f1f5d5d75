"""Token endpoint: one fixed pipeline and a grant table (RFC 6749 §3.2, §4.1.3, §5).

``no-store`` → form body only → grant type known? → client authentication → grant handler.
OAuth 2.1 drops the password and implicit grants, so ``grant_type=password`` is ``unsupported_grant_type``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response, post

from idp_mock import code_grant, jag, refresh_grant
from idp_mock.client_auth import authenticate_client
from idp_mock.context import IdpContext, context_of
from idp_mock.errors import InvalidRequest, OAuthError, UnsupportedGrantType
from idp_mock.params import Params
from idp_mock.responses import json_response, oauth_error_response
from idp_mock.settings import ClientConfig, IdpSettings

__all__ = ["GrantHandler", "grant_handlers", "token_endpoint"]

GrantHandler = Callable[[IdpContext, ClientConfig, Params], dict[str, Any]]


def grant_handlers(settings: IdpSettings) -> Mapping[str, GrantHandler]:
    """The grants this IdP serves; token exchange only when native ID-JAG issuance is on."""
    table: dict[str, GrantHandler] = {
        code_grant.GRANT_TYPE: code_grant.handle,
        refresh_grant.GRANT_TYPE: refresh_grant.handle,
    }
    if settings.id_jag.enabled:
        table[jag.GRANT_TYPE] = jag.handle
    return table


@post("/token", status_code=200)
async def token_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """``POST /token``."""
    ctx = context_of(request.app.state)
    try:
        if request.content_type[0] != "application/x-www-form-urlencoded":
            raise InvalidRequest("The body must be application/x-www-form-urlencoded (RFC 6749 §3.2).")
        form = await request.form()
        params = Params((k, v) for k, v in form.multi_items() if isinstance(v, str))
        grant_type = params.require("grant_type")
        handler = grant_handlers(ctx.settings).get(grant_type)
        if handler is None:
            raise UnsupportedGrantType()
        client = authenticate_client(ctx, request.headers.get("authorization"), params)
        body = handler(ctx, client, params)
    except OAuthError as exc:
        return oauth_error_response(exc)
    return json_response(body)
