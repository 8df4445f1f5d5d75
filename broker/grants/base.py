"""What every grant handler receives and returns."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec

from broker.audit import Audit
from broker.core.policy import TrustIndex
from broker.settings import BrokerSettings, ClientConfig
from broker.stores import Store

if TYPE_CHECKING:
    from broker.jwks import RemoteJwks
    from broker.keys import KeyRing

__all__ = ["AuthenticatedClient", "GrantContext", "TokenResponse"]


class TokenResponse(msgspec.Struct, omit_defaults=True, kw_only=True):
    """RFC 6749 §5.1 / RFC 8693 §2.2.1 success body."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str | None = None
    issued_token_type: str | None = None
    resource: str | None = None
    """The granted resource (PR:resource-iss §4.4.2; checklist L2-71)."""
    refresh_token: str | None = None
    """Only from the interactive grants (never with an ID-JAG or from jwt-bearer: ID-JAG §4.4.3)."""


@dataclass(frozen=True, slots=True)
class AuthenticatedClient:
    """A client that passed authentication at this request (RFC 6749 §2.3)."""

    config: ClientConfig
    method: str
    """``client_secret_basic``, ``client_secret_post`` or ``private_key_jwt``."""

    @property
    def client_id(self) -> str:
        """The client's id at the broker."""
        return self.config.client_id


@dataclass(slots=True)
class GrantContext:
    """Everything a grant handler may use; built once at start-up, shared by requests."""

    settings: BrokerSettings
    trust: TrustIndex
    store: Store
    jwks: RemoteJwks
    idp_keys: KeyRing
    as_keys: KeyRing
    audit: Audit = field(default_factory=Audit)
    clock: Callable[[], float] = time.time

    def now(self) -> int:
        """Current time as integer epoch seconds (NumericDate)."""
        return int(self.clock())
