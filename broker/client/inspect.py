"""Decode a JWT for an operator, and say plainly whether its signature was checked.

Never a silent verify-skip: every report states ``signature: verified ...`` or
``signature: NOT verified (...)``. Verification uses the issuer's published JWKS with an
asymmetric-only algorithm allow-list (RFC 8725bis §3.1); claims are shown, not judged, except
that times are rendered with how long ago or ahead they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from broker.core.jose import Jwt, TokenInvalid, peek, verify_jwt
from broker.settings import ASYMMETRIC_ALGORITHMS

__all__ = ["Inspection", "fetch_jwks", "inspect_token", "render"]

_MAX_TOKEN = 64 * 1024
_MAX_JWKS = 256 * 1024
_TIME_CLAIMS = ("iat", "nbf", "exp", "auth_time")


class _SignatureOnly(JWTClaimsRegistry):
    """Claims are displayed, not validated: ``inspect`` reports times instead of refusing them."""

    def validate(self, claims: dict[str, Any]) -> None:
        """Accept any claims."""


@dataclass(frozen=True, slots=True)
class Inspection:
    """What ``decode`` found: header, claims and the signature verdict."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    verified: bool
    verdict: str


async def fetch_jwks(http: httpx.AsyncClient, jwks_uri: str) -> KeySet:
    """Fetch and parse a JWKS (size-capped); raises ``ValueError`` with a readable reason."""
    try:
        r = await http.get(jwks_uri, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot fetch {jwks_uri}: {type(exc).__name__}") from None
    if r.status_code != 200 or len(r.content) > _MAX_JWKS:
        raise ValueError(f"{jwks_uri} answered HTTP {r.status_code} ({len(r.content)} bytes)")
    try:
        return KeySet.import_key_set(r.json())
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{jwks_uri} is not a usable JWKS: {exc}") from None


def inspect_token(token: str, keys: KeySet | None = None, *, source: str = "") -> Inspection:
    """Decode ``token``; verify its signature when ``keys`` is given.

    Raises:
        TokenInvalid: the token is not a compact JWS at all.
    """
    decoded: Jwt = peek(token.strip(), max_bytes=_MAX_TOKEN)
    if keys is None:
        return Inspection(decoded.header, decoded.claims, False, "NOT verified (no JWKS given: decoded only)")
    try:
        verify_jwt(
            token.strip(),
            keys=keys,
            algorithms=tuple(sorted(ASYMMETRIC_ALGORITHMS)),
            typ=None,
            claims=_SignatureOnly(),
            max_bytes=_MAX_TOKEN,
        )
    except TokenInvalid as exc:
        return Inspection(decoded.header, decoded.claims, False, f"NOT verified: {exc.reason} ({source})")
    return Inspection(decoded.header, decoded.claims, True, f"verified with kid {decoded.header.get('kid')} ({source})")


def _when(value: object, now: float) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    delta = int(value - now)
    stamp = datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ago = f"in {delta} s" if delta >= 0 else f"{-delta} s ago"
    return f"   # {stamp}, {ago}"


def render(inspection: Inspection, *, now: float, title: str = "token") -> str:
    """A readable report: the verdict first, then header and claims with times explained."""
    lines = [f"== {title}", f"signature: {inspection.verdict}", "header:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in inspection.header.items()]
    lines.append("claims:")
    for k, v in inspection.claims.items():
        suffix = _when(v, now) if k in _TIME_CLAIMS else ""
        lines.append(f"  {k}: {json.dumps(v)}{suffix}")
    exp = inspection.claims.get("exp")
    if isinstance(exp, int | float) and exp < now:
        lines.append("note: this token has EXPIRED")
    return "\n".join(lines)
