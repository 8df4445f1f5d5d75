"""PKCE (RFC 7636) with S256 only: ``plain`` is refused (OAuth 2.1 §4.1.1, RFC 9700 §2.1.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Final

__all__ = ["SUPPORTED_METHODS", "check_challenge", "s256", "verifier_matches"]

SUPPORTED_METHODS: Final = ("S256",)
"""``code_challenge_methods_supported`` (RFC 8414 §2)."""

_VERIFIER: Final = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
"""RFC 7636 §4.1: ``code-verifier = 43*128unreserved``."""
_S256_CHALLENGE: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
"""RFC 7636 §4.2: BASE64URL(SHA256(verifier)) without padding is 43 characters."""


def s256(verifier: str) -> str:
    """``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`` (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_challenge(challenge: str | None, method: str | None) -> str | None:
    """Return why an authorization request's PKCE parameters are refused, or None when acceptable.

    A challenge is required for every client (OAuth 2.1 §4.1.1). A missing method means ``plain``
    (RFC 7636 §4.3), which is refused like an explicit ``plain`` (RFC 7636 §4.4.1: ``invalid_request``).
    """
    if challenge is None:
        return "code_challenge is required (PKCE, RFC 7636)"
    if method != "S256":
        return "code_challenge_method must be S256; plain is not supported"
    if not _S256_CHALLENGE.match(challenge):
        return "code_challenge is not a base64url SHA-256 value"
    return None


def verifier_matches(verifier: str, challenge: str) -> bool:
    """True when ``verifier`` is well formed and hashes to ``challenge`` (RFC 7636 §4.6), compared in constant time."""
    if not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)
