"""``grant_type=refresh_token`` with rotation (RFC 6749 §6, RFC 9700 §4.14.2, OIDC Core §12)."""

from __future__ import annotations

import logging
from typing import Any, Final

from idp_mock.context import IdpContext
from idp_mock.errors import InvalidGrant, InvalidScope
from idp_mock.params import Params
from idp_mock.settings import ClientConfig
from idp_mock.tokens import issue_token_response

__all__ = ["GRANT_TYPE", "handle"]

GRANT_TYPE: Final = "refresh_token"
_log = logging.getLogger("idp_mock")


def handle(ctx: IdpContext, client: ClientConfig, params: Params) -> dict[str, Any]:
    """Exchange a refresh token for new tokens and a new refresh token; the old one is spent.

    Presenting a spent refresh token again revokes the whole grant (every access and refresh token
    from the same sign-in), since either the client or an attacker holds a stolen copy.

    Raises:
        InvalidGrant: unknown, expired, spent, revoked or another client's refresh token.
        InvalidScope: a scope wider than the original grant (RFC 6749 §6).
    """
    value = params.require("refresh_token")
    token = ctx.state.find_refresh_token(value)
    if token is None or token.grant.revoked:
        raise InvalidGrant("The refresh token is invalid, expired or revoked.")
    if token.grant.client_id != client.client_id:
        raise InvalidGrant("The refresh token was issued to another client.")
    if token.used:
        token.grant.revoked = True
        _log.warning("rotated refresh token reused by client %s: grant revoked", client.client_id)
        raise InvalidGrant("The refresh token was already used; the grant is revoked.")
    requested = params.one("scope")
    scope = token.scope
    if requested is not None:
        wanted = tuple(dict.fromkeys(requested.split()))
        if not set(wanted) <= set(token.scope):
            raise InvalidScope("The requested scope exceeds the original grant.")
        scope = wanted
    token.used = True
    return issue_token_response(ctx, token.grant, scope, nonce=None)
