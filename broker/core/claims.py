"""Claim rules, one ``validate_<claim>`` per rule, for each kind of JWT the broker accepts.

Every registry requires ``iss``, ``sub``, ``exp`` and ``iat`` as strings/NumericDates of the right
type (RFC 7523 §3 item 10: a claim of the wrong type makes the JWT invalid), applies ``leeway``
(the configured clock skew) and is built per request with an injected ``now``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, Final

from joserfc.errors import InvalidClaimError
from joserfc.jwt import ClaimsOption, JWTClaimsRegistry

__all__ = [
    "AccessTokenClaims",
    "ClientAssertionClaims",
    "IdJagClaims",
    "IdTokenClaims",
    "MAX_JTI_LENGTH",
]

MAX_JTI_LENGTH: Final = 256
"""Replay keys are bounded (checklist L2-43)."""


def _ess(value: str | None = None) -> ClaimsOption:
    return {"essential": True} if value is None else {"essential": True, "value": value}


class _Common(JWTClaimsRegistry):
    """Shared rules: required ``iss``/``sub``/``exp``/``iat``; ``iat`` not in the future."""

    def __init__(self, *, now: Callable[[], int], leeway: int, issuer: str, **options: ClaimsOption) -> None:
        super().__init__(now=now, leeway=leeway, iss=_ess(issuer), sub=_ess(), exp=_ess(), iat=_ess(), **options)

    def validate_sub(self, value: object) -> None:
        """``sub`` is a non-empty string of sane length (OIDC Core §2; RFC 7523 §3 item 2)."""
        if not isinstance(value, str) or not value or len(value) > 255:
            raise InvalidClaimError("sub", "Claim 'sub' must be a non-empty string of at most 255 characters")


class IdTokenClaims(_Common):
    """An enterprise IdP's ID token presented at leg 1 (OIDC Core §3.1.3.7; ID-JAG §4.3.3).

    Args:
        now: clock.
        leeway: clock skew, seconds.
        issuer: the trusted IdP's issuer, compared exactly (step 2).
        audience: the client's id at that IdP (``ClientConfig.id_token_audience``).
        max_age: if set, ``iat`` older than this many seconds is refused.
        nonce: if set, the ``nonce`` claim must equal it (OIDC Core §3.1.3.7 step 11: the broker's own
            sign-in request); None when the ID token was obtained by someone else (leg 1).
    """

    def __init__(
        self,
        *,
        now: Callable[[], int],
        leeway: int,
        issuer: str,
        audience: str,
        max_age: int | None = None,
        nonce: str | None = None,
    ) -> None:
        super().__init__(now=now, leeway=leeway, issuer=issuer, aud=_ess())
        self.audience = audience
        self.max_age = max_age
        self.nonce = nonce

    def validate_aud(self, value: object) -> None:
        """``aud`` contains the client's IdP client id (step 3, ID-JAG §4.3.3 MUST)."""
        if isinstance(value, str):
            ok = value == self.audience
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            ok = self.audience in value
        else:
            ok = False
        if not ok:
            raise InvalidClaimError("aud", "Audience validation failed")

    def validate(self, claims: dict[str, Any]) -> None:
        """Run the per-claim rules, then the cross-claim ones (``azp``, maximum age)."""
        super().validate(claims)
        aud = claims.get("aud")
        azp = claims.get("azp")
        # OIDC Core §3.1.3.7 steps 4-5: with several audiences, azp must name this client.
        if isinstance(aud, list) and len(aud) > 1 and azp != self.audience:
            raise InvalidClaimError("azp", "Authorized party validation failed")
        if azp is not None and azp != self.audience:
            raise InvalidClaimError("azp", "Authorized party validation failed")
        if self.max_age is not None and claims["iat"] < self.now - self.max_age - self.leeway:
            raise InvalidClaimError("iat", "The ID token is too old")
        if self.nonce is not None:
            nonce = claims.get("nonce")
            if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), self.nonce.encode()):
                raise InvalidClaimError("nonce", "The nonce does not match the sign-in request")


class IdJagClaims(_Common):
    """An ID-JAG presented at leg 2 (ID-JAG §3.1, §4.4.1; RFC 7523 §3; EMA §7.4).

    Args:
        now: clock.
        leeway: clock skew, seconds.
        issuer: the trusted ID-JAG issuer (our leg 1 or a native IdP).
        audience: our leg-2 issuer identifier.
        client_id: the authenticated client (ID-JAG §4.4.1: ``client_id`` MUST identify it).
        max_lifetime: longest ``exp - iat`` accepted (DESIGN OQ-10/23).
    """

    def __init__(
        self,
        *,
        now: Callable[[], int],
        leeway: int,
        issuer: str,
        audience: str,
        client_id: str,
        max_lifetime: int,
    ) -> None:
        super().__init__(now=now, leeway=leeway, issuer=issuer, aud=_ess(), jti=_ess(), client_id=_ess())
        self.audience = audience
        self.client_id = client_id
        self.max_lifetime = max_lifetime

    def validate_aud(self, value: object) -> None:
        """``aud`` is our issuer: a string, or an array with exactly one element (ID-JAG §4.4.1)."""
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value != self.audience:
            raise InvalidClaimError("aud", "Audience validation failed")

    def validate_client_id(self, value: object) -> None:
        """``client_id`` identifies the authenticated client (ID-JAG §4.4.1; stolen-grant defence)."""
        if value != self.client_id:
            raise InvalidClaimError("client_id", "The ID-JAG was issued to another client")

    def validate_jti(self, value: object) -> None:
        """``jti`` is a bounded non-empty string (ID-JAG §3.1; replay keys, checklist L2-43)."""
        if not isinstance(value, str) or not value or len(value) > MAX_JTI_LENGTH:
            raise InvalidClaimError("jti", "Claim 'jti' must be a string of at most 256 characters")

    def validate_resource(self, value: object) -> None:
        """``resource`` is a URI string or a non-empty array of them (ID-JAG §3.1)."""
        if isinstance(value, str):
            return
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return
        raise InvalidClaimError("resource", "Claim 'resource' must be a string or an array of strings")

    def validate_scope(self, value: object) -> None:
        """``scope`` is a space-separated string (RFC 8693 §4.2)."""
        if not isinstance(value, str):
            raise InvalidClaimError("scope", "Claim 'scope' must be a space-separated string")

    def validate_act(self, value: object) -> None:
        """``act`` has no defined processing in the ID-JAG profile: refused (ID-JAG §9.8, DESIGN OQ-22)."""
        raise InvalidClaimError("act", "Delegation ('act') is not supported")

    def validate_cnf(self, value: object) -> None:
        """Key-bound (DPoP) ID-JAGs need proof of possession, which this broker does not offer (ID-JAG §9.9)."""
        raise InvalidClaimError("cnf", "Proof of possession is not supported for this authorization grant")

    def validate(self, claims: dict[str, Any]) -> None:
        """Run the per-claim rules, then the lifetime bound (EMA §7.4.2: short-lived)."""
        super().validate(claims)
        if claims["exp"] - claims["iat"] > self.max_lifetime:
            raise InvalidClaimError("exp", "The ID-JAG lifetime exceeds the accepted maximum")


class AccessTokenClaims(_Common):
    """One of our own access tokens, at introspection or revocation (RFC 9068 §4, RFC 7662)."""

    def __init__(self, *, now: Callable[[], int], leeway: int, issuer: str) -> None:
        super().__init__(now=now, leeway=leeway, issuer=issuer, aud=_ess(), jti=_ess(), client_id=_ess())


class ClientAssertionClaims(JWTClaimsRegistry):
    """A ``private_key_jwt`` client assertion (RFC 7523 §3; draft-ietf-oauth-rfc7523bis §3).

    Args:
        now: clock.
        leeway: clock skew, seconds.
        client_id: the client it claims to be (``iss`` and ``sub``).
        audience: the issuer identifier of the endpoint's role, as the sole ``aud`` value.
        max_lifetime: longest ``exp - now`` accepted, seconds.
    """

    def __init__(
        self, *, now: Callable[[], int], leeway: int, client_id: str, audience: str, max_lifetime: int = 600
    ) -> None:
        super().__init__(
            now=now,
            leeway=leeway,
            iss=_ess(client_id),
            sub=_ess(client_id),
            exp=_ess(),
            jti=_ess(),
            aud=_ess(),
        )
        self.audience = audience
        self.max_lifetime = max_lifetime

    def validate_aud(self, value: object) -> None:
        """``aud`` is the issuer identifier as sole value; the token endpoint URL is refused (7523bis §3 item 3)."""
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value != self.audience:
            raise InvalidClaimError("aud", "Audience validation failed")

    def validate_jti(self, value: object) -> None:
        """``jti`` is a bounded non-empty string: client assertions are single use (OIDC Core §9)."""
        if not isinstance(value, str) or not value or len(value) > MAX_JTI_LENGTH:
            raise InvalidClaimError("jti", "Claim 'jti' must be a string of at most 256 characters")

    def validate(self, claims: dict[str, Any]) -> None:
        """Run the per-claim rules, then bound the remaining lifetime (replay-window hygiene)."""
        super().validate(claims)
        if claims["exp"] - self.now > self.max_lifetime:
            raise InvalidClaimError("exp", "The client assertion lifetime is too long")
