"""Client authentication at the token, introspection and revocation endpoints.

RFC 6749 §2.3: ``client_secret_basic`` (form-urlencoded id and secret inside Basic, §2.3.1),
``client_secret_post``; RFC 7523 §2.2 / 7523bis §3: ``private_key_jwt`` whose ``aud`` is the issuer
identifier of the role being called, single use by ``jti`` (OIDC Core §9). Exactly one method per
request (§2.3). Public clients (``none``: just ``client_id``) are accepted only when registered as public
or described so by their metadata document, and only for the interactive grants (EMA §7.7, DESIGN
OQ-14 keep the SEP-990 grants confidential). Secrets compare in constant time.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable, Mapping
from hashlib import sha256
from typing import Final
from urllib.parse import unquote_plus

from broker.cimd import ClientMetadataError
from broker.clients import ClientRegistry
from broker.constants import CLIENT_ASSERTION_TYPE_JWT_BEARER
from broker.core.claims import ClientAssertionClaims
from broker.core.jose import TokenInvalid, peek
from broker.core.policy import TrustIndex
from broker.errors import InvalidClient, InvalidRequest
from broker.grants.base import AuthenticatedClient
from broker.jwks import RemoteJwks
from broker.settings import ASYMMETRIC_ALGORITHMS, BrokerSettings, ClientConfig, secret_digest, secret_matches
from broker.stores import Store

__all__ = ["ClientAuthenticator"]

Form = Mapping[str, list[str]]

_DUMMY_DIGEST: Final = secret_digest("timing-equaliser")
_CLIENT_ASSERTION_TYPS: Final = frozenset({"at+jwt", "oauth-id-jag+jwt", "dpop+jwt", "logout+jwt", "secevent+jwt"})


def _one(form: Form, name: str) -> str | None:
    values = form.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest(f"The {name} parameter must not be repeated.")
    return values[0]


class ClientAuthenticator:
    """Authenticates the calling client once per request."""

    def __init__(
        self,
        settings: BrokerSettings,
        trust: TrustIndex,
        store: Store,
        jwks: RemoteJwks,
        *,
        clock: Callable[[], float] = time.time,
        env: Mapping[str, str] | None = None,
        registry: ClientRegistry | None = None,
    ) -> None:
        environ = os.environ if env is None else env
        self._registry = registry if registry is not None else ClientRegistry(trust)
        self._settings = settings
        self._trust = trust
        self._store = store
        self._jwks = jwks
        self._clock = clock
        self._digests: dict[str, bytes] = {}
        for c in settings.client:
            if c.client_secret_sha256 is not None:
                self._digests[c.client_id] = bytes.fromhex(c.client_secret_sha256)
            elif c.client_secret_env is not None:
                self._digests[c.client_id] = secret_digest(environ[c.client_secret_env])

    async def authenticate(self, authorization: str | None, form: Form, audience: str) -> AuthenticatedClient:
        """Authenticate the request's client; ``audience`` is the issuer of the role being called.

        Raises:
            InvalidRequest: more than one method, or a repeated credential parameter.
            InvalidClient: no or bad credentials (401 + ``WWW-Authenticate``).
        """
        basic = authorization is not None and authorization[:6].lower() == "basic "
        post = "client_secret" in form
        assertion = "client_assertion" in form or "client_assertion_type" in form
        if basic + post + assertion > 1:
            raise InvalidRequest("Use exactly one client authentication method (RFC 6749 §2.3).")
        if basic:
            assert authorization is not None  # noqa: S101 - narrowed above
            client_id, secret = self._parse_basic(authorization[6:])
            body_id = _one(form, "client_id")
            if body_id is not None and body_id != client_id:
                raise InvalidClient("The client_id parameter does not match the authenticated client.")
            return self._check_secret(client_id, secret, "client_secret_basic")
        if post:
            post_id = _one(form, "client_id")
            post_secret = _one(form, "client_secret")
            if post_id is None or post_secret is None:
                raise InvalidClient("client_id and client_secret are both required.")
            return self._check_secret(post_id, post_secret, "client_secret_post")
        if assertion:
            return await self._check_assertion(form, audience)
        return await self._check_public(_one(form, "client_id"))

    @staticmethod
    def _parse_basic(encoded: str) -> tuple[str, str]:
        """RFC 6749 §2.3.1: the id and secret are form-urlencoded before Base64 (RFC 7617)."""
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidClient("Malformed Basic credentials.") from None
        client_id, sep, secret = decoded.partition(":")
        if not sep or not client_id:
            raise InvalidClient("Malformed Basic credentials.")
        return unquote_plus(client_id), unquote_plus(secret)

    def _check_secret(self, client_id: str, secret: str, method: str) -> AuthenticatedClient:
        client = self._trust.clients.get(client_id)
        digest = self._digests.get(client_id)
        # Compare even for unknown clients so timing does not reveal which ids exist.
        ok = secret_matches(secret, digest if digest is not None else _DUMMY_DIGEST)
        if client is None or digest is None or not ok:
            raise InvalidClient(detail=f"secret authentication failed for a {'known' if client else 'unknown'} client")
        return AuthenticatedClient(client, method)

    async def _find(self, client_id: str) -> ClientConfig | None:
        try:
            return await self._registry.find(client_id)
        except ClientMetadataError as exc:
            raise InvalidClient(
                f"The client metadata document is not usable: {exc.reason}.", detail=exc.reason
            ) from None

    async def _check_public(self, client_id: str | None) -> AuthenticatedClient:
        """``none`` (OAuth 2.1 §2.4): only for a client registered or described as public."""
        if client_id is None:
            raise InvalidClient("Client authentication is required.")
        client = await self._find(client_id)
        if client is None or not client.public:
            raise InvalidClient(
                "Client authentication is required.",
                detail=f"no credentials from a {'confidential' if client else 'unknown'} client",
            )
        return AuthenticatedClient(client, "none")

    async def _check_assertion(self, form: Form, audience: str) -> AuthenticatedClient:
        """``private_key_jwt`` (RFC 7523 §3, 7523bis §3), its ``jti`` single use (OIDC Core §9)."""
        if _one(form, "client_assertion_type") != CLIENT_ASSERTION_TYPE_JWT_BEARER:
            raise InvalidClient(f"client_assertion_type must be {CLIENT_ASSERTION_TYPE_JWT_BEARER}.")
        token = _one(form, "client_assertion")
        if token is None:
            raise InvalidClient("The client_assertion parameter is required.")
        settings = self._settings
        try:
            sub = peek(token, max_bytes=settings.max_assertion_bytes).claims.get("sub")
        except TokenInvalid as exc:
            raise InvalidClient("The client assertion is not a valid JWT.", detail=exc.reason) from None
        client = await self._find(sub) if isinstance(sub, str) else None
        if client is None or (client.jwks is None and client.jwks_uri is None):
            raise InvalidClient(detail="client assertion for an unknown or secret-based client")
        body_id = _one(form, "client_id")
        if body_id is not None and body_id != client.client_id:
            raise InvalidClient("The client_id parameter does not match the client assertion.")

        def now() -> int:
            return int(self._clock())

        claims = ClientAssertionClaims(
            now=now, leeway=settings.clock_skew, client_id=client.client_id, audience=audience
        )
        try:
            verified = await self._jwks.verify(
                token,
                issuer=f"client:{client.client_id}",
                jwks_uri=client.jwks_uri,
                inline=client.jwks,
                algorithms=tuple(sorted(ASYMMETRIC_ALGORITHMS)),
                typ=None,
                claims=claims,
                max_bytes=settings.max_assertion_bytes,
                forbidden_typs=_CLIENT_ASSERTION_TYPS,
            )
        except TokenInvalid as exc:
            raise InvalidClient(f"The client assertion failed validation: {exc.reason}.", detail=exc.reason) from None
        key = sha256(f"client-assertion\x1f{client.client_id}\x1f{verified.claims['jti']}".encode()).hexdigest()
        ttl = max(int(verified.claims["exp"]) - now() + settings.clock_skew, 1)
        if not await self._store.claim_once(key, ttl):
            raise InvalidClient("The client assertion has already been used.")
        return AuthenticatedClient(client, "private_key_jwt")
