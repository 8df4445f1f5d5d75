"""``grant_type=authorization_code`` (RFC 6749 §4.1.3, RFC 7636 §4.5-4.6, OIDC Core §3.1.3)."""

from __future__ import annotations

import logging
from typing import Any, Final

from idp_mock.context import IdpContext
from idp_mock.errors import InvalidGrant
from idp_mock.params import Params
from idp_mock.pkce import verifier_matches
from idp_mock.settings import ClientConfig
from idp_mock.tokens import issue_token_response

__all__ = ["GRANT_TYPE", "handle"]

GRANT_TYPE: Final = "authorization_code"
_log = logging.getLogger("idp_mock")


def handle(ctx: IdpContext, client: ClientConfig, params: Params) -> dict[str, Any]:
    """Redeem a code once, for the client and redirect URI it was issued to, with the PKCE verifier.

    Raises:
        InvalidRequest: ``code`` missing or a parameter repeated.
        InvalidGrant: unknown, expired, reused or mis-bound code, or a verifier that does not match.
    """
    value = params.require("code")
    redirect_uri = params.one("redirect_uri")
    verifier = params.one("code_verifier")
    code = ctx.state.find_code(value)
    if code is None:
        raise InvalidGrant("The authorization code is invalid or expired.")
    if code.consumed:
        # RFC 6749 §4.1.2: a code used twice is refused and the tokens issued from it are revoked.
        code.grant.revoked = True
        _log.warning("authorization code replayed for client %s: grant revoked", code.request.client_id)
        raise InvalidGrant("The authorization code was already used.")
    if code.request.client_id != client.client_id:
        raise InvalidGrant("The authorization code was issued to another client.")
    if redirect_uri != code.request.redirect_uri:
        # RFC 6749 §4.1.3: present and identical to the authorization request's redirect_uri.
        raise InvalidGrant("redirect_uri does not match the authorization request.")
    if verifier is None or not verifier_matches(verifier, code.request.code_challenge):
        raise InvalidGrant("PKCE verification failed (code_verifier).")
    # Checked and marked with no await in between: single use even under concurrent redemptions.
    code.consumed = True
    return issue_token_response(ctx, code.grant, code.grant.scope, nonce=code.request.nonce)
