"""The one JWT wrapper: structure, algorithm allow-list, ``typ``, signature and claims in one call.

joserfc checks signatures only; claims need an explicit registry call. Everything the broker
verifies goes through :func:`verify_jwt` so nobody can forget a step (STYLE P6).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha256
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

__all__ = [
    "Jwt",
    "PrivateKey",
    "SignatureCache",
    "TokenInvalid",
    "UnknownKeyId",
    "normalize_typ",
    "peek",
    "sign_jwt",
    "verify_jwt",
]

PrivateKey = ECKey | RSAKey | OKPKey

_B64URL: Final = re.compile(r"^[A-Za-z0-9_-]*$")
_MAX_HEADER_BYTES: Final = 2048


class TokenInvalid(Exception):
    """A JWT failed a check. ``reason`` is safe to log (never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownKeyId(TokenInvalid):
    """The ``kid`` is not in the key set: the caller may refresh its JWKS once and retry."""


@dataclass(frozen=True, slots=True)
class Jwt:
    """A decoded JWT: header and claims (verified only when returned by :func:`verify_jwt`)."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise TokenInvalid(f"duplicate JSON member {k[:32]!r}")
        out[k] = v
    return out


_decode_json: Final = json.JSONDecoder(object_pairs_hook=_no_duplicates).decode
"""RFC 7519 §4 / RFC 8725bis §2.6: duplicate member names are refused, not last-wins (built once)."""


def _b64json(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = _decode_json(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise TokenInvalid(f"{what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise TokenInvalid(f"{what} is not a JSON object")
    return value


def peek(token: str, *, max_bytes: int) -> Jwt:
    """Parse a compact JWS **without verifying it**, enforcing structure (RFC 8725bis §3.14).

    Use only to pick the trust entry (unverified ``iss``, RFC 8725bis §3.8) before verification.

    Raises:
        TokenInvalid: oversized, not three base64url segments, JWE, JSON serialization,
            non-object or duplicate-member JSON.
    """
    if len(token) > max_bytes:
        raise TokenInvalid(f"token longer than {max_bytes} bytes")
    parts = token.split(".")
    if len(parts) == 5:
        raise TokenInvalid("encrypted (JWE) tokens are not accepted")
    if len(parts) != 3 or not all(parts) or not all(_B64URL.match(p) for p in parts):
        raise TokenInvalid("not a compact JWS (three base64url segments)")
    if len(parts[0]) > _MAX_HEADER_BYTES:
        raise TokenInvalid("JOSE header too large")
    return Jwt(_b64json(parts[0], "JOSE header"), _b64json(parts[1], "JWT payload"))


def normalize_typ(value: object) -> str | None:
    """Compare ``typ`` as a media type: case-insensitive, ``application/`` optional (RFC 8725bis §3.11, OQ-11)."""
    if not isinstance(value, str):
        return None
    v = value.strip().lower()
    return v.removeprefix("application/")


class SignatureCache:
    """Remembers which exact tokens already passed the signature check against which key set, until ``exp``.

    For tokens presented again and again (an ID token exchanged for several resources, or re-exchanged
    while it lives). Only the ECDSA/RSA arithmetic is skipped, and only for the same bytes (SHA-256 of
    the token) and the **same key set object**: a refetched or rotated JWKS is a new object and misses.
    Structure, ``crit``, the ``alg`` allow-list, ``typ`` and every claim (at the current time, for the
    current audience) are still checked on each use by :func:`verify_jwt`. Never used for single-use
    tokens (ID-JAGs, client assertions): they would only fill it.

    Args:
        now: clock, to drop entries past their token's ``exp``.
        max_entries: bound on memory; when full, expired entries go first, then the oldest (down to 90 %).
    """

    def __init__(self, now: Callable[[], float], max_entries: int = 10_000) -> None:
        self._now = now
        self._max = max_entries
        self._seen: dict[bytes, tuple[KeySet, float]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def verified(self, digest: bytes, keys: KeySet) -> bool:
        """Whether the token with this digest verified against ``keys`` (this very object) and has not expired."""
        entry = self._seen.get(digest)
        return entry is not None and entry[0] is keys and entry[1] > self._now()

    def remember(self, digest: bytes, keys: KeySet, exp: object) -> None:
        """Record a successful signature check; tokens without a numeric ``exp`` are not remembered."""
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return
        if len(self._seen) >= self._max:
            # Amortised: one sweep frees at least a tenth of the room, so a full cache is not rescanned per insert.
            now = self._now()
            for k in [k for k, (_, until) in self._seen.items() if until <= now]:
                del self._seen[k]
            excess = len(self._seen) - (self._max - max(self._max // 10, 1))
            for k in list(self._seen)[: max(excess, 0)]:
                del self._seen[k]
        self._seen[digest] = (keys, float(exp))


@lru_cache(maxsize=64)
def _registry(algorithms: tuple[str, ...]) -> JWSRegistry:
    return JWSRegistry(algorithms=list(algorithms))


def verify_jwt(
    token: str,
    *,
    keys: KeySet,
    algorithms: Collection[str],
    typ: str | None,
    claims: JWTClaimsRegistry,
    max_bytes: int,
    forbidden_typs: Collection[str] = (),
    unverified: Jwt | None = None,
    cache: SignatureCache | None = None,
) -> Jwt:
    """Verify a compact JWS completely: structure, ``crit``, ``alg`` allow-list, ``typ``, signature, claims.

    Args:
        token: the compact JWS.
        keys: the only keys that may have signed it (one issuer's set, RFC 8725bis §3.8).
        algorithms: allow-list, compared case-sensitively; ``none`` and HS* never appear in it.
        typ: the required ``typ`` (normalized), or None to require only that it is not forbidden.
        claims: the claims registry that validates the payload.
        max_bytes: size cap.
        forbidden_typs: ``typ`` values that identify another kind of token (type confusion, PR:stt).
        unverified: the result of :func:`peek` on this same token, when the caller already has it.
        cache: skip the signature arithmetic for a token that already verified against ``keys``
            (see :class:`SignatureCache`); every other check still runs.

    Raises:
        UnknownKeyId: the ``kid`` is not in ``keys``.
        TokenInvalid: any other failure; ``reason`` is safe to log.
    """
    if unverified is None:
        unverified = peek(token, max_bytes=max_bytes)
    header = unverified.header
    if "crit" in header:
        raise TokenInvalid("unsupported 'crit' header parameter")  # RFC 7515 §4.1.11: we understand none
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise TokenInvalid(f"algorithm {str(alg)[:16]!r} is not allowed")
    got_typ = normalize_typ(header.get("typ"))
    if typ is not None and got_typ != typ:
        raise TokenInvalid(f"JOSE header typ must be {typ!r}")
    if got_typ is not None and got_typ in forbidden_typs:
        raise TokenInvalid(f"a {got_typ!r} token is not accepted here")
    result = _check_signature(token, keys, algorithms, unverified, cache)
    try:
        claims.validate(dict(result.claims))
    except TokenInvalid:
        raise
    except JoseError as exc:
        raise TokenInvalid(exc.description or exc.error) from None
    return result


def _check_signature(
    token: str, keys: KeySet, algorithms: Collection[str], unverified: Jwt, cache: SignatureCache | None
) -> Jwt:
    """The signature check by joserfc (key by ``kid``, key type from ``alg``), or a :class:`SignatureCache` hit."""
    digest = sha256(token.encode()).digest() if cache is not None else b""
    if cache is not None and cache.verified(digest, keys):
        # The same bytes verified against this same key set: what joserfc would return is what peek read.
        return unverified
    try:
        token_obj = jwt.decode(token, keys, algorithms=tuple(algorithms), registry=_registry(tuple(algorithms)))
    except InvalidKeyIdError:
        raise UnknownKeyId("signing key not found (unknown kid)") from None
    except JoseError as exc:
        raise TokenInvalid(f"signature check failed: {exc.error}") from None
    except ValueError:
        raise TokenInvalid("malformed token") from None
    if cache is not None:
        cache.remember(digest, keys, token_obj.claims.get("exp"))
    return Jwt(token_obj.header, token_obj.claims)


def sign_jwt(header: Mapping[str, Any], claims: Mapping[str, Any], key: PrivateKey) -> str:
    """Sign claims as a compact JWS; ``header`` must carry ``alg``, ``kid`` and ``typ``."""
    alg = header["alg"]
    return jwt.encode(dict(header), dict(claims), key, algorithms=[alg], registry=_registry((alg,)))
