"""Mock IdP configuration: frozen msgspec Structs loaded from TOML, validated at start-up.

Unknown keys are refused (``forbid_unknown_fields``) and every error names the key path, e.g.
``idp.toml: $.user[1].groups: Expected `array`, got `str```. Users and clients default to a built-in
set (:data:`DEFAULT_USERS`, :data:`DEFAULT_CLIENTS`) so the demo needs no file::

    issuer = "http://127.0.0.1:9000"
    signing_alg = "ES256"

    [[user]]
    username = "dave"
    email = "dave@acme.example"
    name = "Dave Doe"
    groups = ["engineering"]

    [[client]]
    client_id = "agent-app"
    client_secret_env = "AGENT_APP_SECRET"
    redirect_uris = ["http://127.0.0.1:8765/callback"]
    id_jag_client_ids = { "http://127.0.0.1:8000/as" = "agent-1" }

    [id_jag]
    enabled = true
    audiences = ["http://127.0.0.1:8000/as"]
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import msgspec

from idp_mock.errors import ConfigError

__all__ = [
    "AGENT_APP",
    "AGENT_APP_CLIENT_ID",
    "AGENT_APP_CLIENT_SECRET",
    "AGENT_APP_REDIRECT_URIS",
    "ALICE",
    "BOB",
    "CAROL",
    "DEFAULT_CLIENTS",
    "DEFAULT_ISSUER",
    "DEFAULT_USERS",
    "PUBLIC_CLI",
    "PUBLIC_CLI_CLIENT_ID",
    "ClientConfig",
    "IdJagSettings",
    "IdpSettings",
    "Secret",
    "UserConfig",
    "load_settings",
    "parse_settings",
]

SIGNING_ALGORITHMS: Final = ("RS256", "ES256")
"""ID token algorithms offered: RS256 is the OIDC default (OIDC Core §15.1), ES256 is selectable."""


class Secret:
    """A secret whose ``repr``/``str`` never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret; call only where it is compared, never to log."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


class _Base(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Immutable, keyword-only, unknown keys refused."""


class UserConfig(_Base, frozen=True, kw_only=True):
    """A user who can sign in (picked on the login page or named by ``login_hint``)."""

    username: str
    """Login name: the picker value and the ``login_hint``."""
    sub: str | None = None
    """Subject identifier (OIDC Core §2); defaults to ``username``."""
    email: str
    """``email`` claim (OIDC Core §5.1); always sent as verified."""
    name: str
    """``name`` claim (OIDC Core §5.1)."""
    groups: tuple[str, ...] = ()
    """``groups`` claim: what the broker's policy matches on."""

    @property
    def subject(self) -> str:
        """The ``sub`` claim value."""
        return self.sub if self.sub is not None else self.username


class ClientConfig(_Base, frozen=True, kw_only=True):
    """A relying party registered at the IdP."""

    client_id: str
    """Client identifier (RFC 6749 §2.2); the ID token ``aud``."""
    client_secret: Secret | None = None
    """Inline secret of a confidential client (``client_secret_basic`` / ``client_secret_post``)."""
    client_secret_env: str | None = None
    """Name of an environment variable holding the secret instead."""
    public: bool = False
    """True for a public client (PKCE only, no secret: RFC 6749 §2.1, OAuth 2.1 §2.1)."""
    redirect_uris: tuple[str, ...]
    """Registered redirect URIs, matched exactly (OAuth 2.1 §2.3.1, RFC 9700 §4.1.3)."""
    id_jag_client_ids: dict[str, str] = msgspec.field(default_factory=dict)
    """Audience (resource AS issuer) -> this client's id there: the ID-JAG ``client_id`` (ID-JAG §3.1, §5).
    An audience not listed gets the same id as here."""


class IdJagSettings(_Base, frozen=True, kw_only=True):
    """Native ID-JAG issuance by RFC 8693 token exchange at ``/token`` (ID-JAG §4.3)."""

    enabled: bool = False
    """Serve the token-exchange grant."""
    audiences: tuple[str, ...] = ()
    """Resource authorization server issuers this IdP may issue ID-JAGs for (others: ``invalid_target``)."""
    ttl: int = 300
    """ID-JAG lifetime in seconds (EMA §7.4.2: short-lived)."""


AGENT_APP_CLIENT_ID: Final = "agent-app"
"""The built-in confidential client."""
AGENT_APP_CLIENT_SECRET: Final = "agent-app-secret"
"""Its secret (a demo value: never reuse it anywhere real)."""
AGENT_APP_REDIRECT_URIS: Final = ("http://127.0.0.1:8765/callback", "http://localhost:8765/callback")
"""Its registered redirect URIs (also those of :data:`PUBLIC_CLI`)."""
PUBLIC_CLI_CLIENT_ID: Final = "public-cli"
"""The built-in public client (PKCE, no secret)."""
DEFAULT_ISSUER: Final = "http://127.0.0.1:9000"
"""Issuer when none is configured."""

ALICE: Final = UserConfig(username="alice", email="alice@acme.example", name="Alice Anderson", groups=("engineering",))
BOB: Final = UserConfig(username="bob", email="bob@acme.example", name="Bob Brown", groups=("sales",))
CAROL: Final = UserConfig(
    username="carol", email="carol@acme.example", name="Carol Clark", groups=("engineering", "admins")
)
DEFAULT_USERS: Final = (ALICE, BOB, CAROL)
"""Users when the config names none."""

AGENT_APP: Final = ClientConfig(
    client_id=AGENT_APP_CLIENT_ID,
    client_secret=Secret(AGENT_APP_CLIENT_SECRET),
    redirect_uris=AGENT_APP_REDIRECT_URIS,
)
PUBLIC_CLI: Final = ClientConfig(client_id=PUBLIC_CLI_CLIENT_ID, public=True, redirect_uris=AGENT_APP_REDIRECT_URIS)
BROKER_CLIENT_ID: Final = "xaa-broker"
"""The built-in client for the broker's federated sign-in (its interactive fallback)."""
BROKER_RP: Final = ClientConfig(
    client_id=BROKER_CLIENT_ID, public=True, redirect_uris=("http://127.0.0.1:8000/as/callback",)
)
"""A public client (PKCE only): the demo broker at port 8000 signing users in through this IdP."""
DEFAULT_CLIENTS: Final = (AGENT_APP, PUBLIC_CLI, BROKER_RP)
"""Clients when the config names none."""


class IdpSettings(_Base, frozen=True, kw_only=True):
    """Everything the mock IdP serves."""

    issuer: str = DEFAULT_ISSUER
    """Issuer identifier (OIDC Discovery §3); endpoints are served under its path."""
    signing_alg: Literal["RS256", "ES256"] = "RS256"
    """ID token (and ID-JAG) signature algorithm."""
    id_token_ttl: int = 3600
    """ID token lifetime, seconds."""
    access_token_ttl: int = 3600
    """Access token (for ``/userinfo``) lifetime, seconds."""
    refresh_token_ttl: int = 86400
    """Refresh token lifetime, seconds; issued only with the ``offline_access`` scope (OIDC Core §11)."""
    code_ttl: int = 60
    """Authorization code lifetime, seconds (RFC 6749 §4.1.2: 10 minutes at most)."""
    login_ttl: int = 600
    """How long a login page (its CSRF token) stays valid, seconds."""
    clock_skew: int = 60
    """Added to the longest token lifetime before a rotated-out key leaves the JWKS, seconds."""
    admin_token: Secret | None = None
    """Bearer token for ``POST /admin/rotate-keys``; absent (and no env) = admin endpoint off."""
    admin_token_env: str = "IDP_MOCK_ADMIN_TOKEN"
    """Environment variable read for the admin token when ``admin_token`` is absent."""
    user: tuple[UserConfig, ...] = DEFAULT_USERS
    client: tuple[ClientConfig, ...] = DEFAULT_CLIENTS
    id_jag: IdJagSettings = IdJagSettings()

    @property
    def max_token_lifetime(self) -> int:
        """Longest life of anything signed with the current key, plus skew: when a rotated-out key retires."""
        ttls = [self.id_token_ttl]
        if self.id_jag.enabled:
            ttls.append(self.id_jag.ttl)
        return max(ttls) + self.clock_skew


def _dec_hook(typ: type, obj: Any) -> Any:
    if typ is Secret and isinstance(obj, str):
        return Secret(obj)
    raise NotImplementedError(f"cannot decode {typ!r}")


def load_settings(path: str | Path, *, env: Mapping[str, str] | None = None) -> IdpSettings:
    """Read and validate an ``idp.toml``.

    Raises:
        ConfigError: naming the file and the offending key path.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_settings(raw, source=str(p), env=env)


def parse_settings(raw: bytes | str, *, source: str = "idp.toml", env: Mapping[str, str] | None = None) -> IdpSettings:
    """Decode and validate TOML text; see :func:`load_settings`."""
    try:
        settings = msgspec.toml.decode(raw, type=IdpSettings, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_path_first(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    validate_settings(settings, source=source, env=env)
    return settings


def validate_settings(settings: IdpSettings, *, source: str = "idp.toml", env: Mapping[str, str] | None = None) -> None:
    """Cross-field checks.

    Raises:
        ConfigError: listing every problem, each with its key path.
    """
    problems = list(_problems(settings, os.environ if env is None else env))
    if problems:
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(problems))


def _path_first(message: str) -> str:
    """Turn msgspec's ``"msg - at `$.a[0].b`"`` into ``"$.a[0].b: msg"``."""
    m = re.match(r"^(.*) - at `(\$[^`]*)`$", message)
    return f"{m.group(2)}: {m.group(1)}" if m else f"$: {message}"


def _problems(s: IdpSettings, env: Mapping[str, str]) -> Iterator[str]:
    yield from _check_url("$.issuer", s.issuer, no_trailing_slash=True)
    for key in ("id_token_ttl", "access_token_ttl", "refresh_token_ttl", "code_ttl", "login_ttl"):
        if getattr(s, key) <= 0:
            yield f"$.{key}: must be > 0"
    if s.code_ttl > 600:
        yield "$.code_ttl: must be at most 600 seconds (RFC 6749 §4.1.2)"
    if not 0 <= s.clock_skew <= 300:
        yield "$.clock_skew: must be between 0 and 300 seconds"
    if s.id_jag.ttl <= 0:
        yield "$.id_jag.ttl: must be > 0"
    if s.id_jag.enabled and not s.id_jag.audiences:
        yield "$.id_jag.audiences: name at least one audience when ID-JAG issuance is enabled"
    for i, aud in enumerate(s.id_jag.audiences):
        yield from _check_url(f"$.id_jag.audiences[{i}]", aud)
    yield from _check_users(s.user)
    yield from _check_clients(s.client, env)


def _check_users(users: tuple[UserConfig, ...]) -> Iterator[str]:
    names: dict[str, int] = {}
    subs: dict[str, int] = {}
    for i, u in enumerate(users):
        if not re.fullmatch(r"[A-Za-z0-9_.@-]+", u.username):
            yield f"$.user[{i}].username: use letters, digits, '_', '.', '@', '-' only"
        if u.username in names:
            yield f"$.user[{i}].username: duplicate of $.user[{names[u.username]}].username"
        names.setdefault(u.username, i)
        if not u.subject:
            yield f"$.user[{i}].sub: must not be empty"
        if u.subject in subs:
            yield f"$.user[{i}].sub: duplicate of $.user[{subs[u.subject]}] (subjects are unique per issuer)"
        subs.setdefault(u.subject, i)


def _check_clients(clients: tuple[ClientConfig, ...], env: Mapping[str, str]) -> Iterator[str]:
    seen: dict[str, int] = {}
    for i, c in enumerate(clients):
        at = f"$.client[{i}]"
        if not c.client_id or any(ch in c.client_id for ch in ":\r\n"):
            # ':' cannot travel in HTTP Basic unescaped by careless clients; keep ids plain.
            yield f"{at}.client_id: must be non-empty without ':' or line breaks"
        if c.client_id in seen:
            yield f"{at}.client_id: duplicate of $.client[{seen[c.client_id]}].client_id"
        seen.setdefault(c.client_id, i)
        secrets = [k for k in ("client_secret", "client_secret_env") if getattr(c, k) is not None]
        if c.public and secrets:
            yield f"{at}.public: a public client has no secret (remove {secrets[0]})"
        if not c.public and len(secrets) != 1:
            yield f"{at}: a confidential client needs exactly one of client_secret, client_secret_env"
        if c.client_secret_env is not None and not env.get(c.client_secret_env):
            yield f"{at}.client_secret_env: environment variable {c.client_secret_env!r} is not set"
        if not c.redirect_uris:
            yield f"{at}.redirect_uris: register at least one redirect URI"
        for j, uri in enumerate(c.redirect_uris):
            yield from _check_redirect_uri(f"{at}.redirect_uris[{j}]", uri)
        for aud in c.id_jag_client_ids:
            yield from _check_url(f"{at}.id_jag_client_ids[{aud!r}]", aud)


def _check_redirect_uri(at: str, uri: str) -> Iterator[str]:
    """Absolute URI without fragment (RFC 6749 §3.1.2); plain http only on loopback (OAuth 2.1 §2.3.1)."""
    parts = urlsplit(uri)
    if not parts.scheme or not parts.netloc or parts.fragment:
        yield f"{at}: {uri!r} must be an absolute URI without a fragment"
    elif parts.scheme == "http" and not _is_loopback(parts.hostname or ""):
        yield f"{at}: {uri!r} must use https (plain http only for loopback hosts)"


def _check_url(at: str, value: str, *, no_trailing_slash: bool = False) -> Iterator[str]:
    """Absolute http(s) URL, no query or fragment (OIDC Discovery §3 issuer rules)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        yield f"{at}: {value!r} must be an absolute http(s) URL"
        return
    if parts.query or parts.fragment:
        yield f"{at}: {value!r} must not have a query or fragment"
    if no_trailing_slash and value.endswith("/"):
        yield f"{at}: {value!r} must not end with '/'"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_settings() -> IdpSettings:
    """The built-in configuration: default issuer, users and clients, RS256, no ID-JAG issuance."""
    return IdpSettings()
