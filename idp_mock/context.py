"""The per-app services every handler reads: settings, keys, state, clock (no module-level singletons)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from idp_mock.errors import ConfigError
from idp_mock.keys import KeyRing
from idp_mock.settings import ClientConfig, IdpSettings, UserConfig
from idp_mock.state import MemoryState

__all__ = ["STATE_KEY", "IdpContext", "build_context", "context_of", "secret_digest"]

STATE_KEY = "idp_mock"
"""Key of the :class:`IdpContext` in the Litestar app state."""


def secret_digest(value: str) -> bytes:
    """SHA-256 of a secret: compared with ``hmac.compare_digest`` so length and content leak nothing."""
    return hashlib.sha256(value.encode()).digest()


@dataclass(frozen=True)
class IdpContext:
    """Everything a request handler needs, built once per app by :func:`build_context`."""

    settings: IdpSettings
    keys: KeyRing
    state: MemoryState
    now: Callable[[], float]
    users: Mapping[str, UserConfig]
    clients: Mapping[str, ClientConfig]
    client_secrets: Mapping[str, bytes]
    admin_token: bytes | None

    @property
    def issuer(self) -> str:
        """The issuer identifier; every endpoint URL starts with it."""
        return self.settings.issuer

    def endpoint(self, name: str) -> str:
        """Absolute URL of an endpoint served under the issuer (``authorize``, ``token``, ...)."""
        return f"{self.settings.issuer}/{name}"

    def now_int(self) -> int:
        """Current time as a NumericDate (RFC 7519 §2)."""
        return int(self.now())


def build_context(settings: IdpSettings, *, now: Callable[[], float], env: Mapping[str, str] | None) -> IdpContext:
    """Resolve secrets (inline or from the environment) and index users and clients.

    Raises:
        ConfigError: an environment variable named by the config is not set.
    """
    environ = os.environ if env is None else env
    client_secrets: dict[str, bytes] = {}
    for i, c in enumerate(settings.client):
        if c.client_secret is not None:
            client_secrets[c.client_id] = secret_digest(c.client_secret.reveal())
        elif c.client_secret_env is not None:
            value = environ.get(c.client_secret_env)
            if not value:
                raise ConfigError(f"$.client[{i}].client_secret_env: {c.client_secret_env!r} is not set")
            client_secrets[c.client_id] = secret_digest(value)
    admin = settings.admin_token.reveal() if settings.admin_token is not None else environ.get(settings.admin_token_env)
    return IdpContext(
        settings=settings,
        keys=KeyRing(settings.signing_alg, retire_after=settings.max_token_lifetime, now=now),
        state=MemoryState(now=now),
        now=now,
        users={u.username: u for u in settings.user},
        clients={c.client_id: c for c in settings.client},
        client_secrets=client_secrets,
        admin_token=secret_digest(admin) if admin else None,
    )


def context_of(app_state: Any) -> IdpContext:
    """The context stored in a Litestar app's ``state``."""
    ctx = app_state[STATE_KEY]
    if not isinstance(ctx, IdpContext):  # pragma: no cover - wiring error
        raise TypeError("app state holds no IdpContext")
    return ctx
