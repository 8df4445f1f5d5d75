"""Scope grammar and the narrowing rule.

RFC 6749 §3.3: ``scope = scope-token *( SP scope-token )``, ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from broker.errors import InvalidRequest

__all__ = ["format_scope", "parse_scope", "scope_claim"]

_SCOPE_TOKEN: Final = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")
_MAX_SCOPES: Final = 64


def parse_scope(value: str | None) -> frozenset[str] | None:
    """Parse a ``scope`` request parameter; None when omitted (RFC 6749 §3.1: empty = omitted).

    Raises:
        InvalidRequest: a token violates the RFC 6749 §3.3 grammar, or too many scopes.
    """
    if value is None or value == "":
        return None
    tokens = value.split(" ")
    if len(tokens) > _MAX_SCOPES:
        raise InvalidRequest("Too many scopes requested.")
    if not all(_SCOPE_TOKEN.match(t) for t in tokens):
        raise InvalidRequest("The scope parameter is malformed (RFC 6749 §3.3).")
    return frozenset(tokens)


def scope_claim(value: object) -> frozenset[str] | None:
    """Read a ``scope`` claim: a space-separated JSON string (RFC 8693 §4.2, RFC 9068 §2.2.3); None if invalid."""
    if not isinstance(value, str):
        return None
    tokens = [t for t in value.split(" ") if t]
    if not all(_SCOPE_TOKEN.match(t) for t in tokens):
        return None
    return frozenset(tokens)


def format_scope(scopes: Iterable[str]) -> str:
    """Canonical form: sorted, space-separated (stable cache keys and responses)."""
    return " ".join(sorted(scopes))
