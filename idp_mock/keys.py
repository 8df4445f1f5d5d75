"""Signing keys with rotation: publish a new key, sign with it, keep the old one until its tokens expire.

Relying parties cache JWKS and pick the key by ``kid`` (OIDC Core §10.1.1): a rotated-out key stays
published for the longest lifetime of anything it signed (plus skew), then leaves the set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

__all__ = ["KeyRing", "OwnTokenInvalid", "SigningAlg"]

SigningAlg = Literal["RS256", "ES256"]
_MAX_TOKEN_BYTES: Final = 16 * 1024


class OwnTokenInvalid(Exception):
    """A token presented back to the IdP failed verification; ``reason`` is safe to log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Entry:
    key: RSAKey | ECKey
    retire_at: float | None = None


def _generate(alg: SigningAlg) -> RSAKey | ECKey:
    key: RSAKey | ECKey
    if alg == "RS256":
        key = RSAKey.generate_key(2048, parameters={"use": "sig", "alg": alg})
    else:
        key = ECKey.generate_key("P-256", parameters={"use": "sig", "alg": alg})
    key.ensure_kid()  # RFC 7638 thumbprint: stable, unique per key
    return key


class KeyRing:
    """The IdP's signing keys: one current, older ones published until they retire.

    Args:
        alg: signature algorithm of every key in the ring.
        retire_after: seconds a rotated-out key stays in the JWKS (longest token lifetime + skew).
        now: clock.
    """

    def __init__(self, alg: SigningAlg, *, retire_after: int, now: Callable[[], float] = time.time) -> None:
        self.alg: SigningAlg = alg
        self._retire_after = retire_after
        self._now = now
        self._entries: list[_Entry] = [_Entry(_generate(alg))]
        self._registry = JWSRegistry(algorithms=[alg])

    @property
    def current_kid(self) -> str:
        """``kid`` of the key new tokens are signed with."""
        return self._entries[-1].key.kid or ""

    @property
    def kids(self) -> tuple[str, ...]:
        """``kid`` of every published key, oldest first."""
        self._prune()
        return tuple(e.key.kid or "" for e in self._entries)

    def rotate(self) -> str:
        """Publish a new key and sign with it from now on; the old key retires after ``retire_after``.

        Returns:
            The new ``kid``.
        """
        self._prune()
        self._entries[-1].retire_at = self._now() + self._retire_after
        self._entries.append(_Entry(_generate(self.alg)))
        return self.current_kid

    def jwks(self) -> dict[str, Any]:
        """The public JWK Set (RFC 7517 §5) of every unretired key."""
        self._prune()
        return dict(KeySet([e.key for e in self._entries]).as_dict(private=False))

    def sign(self, claims: Mapping[str, Any], *, typ: str) -> str:
        """Sign claims with the current key; the header carries ``alg``, ``kid`` and ``typ`` (RFC 7515 §4.1)."""
        key = self._entries[-1].key
        header = {"alg": self.alg, "kid": key.kid, "typ": typ}
        return jwt.encode(header, dict(claims), key, algorithms=[self.alg], registry=self._registry)

    def verify(self, token: str, *, typ: str, claims: JWTClaimsRegistry) -> dict[str, Any]:
        """Verify a token this IdP signed: size, ``alg``, ``kid`` among published keys, ``typ``, signature, claims.

        Raises:
            OwnTokenInvalid: with a loggable reason (never the token).
        """
        if len(token) > _MAX_TOKEN_BYTES:
            raise OwnTokenInvalid("token too large")
        self._prune()
        keys = KeySet([e.key for e in self._entries])
        try:
            decoded = jwt.decode(token, keys, algorithms=[self.alg], registry=self._registry)
        except JoseError as exc:
            raise OwnTokenInvalid(f"signature check failed: {exc.error}") from None
        except ValueError:
            raise OwnTokenInvalid("malformed token") from None
        if decoded.header.get("typ") != typ:
            # ID tokens and ID-JAGs share these keys; typ keeps one from passing as the other (RFC 8725 §3.11).
            raise OwnTokenInvalid(f"typ is not {typ!r}")
        try:
            claims.validate(decoded.claims)
        except JoseError as exc:
            raise OwnTokenInvalid(exc.description or exc.error) from None
        return decoded.claims

    def _prune(self) -> None:
        now = self._now()
        self._entries = [e for e in self._entries if e.retire_at is None or e.retire_at > now]
