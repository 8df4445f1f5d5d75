"""The SDK ``TokenVerifier`` that accepts only the broker's RFC 9068 access tokens for one service.

Checks, in order (RFC 9068 §4; checklist RS-01..RS-08): size and structure, ``alg`` in the
allow-list (``none``/HS* impossible: only asymmetric names pass settings validation), ``typ`` =
``at+jwt``, signature by a key in the broker's JWKS (refetched once on an unknown ``kid``, never per
request), ``iss`` = the broker exactly, ``aud`` = this service's resource exactly (a token minted
for a sibling service is refused), ``exp``/``iat`` within leeway, ``client_id`` present, and,
when configured, not revoked (RFC 7662 introspection at the broker, cached).

The JOSE and claim rules are the broker's own pure core (:mod:`broker.core.jose`,
:mod:`broker.core.claims`): one implementation of each rule for issuer and resource server.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Final

from joserfc.errors import InvalidClaimError
from joserfc.jwk import KeySet
from mcp.server.auth.provider import AccessToken, TokenVerifier

from broker.core.claims import AccessTokenClaims
from broker.core.jose import Jwt, TokenInvalid, UnknownKeyId, verify_jwt
from mcp_server.errors import TokenRejected
from mcp_server.introspection import IntrospectionRevocation
from mcp_server.jwks import BrokerKeys
from mcp_server.settings import BrokerTrust, ResolvedService

__all__ = ["AT_JWT", "BrokerTokenVerifier", "ServiceAccessTokenClaims", "access_token_of", "check_access_token"]

logger = logging.getLogger(__name__)

AT_JWT: Final = "at+jwt"
"""RFC 9068 §2.1 ``typ`` of a JWT access token (compared as a media type)."""
_OTHER_TYPS: Final = ("oauth-id-jag+jwt", "id-jag+jwt", "jwt", "id_token+jwt")
_VERIFIED: ContextVar[tuple[str, AccessToken | None] | None] = ContextVar("xaa_verified_bearer", default=None)
"""The verdict on this request's bearer token, so the SDK's own check reuses it (one verification per request)."""


class ServiceAccessTokenClaims(AccessTokenClaims):
    """An access token as one resource server sees it: ``aud`` must name this resource (RFC 9068 §4 step 4)."""

    def __init__(self, *, now: Callable[[], int], leeway: int, issuer: str, resource: str) -> None:
        super().__init__(now=now, leeway=leeway, issuer=issuer)
        self.resource = resource

    def validate_aud(self, value: object) -> None:
        """``aud`` is this resource, as a string or inside an array (RFC 7519 §4.1.3), compared exactly."""
        if not (value == self.resource or (isinstance(value, list) and self.resource in value)):
            raise InvalidClaimError("aud", "The token was not issued for this resource (aud)")

    def validate_client_id(self, value: object) -> None:
        """``client_id`` is a non-empty string (RFC 9068 §2.2)."""
        if not isinstance(value, str) or not value:
            raise InvalidClaimError("client_id", "Claim 'client_id' must be a non-empty string")

    def validate_scope(self, value: object) -> None:
        """``scope`` is a space-separated string when present (RFC 9068 §2.2.3)."""
        if not isinstance(value, str):
            raise InvalidClaimError("scope", "Claim 'scope' must be a string")


def check_access_token(
    token: str, keys: KeySet, *, trust: BrokerTrust, claims: ServiceAccessTokenClaims
) -> dict[str, Any]:
    """Verify one token against a key set: the pure part of the verifier.

    Raises:
        UnknownKeyId: the ``kid`` is not in ``keys`` (the caller may refresh the JWKS once).
        TokenRejected: any other failure; ``reason`` is safe to log.
    """
    try:
        verified: Jwt = verify_jwt(
            token,
            keys=keys,
            algorithms=trust.algorithms,
            typ=AT_JWT,
            claims=claims,
            max_bytes=trust.max_token_bytes,
            forbidden_typs=_OTHER_TYPS,
        )
    except UnknownKeyId:
        raise
    except TokenInvalid as exc:
        raise TokenRejected(exc.reason) from None
    return dict(verified.claims)


def access_token_of(token: str, claims: dict[str, Any], resource: str) -> AccessToken:
    """The SDK's view of a token whose ``claims`` were checked for ``resource``."""
    return AccessToken(
        token=token,
        client_id=claims["client_id"],
        scopes=str(claims.get("scope", "")).split(),
        expires_at=int(claims["exp"]),
        resource=resource,
        subject=claims["sub"],
        claims=claims,
    )


class BrokerTokenVerifier(TokenVerifier):
    """Accepts a bearer token only if the broker issued it for ``service`` (see the module docstring)."""

    def __init__(
        self,
        service: ResolvedService,
        trust: BrokerTrust,
        keys: BrokerKeys,
        *,
        revocation: IntrospectionRevocation | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self._trust = trust
        self._keys = keys
        self._revocation = revocation
        self._claims = ServiceAccessTokenClaims(
            now=lambda: int(clock()), leeway=trust.leeway, issuer=trust.issuer, resource=service.resource
        )

    async def check(self, token: str) -> AccessToken:
        """Verify ``token`` or say why not.

        Raises:
            TokenRejected: the token is not acceptable here.
            VerifierUnavailable: the broker's keys or introspection could not be reached (fail closed).
        """
        keys, generation = await self._keys.current()
        try:
            claims = check_access_token(token, keys, trust=self._trust, claims=self._claims)
        except UnknownKeyId:
            newer = await self._keys.refresh_for_unknown_kid(generation)
            if newer is None:
                raise TokenRejected("signing key not found (unknown kid; JWKS refreshed recently)") from None
            try:
                claims = check_access_token(token, newer, trust=self._trust, claims=self._claims)
            except UnknownKeyId:
                raise TokenRejected("signing key not found (unknown kid)") from None
        if self._revocation is not None:
            await self._revocation.ensure_active(token, float(claims["exp"]))
        return access_token_of(token, claims, self.service.resource)

    async def verify_for_request(self, token: str) -> AccessToken | None:
        """Verify the current request's bearer token once and remember the verdict for :meth:`verify_token`.

        Called by the gate before the SDK runs, so that an unreachable broker becomes a 503 there
        (inside the SDK app any exception becomes a 500).

        Raises:
            VerifierUnavailable: the broker's keys or introspection could not be reached.
        """
        verdict = await self.verify_token(token)
        _VERIFIED.set((token, verdict))
        return verdict

    async def verify_token(self, token: str) -> AccessToken | None:
        """The SDK hook: None makes the SDK answer 401 ``invalid_token`` (RFC 6750 §3.1).

        Raises:
            VerifierUnavailable: propagated so the app answers 503 instead of accepting or blaming the token.
        """
        known = _VERIFIED.get()
        if known is not None and known[0] == token:
            return known[1]
        try:
            return await self.check(token)
        except TokenRejected as exc:
            logger.info("refused a bearer token at %s: %s", self.service.name, exc.reason)
            return None
