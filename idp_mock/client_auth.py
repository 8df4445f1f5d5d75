"""Client authentication at the token endpoint (RFC 6749 §2.3.1, OIDC Core §9).

Confidential clients use ``client_secret_basic`` or ``client_secret_post``; public clients send only
``client_id`` and rely on PKCE (RFC 6749 §2.1, OAuth 2.1 §2.4). Secrets are compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Final
from urllib.parse import unquote_plus

from idp_mock.context import IdpContext, secret_digest
from idp_mock.errors import InvalidClient, InvalidRequest
from idp_mock.params import Params
from idp_mock.settings import ClientConfig

__all__ = ["AUTH_METHODS", "authenticate_client"]

AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "none")
"""``token_endpoint_auth_methods_supported`` (RFC 8414 §2)."""

_DUMMY: Final = secret_digest("no such client")


def _parse_basic(header: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(id) ":" urlencode(secret))``."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient("Only HTTP Basic client authentication is accepted in the Authorization header.")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("Malformed HTTP Basic credentials.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("Malformed HTTP Basic credentials.")
    return unquote_plus(client_id), unquote_plus(secret)


def _secret_ok(ctx: IdpContext, client_id: str, presented: str) -> bool:
    expected = ctx.client_secrets.get(client_id)
    # Compare even for unknown clients so timing does not tell registered ids apart.
    ok = hmac.compare_digest(secret_digest(presented), expected if expected is not None else _DUMMY)
    return ok and expected is not None


def authenticate_client(ctx: IdpContext, authorization: str | None, params: Params) -> ClientConfig:
    """Return the authenticated (or, for a public client, identified) client.

    Raises:
        InvalidRequest: two authentication methods in one request (RFC 6749 §2.3).
        InvalidClient: unknown client, wrong secret, or a confidential client without its secret.
    """
    body_id = params.one("client_id")
    body_secret = params.one("client_secret")
    if authorization is not None:
        if body_secret is not None:
            raise InvalidRequest("Use only one client authentication method.")
        client_id, secret = _parse_basic(authorization)
        if body_id is not None and body_id != client_id:
            raise InvalidClient("client_id does not match the authenticated client.")
        return _confidential(ctx, client_id, secret)
    if body_id is None:
        raise InvalidClient("Client authentication is required.")
    if body_secret is not None:
        return _confidential(ctx, body_id, body_secret)
    client = ctx.clients.get(body_id)
    if client is None or not client.public:
        raise InvalidClient("Client authentication failed." if client is None else "This client must authenticate.")
    return client


def _confidential(ctx: IdpContext, client_id: str, secret: str) -> ClientConfig:
    client = ctx.clients.get(client_id)
    if not _secret_ok(ctx, client_id, secret) or client is None or client.public:
        raise InvalidClient()
    return client
