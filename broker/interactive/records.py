"""What the interactive flow keeps in the shared store, and under which keys.

Every key is a SHA-256 of the secret it stands for, so a store dump reveals no usable code,
refresh token or sign-in handle. Records are msgspec Structs encoded as msgpack.
"""

from __future__ import annotations

import secrets
from hashlib import sha256
from typing import Any

import msgspec

from broker.core.tokens import Grant

__all__ = [
    "CodeRecord",
    "GrantRecord",
    "RefreshRecord",
    "SignIn",
    "code_key",
    "decode",
    "encode",
    "family_at_key",
    "family_revoked_key",
    "new_secret",
    "refresh_key",
    "sign_in_key",
    "used_key",
]


class GrantRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A policy decision for a signed-in user, kept so refresh can re-apply the policy to it."""

    idp: str
    subject: str
    groups: tuple[str, ...]
    scopes: tuple[str, ...]
    resource: str
    auth_claims: dict[str, Any] = msgspec.field(default_factory=dict)

    @classmethod
    def of(cls, grant: Grant, groups: tuple[str, ...]) -> GrantRecord:
        """Record ``grant`` (a leg-2 grant with a resource) and the user's groups at sign-in."""
        assert grant.resource is not None  # noqa: S101 - interactive grants always name a resource
        return cls(
            idp=grant.idp,
            subject=grant.subject,
            groups=groups,
            scopes=tuple(sorted(grant.scopes)),
            resource=grant.resource,
            auth_claims=dict(grant.auth_claims),
        )

    def grant(self, client_id: str, audience: str, scopes: frozenset[str] | None = None) -> Grant:
        """The grant to mint an access token from (``scopes`` narrows the recorded ones)."""
        return Grant(
            idp=self.idp,
            subject=self.subject,
            client_id=client_id,
            audience=audience,
            resource=self.resource,
            scopes=frozenset(self.scopes) if scopes is None else scopes,
            auth_claims=self.auth_claims,
        )


class SignIn(msgspec.Struct, kw_only=True):
    """A sign-in in progress: the client's authorization request, then the IdP round trip and consent."""

    client_id: str
    redirect_uri: str
    state: str | None
    code_challenge: str
    resource: str
    scope: str | None
    binding: str
    """Random value also set as a cookie: the callback and consent must come from the same browser."""
    login_hint: str | None = None
    idp: str | None = None
    nonce: str | None = None
    idp_verifier: str | None = None
    grant: GrantRecord | None = None
    """Set once the user signed in and policy allowed the request; then only consent remains."""
    csrf: str | None = None
    """The consent form's token (checked with the cookie binding)."""


class CodeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """An authorization code: bound to client, redirect URI, PKCE challenge and resource (RFC 6749 §4.1.2)."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    grant: GrantRecord
    family: str
    """The token family its tokens belong to (revoked as a whole if the code is replayed)."""


class RefreshRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A refresh token: bound to client and resource, one use, rotated (OAuth 2.1 §4.3.1)."""

    client_id: str
    grant: GrantRecord
    family: str
    family_expires_at: int
    """Absolute end of the family (``refresh_token_max_lifetime`` after sign-in)."""


_ENCODER = msgspec.msgpack.Encoder()


def encode(record: msgspec.Struct) -> bytes:
    """Encode a record as msgpack."""
    return _ENCODER.encode(record)


def decode(raw: bytes, kind: type[msgspec.Struct]) -> Any:
    """Decode a record written by :func:`encode` (a stored value is trusted, written by us)."""
    return msgspec.msgpack.decode(raw, type=kind)


def new_secret() -> str:
    """256 bits from the OS CSPRNG, base64url (codes, refresh tokens, handles: RFC 6749 §10.10)."""
    return secrets.token_urlsafe(32)


def _h(kind: str, value: str) -> str:
    return f"{kind}:" + sha256(f"{kind}\x1f{value}".encode()).hexdigest()


def sign_in_key(handle: str) -> str:
    """Key of a sign-in in progress."""
    return _h("signin", handle)


def code_key(code: str) -> str:
    """Key of an authorization code."""
    return _h("code", code)


def refresh_key(token: str) -> str:
    """Key of a refresh token."""
    return _h("rt", token)


def used_key(secret: str) -> str:
    """Claimed once when a code or refresh token is used: a second claim is a replay."""
    return _h("used", secret)


def family_revoked_key(family: str) -> str:
    """Marker that a token family is revoked."""
    return _h("family-revoked", family)


def family_at_key(family: str) -> str:
    """The latest access token ``jti`` (and expiry) of a family, to revoke it on replay."""
    return _h("family-at", family)
