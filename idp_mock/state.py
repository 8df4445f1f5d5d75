"""In-memory state of the mock: pending logins, codes, grants and tokens, all expiring by the injected clock.

Codes and tokens are looked up by their SHA-256, so the maps never hold a usable credential as a key.
Every check-then-mark runs without an ``await`` in between, so on one event loop it is atomic.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from idp_mock.settings import UserConfig

__all__ = [
    "AccessToken",
    "Authentication",
    "AuthorizationCode",
    "AuthorizationRequest",
    "Grant",
    "MemoryState",
    "PendingLogin",
    "RefreshToken",
    "new_secret",
]

_PRUNE_EVERY: Final = 30.0


def new_secret() -> str:
    """A fresh 256-bit URL-safe random value (codes, tokens, CSRF tokens, ids)."""
    return secrets.token_urlsafe(32)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request (OIDC Core §3.1.2.1)."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    state: str | None
    nonce: str | None
    code_challenge: str


@dataclass(frozen=True, slots=True)
class Authentication:
    """One sign-in of a user: the ``auth_time`` and ``sid`` of the ID tokens it leads to."""

    user: UserConfig
    auth_time: int
    sid: str


@dataclass(slots=True)
class PendingLogin:
    """A login page shown for an authorization request; its CSRF token and browser binding are single use."""

    request: AuthorizationRequest
    csrf_token: str
    browser_binding: str
    expires_at: float


@dataclass(slots=True)
class Grant:
    """What the user granted one client in one sign-in; codes and tokens from it share its fate."""

    id: str
    client_id: str
    scope: tuple[str, ...]
    auth: Authentication
    revoked: bool = False


@dataclass(slots=True)
class AuthorizationCode:
    """An authorization code bound to client, redirect URI, PKCE challenge and nonce (RFC 6749 §4.1.2)."""

    request: AuthorizationRequest
    grant: Grant
    expires_at: float
    consumed: bool = False


@dataclass(slots=True)
class AccessToken:
    """An opaque access token for ``/userinfo``."""

    grant: Grant
    scope: tuple[str, ...]
    expires_at: float


@dataclass(slots=True)
class RefreshToken:
    """A rotating refresh token; ``used`` is set when it is exchanged (RFC 9700 §4.14.2)."""

    grant: Grant
    scope: tuple[str, ...]
    expires_at: float
    used: bool = False


@dataclass
class MemoryState:
    """All mutable IdP state, expiring by ``now``."""

    now: Callable[[], float] = time.time
    logins: dict[str, PendingLogin] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)
    _last_prune: float = 0.0

    # -- login pages -------------------------------------------------------------------------------
    def add_login(self, login: PendingLogin) -> str:
        """Store a pending login; returns its id (the form's ``login_id``)."""
        self._maybe_prune()
        login_id = new_secret()
        self.logins[login_id] = login
        return login_id

    def take_login(self, login_id: str) -> PendingLogin | None:
        """Remove and return an unexpired pending login (single use)."""
        login = self.logins.pop(login_id, None)
        if login is None or login.expires_at <= self.now():
            return None
        return login

    def peek_login(self, login_id: str) -> PendingLogin | None:
        """Return an unexpired pending login without consuming it."""
        login = self.logins.get(login_id)
        if login is None or login.expires_at <= self.now():
            return None
        return login

    # -- codes ---------------------------------------------------------------------------------------
    def add_code(self, code: AuthorizationCode) -> str:
        """Store an authorization code; returns the code value."""
        self._maybe_prune()
        value = new_secret()
        self.codes[_digest(value)] = code
        return value

    def find_code(self, value: str) -> AuthorizationCode | None:
        """The code record, consumed or not, while it has not expired."""
        code = self.codes.get(_digest(value))
        if code is None or code.expires_at <= self.now():
            return None
        return code

    # -- tokens --------------------------------------------------------------------------------------
    def add_access_token(self, token: AccessToken) -> str:
        """Store an access token; returns its value."""
        value = new_secret()
        self.access_tokens[_digest(value)] = token
        return value

    def find_access_token(self, value: str) -> AccessToken | None:
        """An unexpired access token of an unrevoked grant."""
        token = self.access_tokens.get(_digest(value))
        if token is None or token.expires_at <= self.now() or token.grant.revoked:
            return None
        return token

    def add_refresh_token(self, token: RefreshToken) -> str:
        """Store a refresh token; returns its value."""
        value = new_secret()
        self.refresh_tokens[_digest(value)] = token
        return value

    def find_refresh_token(self, value: str) -> RefreshToken | None:
        """The refresh token record (used or not) while it has not expired."""
        token = self.refresh_tokens.get(_digest(value))
        if token is None or token.expires_at <= self.now():
            return None
        return token

    # -- housekeeping ----------------------------------------------------------------------------------
    def _maybe_prune(self) -> None:
        now = self.now()
        if now - self._last_prune < _PRUNE_EVERY:
            return
        self._last_prune = now
        self.logins = {k: v for k, v in self.logins.items() if v.expires_at > now}
        self.codes = {k: v for k, v in self.codes.items() if v.expires_at > now}
        self.access_tokens = {k: v for k, v in self.access_tokens.items() if v.expires_at > now}
        self.refresh_tokens = {k: v for k, v in self.refresh_tokens.items() if v.expires_at > now}
