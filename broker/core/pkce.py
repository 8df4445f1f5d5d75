"""PKCE (RFC 7636) with S256 only (OAuth 2.1 §4.1.1: ``plain`` is not offered, so it cannot be downgraded to)."""

from __future__ import annotations

import base64
import hmac
import re
from hashlib import sha256
from typing import Final

__all__ = ["is_challenge", "s256", "verifier_matches"]

_VERIFIER: Final = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 §4.1 code-verifier
_CHALLENGE: Final = re.compile(r"^[A-Za-z0-9\-_]{43}$")  # BASE64URL(SHA256) without padding: 43 chars


def s256(verifier: str) -> str:
    """``BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))`` (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def is_challenge(value: str) -> bool:
    """Whether ``value`` can be an S256 ``code_challenge`` (43 base64url characters)."""
    return bool(_CHALLENGE.match(value))


def verifier_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: the verifier is well formed and its S256 equals the challenge (constant time)."""
    if not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)
