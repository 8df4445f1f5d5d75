"""Configuration: frozen msgspec Structs loaded from TOML, unknown keys refused, errors naming the key path.

Every field has a default, so the demo runs with no file (three services on port 8101 trusting the
broker at ``http://127.0.0.1:8000/as``). A full file::

    host = "127.0.0.1"
    port = 8101
    # public_url = "https://mcp.example.com"   # default: http://{host}:{port}
    session_idle_timeout = 1800.0

    [broker]
    issuer = "http://127.0.0.1:8000/as"       # leg-2 issuer; tokens' iss must equal it exactly
    algorithms = ["ES256"]
    revocation_check = "introspect"            # or "none" (default)

    [broker.introspection]
    client_id = "mcp-fleet"
    client_secret_env = "MCP_INTROSPECTION_SECRET"

    [[service]]
    name = "calendar"                          # served at /calendar/mcp, scopes calendar.read/.write

    [[service]]
    name = "team-tickets"
    kind = "tickets"
    path = "/team/tickets/mcp"
    read_scope = "team.tickets.read"
    write_scope = "team.tickets.write"
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

import msgspec

from mcp_server.errors import ConfigError

__all__ = [
    "DEFAULT_ISSUER",
    "DEFAULT_PORT",
    "SERVICE_KINDS",
    "BrokerTrust",
    "IntrospectionClient",
    "McpSettings",
    "ResolvedService",
    "ServiceSettings",
    "load_settings",
    "parse_settings",
    "validate_settings",
]

DEFAULT_ISSUER: Final = "http://127.0.0.1:8000/as"
"""The broker's leg-2 issuer when none is configured."""
DEFAULT_PORT: Final = 8101
"""Listening port when none is configured."""

ServiceKind = Literal["calendar", "documents", "tickets"]
SERVICE_KINDS: Final[tuple[ServiceKind, ...]] = ("calendar", "documents", "tickets")
"""The sample service implementations in :mod:`mcp_server.services`."""

ALLOWED_ALGORITHMS: Final = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "Ed25519"})
"""Asymmetric JWS algorithms a broker key may use; ``none`` and HS* are never accepted (RFC 8725 §3.1)."""

_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")
"""RFC 6749 §3.3 scope-token (NQCHAR, no space)."""
_SERVICE_NAME: Final = re.compile(r"[a-z][a-z0-9-]*")


class _Base(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Immutable, keyword-only, unknown keys refused."""


class IntrospectionClient(_Base, frozen=True, kw_only=True):
    """This deployment's client registration at the broker, used only for RFC 7662 introspection."""

    client_id: str
    """Client id at the broker (``client_secret_basic``, RFC 7662 §2.1)."""
    client_secret_env: str
    """Name of the environment variable holding the client secret (never inline in the file)."""
    endpoint: str | None = None
    """Introspection endpoint; default ``{issuer}/introspect``."""

    def secret(self, env: Mapping[str, str] | None = None) -> str:
        """The client secret from the environment.

        Raises:
            ConfigError: the variable is not set.
        """
        value = (os.environ if env is None else env).get(self.client_secret_env)
        if not value:
            raise ConfigError(f"$.broker.introspection.client_secret_env: variable {self.client_secret_env} is not set")
        return value


class BrokerTrust(_Base, frozen=True, kw_only=True):
    """The one authorization server whose access tokens the services accept (RFC 9068 §4)."""

    issuer: str = DEFAULT_ISSUER
    """Leg-2 issuer identifier, compared exactly with the token's ``iss`` (RFC 9068 §4 step 3)."""
    jwks_uri: str | None = None
    """The broker's JWKS; default ``{issuer}/jwks``."""
    algorithms: tuple[str, ...] = ("ES256",)
    """JWS ``alg`` allow-list (RFC 8725 §3.1); asymmetric only."""
    leeway: int = 30
    """Clock skew tolerated on ``exp``/``iat``/``nbf``, seconds (RFC 7519 §4.1.4)."""
    max_token_bytes: int = 8192
    """Longest access token read; longer ones are refused unparsed."""
    jwks_refresh_interval: float = 60.0
    """Least time between two JWKS fetches caused by an unknown ``kid``, seconds (no fetch per request)."""
    jwks_max_age: float = 3600.0
    """A JWKS older than this is refetched on next use (keys the broker retired stop working), seconds."""
    jwks_failure_backoff: float = 2.0
    """After a failed fetch, no new attempt for this long, seconds."""
    jwks_max_bytes: int = 65536
    """Largest JWKS document read."""
    http_timeout: float = 2.0
    """Timeout of each outbound request to the broker, seconds."""
    revocation_check: Literal["none", "introspect"] = "none"
    """``introspect``: ask the broker (RFC 7662) whether a token is still active, cached (EMA §7.5.4)."""
    revocation_cache_ttl: float = 30.0
    """How long an ``active: true`` answer is reused, seconds: the most a revocation can lag."""
    introspection: IntrospectionClient | None = None
    """Required when ``revocation_check = "introspect"``."""

    @property
    def resolved_jwks_uri(self) -> str:
        """Where the broker's keys are fetched."""
        return self.jwks_uri or f"{self.issuer}/jwks"

    @property
    def introspection_endpoint(self) -> str:
        """Where introspection requests go."""
        configured = self.introspection.endpoint if self.introspection else None
        return configured or f"{self.issuer}/introspect"


class ServiceSettings(_Base, frozen=True, kw_only=True):
    """One MCP service: an OAuth protected resource with its own resource URL (RFC 9728 §2)."""

    name: str
    """Unique service name (lowercase letters, digits, '-')."""
    kind: ServiceKind | None = None
    """Which sample implementation to serve; default: the name (which must then be a kind)."""
    path: str | None = None
    """Request path of the MCP endpoint; default ``/{name}/mcp`` (or the path of ``resource``)."""
    resource: str | None = None
    """Resource identifier (the tokens' ``aud``); default ``{public_url}{path}``."""
    read_scope: str | None = None
    """Scope needed for every request; default ``{kind}.read``."""
    write_scope: str | None = None
    """Scope needed, in addition, by tools that change data; default ``{kind}.write``."""
    title: str | None = None
    """Human-readable name (``resource_name`` in the metadata)."""


_DEFAULT_SERVICES: Final = tuple(ServiceSettings(name=k) for k in SERVICE_KINDS)


class McpSettings(_Base, frozen=True, kw_only=True):
    """The whole deployment: listener, trust in the broker, and the services."""

    host: str = "127.0.0.1"
    """Listening address."""
    port: int = DEFAULT_PORT
    """Listening port."""
    public_url: str | None = None
    """Origin clients use (scheme://host[:port], no path); default ``http://{host}:{port}``."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra ``Host`` values accepted besides the public URL's (DNS-rebinding protection)."""
    allowed_origins: tuple[str, ...] = ()
    """Extra ``Origin`` values accepted besides the public URL's origin."""
    session_idle_timeout: float = 1800.0
    """A Streamable HTTP session with no request for this long is closed, seconds."""
    max_sessions: int | None = 10_000
    """Concurrent sessions per service; None = no cap."""
    stateless: bool = False
    """Serve without sessions (every request stands alone)."""
    json_response: bool = False
    """Answer POSTs with JSON instead of an SSE stream."""
    max_request_body_bytes: int = 4 * 1024 * 1024
    """Largest request body (413 above)."""
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    """Log level of the ``serve`` command."""
    broker: BrokerTrust = BrokerTrust()
    service: tuple[ServiceSettings, ...] = _DEFAULT_SERVICES

    @property
    def origin(self) -> str:
        """The public origin the resource URLs are built on."""
        return (self.public_url or f"http://{_host_for_url(self.host)}:{self.port}").rstrip("/")

    def services(self) -> tuple[ResolvedService, ...]:
        """Every service with its defaults filled in."""
        return tuple(_resolve(s, self.origin) for s in self.service)


@dataclass(frozen=True, slots=True)
class ResolvedService:
    """A service with every default applied."""

    name: str
    kind: ServiceKind
    path: str
    resource: str
    read_scope: str
    write_scope: str
    title: str

    @property
    def scopes(self) -> tuple[str, str]:
        """``scopes_supported`` (RFC 9728 §2)."""
        return (self.read_scope, self.write_scope)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _resolve(s: ServiceSettings, origin: str) -> ResolvedService:
    kind: ServiceKind = s.kind or (s.name if s.name in SERVICE_KINDS else "calendar")
    path = s.path or (urlsplit(s.resource).path if s.resource else f"/{s.name}/mcp")
    return ResolvedService(
        name=s.name,
        kind=kind,
        path=path,
        resource=s.resource or f"{origin}{path}",
        read_scope=s.read_scope or f"{kind}.read",
        write_scope=s.write_scope or f"{kind}.write",
        title=s.title or f"{s.name.replace('-', ' ').title()} (sample MCP service)",
    )


def load_settings(path: str | Path, *, env: Mapping[str, str] | None = None) -> McpSettings:
    """Read and validate an ``mcp.toml``.

    Raises:
        ConfigError: naming the file and the offending key path.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_settings(raw, source=str(p), env=env)


def parse_settings(raw: bytes | str, *, source: str = "mcp.toml", env: Mapping[str, str] | None = None) -> McpSettings:
    """Decode and validate TOML text; see :func:`load_settings`."""
    try:
        settings = msgspec.toml.decode(raw, type=McpSettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_path_first(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    validate_settings(settings, source=source, env=env)
    return settings


def validate_settings(settings: McpSettings, *, source: str = "mcp.toml", env: Mapping[str, str] | None = None) -> None:
    """Cross-field checks (also run by ``create_app`` on settings built in code).

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


def _check_url(key: str, value: str, *, origin_only: bool = False) -> Iterator[str]:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        yield f"{key}: must be an absolute http(s) URL"
    elif parts.query or parts.fragment or "#" in value:
        yield f"{key}: must not have a query or fragment"
    elif origin_only and parts.path not in ("", "/"):
        yield f"{key}: must be an origin (scheme://host[:port]) without a path"


def _positive(key: str, value: float) -> Iterator[str]:
    if not (math.isfinite(value) and value > 0):
        yield f"{key}: must be a positive number"


def _problems(s: McpSettings, env: Mapping[str, str]) -> Iterator[str]:
    if not 0 <= s.port <= 65535:
        yield "$.port: must be between 0 and 65535"
    if s.public_url is not None:
        yield from _check_url("$.public_url", s.public_url, origin_only=True)
    yield from _positive("$.session_idle_timeout", s.session_idle_timeout)
    if s.max_sessions is not None and s.max_sessions <= 0:
        yield "$.max_sessions: must be a positive number or absent"
    if s.max_request_body_bytes <= 0:
        yield "$.max_request_body_bytes: must be > 0"
    yield from _broker_problems(s.broker, env)
    yield from _service_problems(s)


def _broker_problems(b: BrokerTrust, env: Mapping[str, str]) -> Iterator[str]:
    yield from _check_url("$.broker.issuer", b.issuer)
    if b.issuer.endswith("/"):
        yield "$.broker.issuer: must not end with '/' (issuers are compared exactly, RFC 8414 §2)"
    if b.jwks_uri is not None:
        yield from _check_url("$.broker.jwks_uri", b.jwks_uri)
    if not b.algorithms:
        yield "$.broker.algorithms: name at least one algorithm"
    for i, alg in enumerate(b.algorithms):
        if alg not in ALLOWED_ALGORITHMS:
            yield f"$.broker.algorithms[{i}]: {alg!r} is not allowed; use one of {sorted(ALLOWED_ALGORITHMS)}"
    if not 0 <= b.leeway <= 300:
        yield "$.broker.leeway: must be between 0 and 300 seconds"
    if b.max_token_bytes < 256:
        yield "$.broker.max_token_bytes: must be at least 256"
    if b.jwks_max_bytes < 256:
        yield "$.broker.jwks_max_bytes: must be at least 256"
    for key in (
        "jwks_refresh_interval",
        "jwks_max_age",
        "jwks_failure_backoff",
        "http_timeout",
        "revocation_cache_ttl",
    ):
        yield from _positive(f"$.broker.{key}", getattr(b, key))
    yield from _introspection_problems(b, env)


def _introspection_problems(b: BrokerTrust, env: Mapping[str, str]) -> Iterator[str]:
    if b.introspection is not None and b.introspection.endpoint is not None:
        yield from _check_url("$.broker.introspection.endpoint", b.introspection.endpoint)
    if b.revocation_check == "introspect":
        if b.introspection is None:
            yield '$.broker.introspection: required when revocation_check = "introspect"'
        elif not env.get(b.introspection.client_secret_env):
            yield (f"$.broker.introspection.client_secret_env: variable {b.introspection.client_secret_env} is not set")


def _service_problems(s: McpSettings) -> Iterator[str]:
    if not s.service:
        yield "$.service: configure at least one service"
    seen: dict[str, dict[str, int]] = {"name": {}, "path": {}, "resource": {}}
    for i, (raw, svc) in enumerate(zip(s.service, s.services(), strict=True)):
        key = f"$.service[{i}]"
        yield from _one_service_problems(key, raw, svc)
        for field in ("name", "path", "resource"):
            value = getattr(svc, field)
            if value in seen[field]:
                yield f"{key}.{field}: duplicate of $.service[{seen[field][value]}].{field}"
            seen[field].setdefault(value, i)


def _one_service_problems(key: str, raw: ServiceSettings, svc: ResolvedService) -> Iterator[str]:
    if not _SERVICE_NAME.fullmatch(raw.name):
        yield f"{key}.name: start with a letter, then lowercase letters, digits, '-' (also the URI scheme)"
    if raw.kind is None and raw.name not in SERVICE_KINDS:
        yield f"{key}.kind: required when the name is not one of {list(SERVICE_KINDS)}"
    if not svc.path.startswith("/") or svc.path.startswith("/.well-known") or svc.path.endswith("/"):
        yield f"{key}.path: must start with '/', not end with '/', and not be under /.well-known"
    if raw.resource is not None:
        yield from _check_url(f"{key}.resource", raw.resource)
        if urlsplit(raw.resource).path != svc.path:
            yield f"{key}.resource: its path must be the service path {svc.path!r} (RFC 9728 §3.1)"
    for scope_key in ("read_scope", "write_scope"):
        if not _SCOPE_TOKEN.fullmatch(getattr(svc, scope_key)):
            yield f"{key}.{scope_key}: not a valid scope token (RFC 6749 §3.3)"
    if svc.read_scope == svc.write_scope:
        yield f"{key}.write_scope: must differ from read_scope"
