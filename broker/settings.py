"""Operator configuration: frozen msgspec Structs loaded from TOML and validated at start-up.

Unknown keys are refused (``forbid_unknown_fields``); every error names the offending key path,
e.g. ``broker.toml: $.idp[1].jwks_uri: ...``. Secrets are referenced, never inlined in clear:
a client secret is given as its SHA-256 (``client_secret_sha256``) or by the name of an
environment variable (``client_secret_env``).
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import msgspec

from broker.constants import GRANT_AUTHORIZATION_CODE, GRANT_JWT_BEARER, GRANT_REFRESH_TOKEN, GRANT_TOKEN_EXCHANGE
from broker.errors import ConfigError

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "AuditOutput",
    "AuditSettings",
    "BrokerSettings",
    "ClientConfig",
    "ExternalAuthorizationServer",
    "IdpLogin",
    "IdpTrust",
    "InteractiveSettings",
    "JwksSettings",
    "LoadedSettings",
    "PolicyRule",
    "RedisSettings",
    "ResourceConfig",
    "is_loopback_host",
    "redirect_uri_problem",
    "Secret",
    "load_settings",
    "parse_settings",
]

ASYMMETRIC_ALGORITHMS: Final[frozenset[str]] = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "Ed25519"}
)
"""Signature algorithms a trust entry may allow. HS* and ``none`` are impossible by construction
(RFC 8725bis §3.1-3.2: symmetric algorithms with published keys are the classic confusion)."""

SIGNING_ALGORITHMS: Final[frozenset[str]] = frozenset({"ES256", "ES384", "RS256", "PS256", "Ed25519"})
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]+$")  # RFC 6749 §3.3 scope-token
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class Secret:
    """A secret value whose ``repr``/``str`` never shows it (STYLE P4)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret; call only where it is used, never to log."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__


class _Base(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Common base: immutable, keyword-only, unknown keys refused."""


class JwksSettings(_Base, frozen=True):
    """How remote JWKS (IdPs, private_key_jwt clients) are fetched and cached."""

    ttl: int = 300
    """Seconds a fetched JWKS is fresh."""
    min_refresh_interval: int = 30
    """Seconds between forced refetches on unknown ``kid``, per issuer (kid-flood guard, EMA §7.4.1)."""
    stale_ttl: int = 3600
    """Seconds a JWKS may still be used while its endpoint is down (bounded stale use)."""
    timeout: float = 3.0
    """Seconds for one fetch (connect + read)."""
    max_bytes: int = 256 * 1024
    """Largest JWKS/discovery document accepted."""


class RedisSettings(_Base, frozen=True):
    """Redis topology for replay state, token cache, JWKS cache and revocation."""

    mode: Literal["standalone", "sentinel", "cluster"] = "standalone"
    """``standalone`` uses ``redis_url``; ``sentinel`` uses ``sentinels`` + ``service_name``; ``cluster``
    uses ``redis_url`` as a seed node."""
    sentinels: tuple[str, ...] = ()
    """``host:port`` of each Sentinel (mode ``sentinel``)."""
    service_name: str = "mymaster"
    """Sentinel master name."""
    socket_timeout: float = 0.5
    """Seconds per command; a timeout fails closed (503)."""
    max_connections: int = 256
    """Connection pool cap per worker; keep >= peak concurrent requests."""
    key_prefix: str = "xaa"
    """Namespace for every key the broker writes."""
    wait_replicas: int = 0
    """If > 0, ``WAIT`` for this many replicas after consuming a ``jti`` (narrows the failover replay window)."""


class IdpLogin(_Base, frozen=True):
    """Federated sign-in at this IdP for the interactive flow: the broker as an OIDC relying party."""

    client_id: str
    """The broker's client id at the IdP (the ``aud`` of the ID tokens it gets back)."""
    client_secret_env: str | None = None
    """Environment variable holding the broker's secret at the IdP; absent = public client (PKCE only)."""
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    """Scopes asked of the IdP; ``openid`` is required. Add the IdP's groups scope if it has one."""
    domains: tuple[str, ...] = ()
    """E-mail domains whose ``login_hint`` selects this IdP (lower case, e.g. ``acme.example``)."""
    display_name: str | None = None
    """Name shown on the IdP chooser page (default: the trust entry's ``name``)."""
    authorization_endpoint: str | None = None
    """Override of the discovered ``authorization_endpoint`` (OIDC Discovery §3)."""
    token_endpoint: str | None = None
    """Override of the discovered ``token_endpoint``."""


class IdpTrust(_Base, frozen=True):
    """An enterprise IdP whose ID tokens leg 1 accepts (and, optionally, whose ID-JAGs leg 2 accepts)."""

    name: str
    """Short name; prefixes namespaced subjects (``<name>|<sub>``) and appears in the audit log."""
    issuer: str
    """Exact string compared with the token ``iss`` (OIDC Core §3.1.3.7 step 2; OQ-8)."""
    jwks_uri: str | None = None
    """JWKS location; when absent it is discovered from ``{issuer}/.well-known/openid-configuration``."""
    jwks: dict[str, Any] | None = None
    """Inline JWKS (offline deployments, tests); takes precedence over ``jwks_uri``."""
    algorithms: tuple[str, ...] = ("RS256",)
    """Allow-list of signature algorithms for this IdP's keys (EMA §7.4.1)."""
    id_jag_issuer: bool = False
    """True: leg 2 also accepts ID-JAGs this IdP signs itself (native issuers, ID-JAG §4.1)."""
    subject: Literal["namespaced", "plain"] = "namespaced"
    """``namespaced``: ID-JAG ``sub`` = ``<name>|<sub>``; ``plain`` keeps the IdP ``sub`` (DESIGN OQ-1)."""
    groups_claim: str = "groups"
    """ID token claim holding the user's groups (list of strings)."""
    max_id_token_age: int | None = None
    """If set, refuse ID tokens whose ``iat`` is older than this many seconds."""
    id_jag_max_lifetime: int = 900
    """Longest ``exp - iat`` accepted from this IdP's native ID-JAGs (DESIGN OQ-10/23)."""
    login: IdpLogin | None = None
    """Set to let users of this IdP sign in through the broker's interactive flow (``[interactive]``)."""


class ClientConfig(_Base, frozen=True):
    """An agent app registered at the broker (a confidential OAuth client, DESIGN OQ-14)."""

    client_id: str
    """The client's id at the broker (both legs; ID-JAG ``client_id`` claim)."""
    client_secret_sha256: str | None = None
    """Lower-case hex SHA-256 of the client secret (``client_secret_basic`` / ``client_secret_post``)."""
    client_secret_env: str | None = None
    """Name of an environment variable holding the client secret."""
    jwks: dict[str, Any] | None = None
    """Inline public JWKS for ``private_key_jwt``."""
    jwks_uri: str | None = None
    """JWKS URL for ``private_key_jwt``."""
    id_token_audience: str | None = None
    """The client's id at the IdP: ID tokens it presents must carry it in ``aud`` (ID-JAG §4.3.3, OQ-1)."""
    grant_types: tuple[str, ...] = (GRANT_TOKEN_EXCHANGE, GRANT_JWT_BEARER)
    """Grants this client may use; others get ``unauthorized_client``."""
    may_introspect: bool = False
    """Whether this client may call the introspection endpoint (RFC 7662 §2.1, e.g. an MCP server)."""
    public: bool = False
    """A public client (OAuth 2.1 §2.1: no credentials, PKCE only); only the interactive grants."""
    redirect_uris: tuple[str, ...] = ()
    """Redirect URIs for the authorization code grant, compared exactly (OAuth 2.1 §2.3.1), except
    that a loopback IP redirect URI may use any port (RFC 8252 §7.3)."""
    consent: bool = False
    """Show the consent page before issuing a code to this client."""
    name: str | None = None
    """Human name shown on the consent page."""


class ResourceConfig(_Base, frozen=True):
    """An MCP server governed by leg 2 (an RFC 8707 resource, RFC 9728 protected resource)."""

    resource: str
    """Resource identifier (its URL), compared exactly (OQ-8)."""
    scopes: tuple[str, ...]
    """Scopes meaningful for this resource (RFC 9068 §2.2.3)."""
    token_ttl: int = 600
    """Cap on access-token lifetime for this resource, seconds."""
    name: str | None = None
    """Human name for printouts."""


class ExternalAuthorizationServer(_Base, frozen=True):
    """A third-party resource authorization server that may receive broker-issued ID-JAGs (bridge mode)."""

    issuer: str
    """Its issuer identifier: the leg-1 ``audience`` and the ID-JAG ``aud``."""
    resources: tuple[str, ...] = ()
    """Resources it governs (the EMA §7.6.1 ``(audience, resource)`` pair table)."""
    client_ids: dict[str, str] = msgspec.field(default_factory=dict)
    """Map broker ``client_id`` -> the client's id at that AS (ID-JAG §3.1 ``client_id``)."""


class PolicyRule(_Base, frozen=True):
    """Who may get what. No matching rule means denied."""

    idp: str
    """Name of the IdP trust entry the user signed in with."""
    clients: tuple[str, ...]
    """Client ids the rule applies to."""
    resources: tuple[str, ...]
    """Resources (ours or an external AS's) the rule grants."""
    scopes: tuple[str, ...]
    """Scopes the rule grants (intersected with each resource's scopes)."""
    groups: tuple[str, ...] = ()
    """If non-empty, the ID token's groups claim must contain one of these."""


class InteractiveSettings(_Base, frozen=True):
    """The interactive fallback: authorization code + PKCE at leg 2 with federated sign-in (MCP-AZ core flow)."""

    enabled: bool = False
    """Serve ``/as/authorize`` and the ``authorization_code``/``refresh_token`` grants."""
    code_ttl: int = 60
    """Authorization code lifetime, seconds (RFC 6749 §4.1.2: 10 minutes at most)."""
    login_ttl: int = 600
    """How long a sign-in in progress (IdP round trip, consent page) may take, seconds."""
    refresh_tokens: bool = True
    """Issue refresh tokens (rotated on every use, OAuth 2.1 §4.3.1) to clients allowed the grant."""
    refresh_token_ttl: int = 86400
    """Idle lifetime of a refresh token, seconds."""
    refresh_token_max_lifetime: int = 604800
    """Absolute lifetime of a refresh-token family from sign-in, seconds (a new sign-in is needed after)."""
    client_id_metadata_documents: bool = False
    """Accept clients identified by an HTTPS URL (Client ID Metadata Documents, MCP 2025-11-25)."""
    metadata_document_ttl: int = 300
    """Longest a fetched client metadata document is cached, seconds."""
    metadata_document_max_bytes: int = 5120
    """Largest client metadata document accepted (CIMD-02 §4: 5 KB is ample)."""
    allow_insecure_metadata_documents: bool = False
    """Development only: also accept ``http://`` loopback client metadata URLs."""
    consent_for_metadata_document_clients: bool = True
    """Always show the consent page to clients identified by a metadata document (self-asserted)."""


AuditOutput = Literal["stderr", "stdout", "logging"]


class AuditSettings(_Base, frozen=True):
    """Where the audit log goes: one JSON line per token decision (ID-JAG §9.2)."""

    output: AuditOutput = "stderr"
    """``stderr``/``stdout``: each line written straight to the stream, whatever the log level;
    ``logging``: the same JSON through the ``xaa.audit`` logger at INFO (embedding programs that route logs)."""


class BrokerSettings(_Base, frozen=True):
    """The whole broker configuration (``broker.toml``)."""

    public_url: str
    """Base URL; leg 1 issuer = ``{public_url}/idp``, leg 2 issuer = ``{public_url}/as``."""
    redis_url: str | None = None
    """Redis URL; absent = in-process store, one instance only (a warning is logged)."""
    redis: RedisSettings = RedisSettings()
    keys_dir: str = "var/keys"
    """Directory of the broker's signing keys; generated on first start when empty."""
    signing_alg: str = "ES256"
    """Algorithm of the broker's own keys (ES256: cheapest to sign, see LIBRARIES §2.3)."""
    id_jag_ttl: int = 300
    """Lifetime of issued ID-JAGs, seconds (EMA §7.4.2: short-lived)."""
    access_token_ttl: int = 600
    """Default access-token lifetime, capped by each resource's ``token_ttl``."""
    clock_skew: int = 60
    """Leeway for ``exp``/``iat``/``nbf`` checks, seconds."""
    id_jag_reuse: Literal["strict", "same-token"] = "strict"
    """``strict``: an ID-JAG is redeemed once (EMA §7.4.2). ``same-token``: the same client re-presenting
    it gets the same cached access token, never a new one (DESIGN OQ-3)."""
    cache_min_remaining: int = 60
    """A cached access token is served only while at least this many seconds of life remain."""
    max_assertion_bytes: int = 8192
    """Largest ID token / ID-JAG / client assertion accepted."""
    max_body_bytes: int = 65536
    """Largest token-endpoint request body."""
    jwks: JwksSettings = JwksSettings()
    idp: tuple[IdpTrust, ...] = ()
    client: tuple[ClientConfig, ...] = ()
    resource: tuple[ResourceConfig, ...] = ()
    external_as: tuple[ExternalAuthorizationServer, ...] = ()
    policy: tuple[PolicyRule, ...] = ()
    interactive: InteractiveSettings = InteractiveSettings()
    audit: AuditSettings = AuditSettings()

    @property
    def idp_issuer(self) -> str:
        """Leg-1 issuer identifier (the ID-JAG ``iss``)."""
        return f"{self.public_url}/idp"

    @property
    def as_issuer(self) -> str:
        """Leg-2 issuer identifier (the ID-JAG ``aud`` and the access-token ``iss``)."""
        return f"{self.public_url}/as"


@dataclass(frozen=True)
class LoadedSettings:
    """Validated settings plus the warnings an operator should see."""

    settings: BrokerSettings
    warnings: tuple[str, ...]


def load_settings(path: str | Path, env: dict[str, str] | None = None) -> LoadedSettings:
    """Read and validate a TOML config file.

    Raises:
        ConfigError: naming the file and the offending key path.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    return parse_settings(raw, source=str(p), env=env)


def parse_settings(
    raw: bytes | str, *, source: str = "broker.toml", env: dict[str, str] | None = None
) -> LoadedSettings:
    """Decode and validate TOML text; see :func:`load_settings`."""
    try:
        settings = msgspec.toml.decode(raw, type=BrokerSettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {_path_first(str(exc))}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    problems = list(_validate(settings, os.environ if env is None else env))
    errors = [m for level, m in problems if level == "error"]
    if errors:
        raise ConfigError(f"{source}: " + f"\n{source}: ".join(errors))
    return LoadedSettings(settings, tuple(m for level, m in problems if level == "warning"))


def _path_first(message: str) -> str:
    """Turn msgspec's ``"msg - at `$.a[0].b`"`` into ``"$.a[0].b: msg"``."""
    m = re.match(r"^(.*) - at `(\$[^`]*)`$", message)
    return f"{m.group(2)}: {m.group(1)}" if m else f"$: {message}"


_Problem = tuple[Literal["error", "warning"], str]


def _validate(s: BrokerSettings, env: Any) -> Iterator[_Problem]:
    yield from _check_url("$.public_url", s.public_url, allow_path=True, no_trailing_slash=True)
    if s.signing_alg not in SIGNING_ALGORITHMS:
        yield "error", f"$.signing_alg: must be one of {sorted(SIGNING_ALGORITHMS)}"
    for key in ("id_jag_ttl", "access_token_ttl", "max_assertion_bytes", "max_body_bytes"):
        if getattr(s, key) <= 0:
            yield "error", f"$.{key}: must be > 0"
    if not 0 <= s.clock_skew <= 300:
        yield "error", "$.clock_skew: must be between 0 and 300 seconds"
    if s.redis.mode == "sentinel" and not s.redis.sentinels:
        yield "error", "$.redis.sentinels: required when $.redis.mode is 'sentinel'"
    if s.redis.mode == "cluster" and not s.redis_url:
        yield "error", "$.redis_url: required (a seed node) when $.redis.mode is 'cluster'"
    if s.redis_url is None and s.redis.mode == "standalone":
        yield "warning", "no redis_url: in-process store; run a single instance only (replicas need Redis)"
    yield from _validate_idps(s.idp, env)
    yield from _validate_clients(s.client, env, s.interactive)
    yield from _validate_interactive(s)
    yield from _validate_resources(s.resource, s.external_as)
    yield from _validate_policy(s)


def _validate_idps(idps: Sequence[IdpTrust], env: Any) -> Iterator[_Problem]:
    names: dict[str, int] = {}
    issuers: dict[str, int] = {}
    plain: list[int] = []
    for i, idp in enumerate(idps):
        at = f"$.idp[{i}]"
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", idp.name):
            yield "error", f"{at}.name: use letters, digits, '_', '.', '-' only (it prefixes subjects)"
        if idp.name in names:
            yield "error", f"{at}.name: duplicate of $.idp[{names[idp.name]}].name"
        names.setdefault(idp.name, i)
        if idp.issuer in issuers:
            yield "error", f"{at}.issuer: duplicate of $.idp[{issuers[idp.issuer]}].issuer"
        issuers.setdefault(idp.issuer, i)
        yield from _check_url(f"{at}.issuer", idp.issuer, allow_path=True)
        if idp.jwks_uri is not None:
            yield from _check_url(f"{at}.jwks_uri", idp.jwks_uri, allow_path=True)
        if idp.jwks is not None and not isinstance(idp.jwks.get("keys"), list):
            yield "error", f"{at}.jwks: must be a JWK Set with a 'keys' array"
        yield from _check_algorithms(f"{at}.algorithms", idp.algorithms)
        if idp.subject == "plain":
            plain.append(i)
        if not 0 < idp.id_jag_max_lifetime <= 86400:
            yield "error", f"{at}.id_jag_max_lifetime: must be between 1 and 86400 seconds"
        if idp.login is not None:
            yield from _validate_login(f"{at}.login", idp.login, env)
    if len(plain) > 1:
        yield (
            "error",
            (
                f"$.idp[{plain[1]}].subject: 'plain' subjects on two IdPs "
                f"($.idp[{plain[0]}] too) could collide; namespace all but one"
            ),
        )


def _validate_login(at: str, login: IdpLogin, env: Any) -> Iterator[_Problem]:
    if "openid" not in login.scopes:
        yield "error", f"{at}.scopes: must include 'openid' (OIDC Core §3.1.2.1)"
    if login.client_secret_env is not None and not env.get(login.client_secret_env):
        yield "error", f"{at}.client_secret_env: environment variable {login.client_secret_env!r} is not set"
    for key in ("authorization_endpoint", "token_endpoint"):
        value = getattr(login, key)
        if value is not None:
            yield from _check_url(f"{at}.{key}", value, allow_path=True)
    for j, domain in enumerate(login.domains):
        if domain != domain.lower() or not re.fullmatch(r"[a-z0-9.-]+\.[a-z0-9-]+", domain):
            yield "error", f"{at}.domains[{j}]: {domain!r} is not a lower-case domain name"


def _check_algorithms(at: str, algorithms: Sequence[str]) -> Iterator[_Problem]:
    """Per-key allow-list of asymmetric algorithms only (RFC 8725bis §3.1-3.2, EMA §7.4.1)."""
    if not algorithms:
        yield "error", f"{at}: must name at least one algorithm"
    for j, alg in enumerate(algorithms):
        if alg not in ASYMMETRIC_ALGORITHMS:
            yield (
                "error",
                (
                    f"{at}[{j}]: {alg!r} is not allowed; use one of {sorted(ASYMMETRIC_ALGORITHMS)}"
                    " (symmetric and 'none' algorithms are refused)"
                ),
            )


_INTERACTIVE_GRANTS: Final = frozenset({GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN})


def _validate_clients(
    clients: Sequence[ClientConfig], env: Any, interactive: InteractiveSettings
) -> Iterator[_Problem]:
    seen: dict[str, int] = {}
    known_grants = {GRANT_TOKEN_EXCHANGE, GRANT_JWT_BEARER, *_INTERACTIVE_GRANTS}
    for i, c in enumerate(clients):
        at = f"$.client[{i}]"
        if not c.client_id or "|" in c.client_id:
            # '|' is reserved for namespaced user subjects, so a client id never collides with one
            # (RFC 9700 §4.15.1, checklist L2-59).
            yield "error", f"{at}.client_id: must be non-empty and must not contain '|'"
        if c.client_id in seen:
            yield "error", f"{at}.client_id: duplicate of $.client[{seen[c.client_id]}].client_id"
        seen.setdefault(c.client_id, i)
        yield from _check_credentials(at, c)
        if c.client_secret_sha256 is not None and not _HEX64.match(c.client_secret_sha256):
            yield "error", f"{at}.client_secret_sha256: must be 64 lower-case hex digits"
        if c.client_secret_env is not None and not env.get(c.client_secret_env):
            yield "error", f"{at}.client_secret_env: environment variable {c.client_secret_env!r} is not set"
        if c.jwks_uri is not None:
            yield from _check_url(f"{at}.jwks_uri", c.jwks_uri, allow_path=True)
        for j, g in enumerate(c.grant_types):
            if g not in known_grants:
                yield "error", f"{at}.grant_types[{j}]: unknown grant type {g!r}"
        yield from _validate_interactive_client(at, c, interactive)


def _check_credentials(at: str, c: ClientConfig) -> Iterator[_Problem]:
    creds = [k for k in ("client_secret_sha256", "client_secret_env", "jwks", "jwks_uri") if getattr(c, k) is not None]
    if c.public:
        if creds:
            yield "error", f"{at}: a public client has no credentials (got {creds})"
        if not set(c.grant_types) <= _INTERACTIVE_GRANTS:
            yield (
                "error",
                f"{at}.grant_types: a public client may use only authorization_code and refresh_token",
            )
    elif len(creds) != 1:
        yield (
            "error",
            (
                f"{at}: give exactly one of client_secret_sha256, client_secret_env, jwks, jwks_uri "
                f"(or public = true for an interactive-only client; got {creds or 'none'})"
            ),
        )


def _validate_interactive_client(at: str, c: ClientConfig, interactive: InteractiveSettings) -> Iterator[_Problem]:
    code = GRANT_AUTHORIZATION_CODE in c.grant_types
    if (code or GRANT_REFRESH_TOKEN in c.grant_types) and not interactive.enabled:
        yield "error", f"{at}.grant_types: interactive grants need [interactive] enabled = true"
    if GRANT_REFRESH_TOKEN in c.grant_types and not code:
        yield "error", f"{at}.grant_types: refresh_token is only issued with authorization_code"
    if code and not c.redirect_uris:
        yield "error", f"{at}.redirect_uris: required for the authorization_code grant"
    for j, uri in enumerate(c.redirect_uris):
        problem = redirect_uri_problem(uri)
        if problem is not None:
            yield "error", f"{at}.redirect_uris[{j}]: {problem}"


def redirect_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI, or None (OAuth 2.1 §2.3.1, RFC 8252 §7, RFC 9700 §4.1).

    Allowed: ``https``; ``http`` on a loopback host; a private-use scheme with a dot (``com.example.app:/cb``).
    Never a fragment.
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return f"{uri!r} is not a URL"
    if parts.fragment or "#" in uri:
        return f"{uri!r} must not have a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return None
    if parts.scheme not in ("http", "https", "javascript", "data", "file") and "." in parts.scheme:
        return None
    return f"{uri!r} must be https, http on a loopback host, or a private-use scheme (RFC 8252 §7.1)"


def _validate_interactive(s: BrokerSettings) -> Iterator[_Problem]:
    it = s.interactive
    if not 0 < it.code_ttl <= 600:
        yield "error", "$.interactive.code_ttl: must be between 1 and 600 seconds (RFC 6749 §4.1.2)"
    for key in ("login_ttl", "refresh_token_ttl", "refresh_token_max_lifetime", "metadata_document_ttl"):
        if getattr(it, key) <= 0:
            yield "error", f"$.interactive.{key}: must be > 0"
    if it.refresh_token_ttl > it.refresh_token_max_lifetime:
        yield "error", "$.interactive.refresh_token_ttl: must not exceed refresh_token_max_lifetime"
    if not 256 <= it.metadata_document_max_bytes <= 65536:
        yield "error", "$.interactive.metadata_document_max_bytes: must be between 256 and 65536"
    if it.enabled and not any(i.login is not None for i in s.idp):
        yield "error", "$.interactive.enabled: no [[idp]] has a [idp.login] table, so nobody could sign in"
    domains: dict[str, int] = {}
    for i, idp in enumerate(s.idp):
        for j, d in enumerate(idp.login.domains if idp.login else ()):
            if d in domains:
                yield "error", f"$.idp[{i}].login.domains[{j}]: {d!r} already maps to $.idp[{domains[d]}]"
            domains.setdefault(d, i)
    if it.allow_insecure_metadata_documents:
        yield "warning", "$.interactive.allow_insecure_metadata_documents: development only; never in production"


def _validate_resources(
    resources: Sequence[ResourceConfig], externals: Sequence[ExternalAuthorizationServer]
) -> Iterator[_Problem]:
    seen: dict[str, str] = {}
    for i, r in enumerate(resources):
        at = f"$.resource[{i}]"
        yield from _check_url(f"{at}.resource", r.resource, allow_path=True)
        if r.resource in seen:
            yield "error", f"{at}.resource: duplicate of {seen[r.resource]}"
        seen.setdefault(r.resource, f"{at}.resource")
        if not r.scopes:
            yield "error", f"{at}.scopes: must name at least one scope"
        for j, sc in enumerate(r.scopes):
            if not _SCOPE_TOKEN.match(sc):
                yield "error", f"{at}.scopes[{j}]: {sc!r} is not an RFC 6749 §3.3 scope-token"
        if r.token_ttl <= 0:
            yield "error", f"{at}.token_ttl: must be > 0"
    for i, ext in enumerate(externals):
        at = f"$.external_as[{i}]"
        yield from _check_url(f"{at}.issuer", ext.issuer, allow_path=True)
        for j, res in enumerate(ext.resources):
            yield from _check_url(f"{at}.resources[{j}]", res, allow_path=True)
            if res in seen:
                yield "error", f"{at}.resources[{j}]: already governed by {seen[res]}"
            seen.setdefault(res, f"{at}.resources[{j}]")
    yield from _near_misses(seen)


def _near_misses(identifiers: dict[str, str]) -> Iterator[_Problem]:
    """OQ-8: comparisons are exact, so warn about identifiers that differ only by case or a trailing slash."""
    folded: dict[str, str] = {}
    for ident, where in identifiers.items():
        key = ident.rstrip("/").lower()
        if key in folded:
            yield "warning", f"{where}: {ident!r} differs from {folded[key]} only by case or a trailing slash"
        folded.setdefault(key, f"{where}")


def _validate_policy(s: BrokerSettings) -> Iterator[_Problem]:
    idps = {i.name for i in s.idp}
    clients = {c.client_id for c in s.client}
    scopes_of = {r.resource: set(r.scopes) for r in s.resource}
    external = {res for ext in s.external_as for res in ext.resources}
    for i, rule in enumerate(s.policy):
        at = f"$.policy[{i}]"
        if rule.idp not in idps:
            yield "error", f"{at}.idp: no [[idp]] named {rule.idp!r}"
        for j, cid in enumerate(rule.clients):
            yield from _check_policy_client(f"{at}.clients[{j}]", cid, clients, s.interactive)
        granted: set[str] = set()
        for j, res in enumerate(rule.resources):
            if res in scopes_of:
                granted |= scopes_of[res]
            elif res not in external:
                yield (
                    "error",
                    f"{at}.resources[{j}]: {res!r} is not a [[resource]] nor an external_as resource",
                )
        ours = [r for r in rule.resources if r in scopes_of]
        for j, sc in enumerate(rule.scopes):
            if ours and sc not in granted and len(ours) == len(rule.resources):
                yield "error", f"{at}.scopes[{j}]: {sc!r} is not a scope of any resource this rule names"
    for i, c in enumerate(s.client):
        if GRANT_TOKEN_EXCHANGE in c.grant_types and c.id_token_audience is None:
            yield "warning", f"$.client[{i}].id_token_audience: unset, so this client cannot use leg 1"


def _check_policy_client(at: str, cid: str, clients: set[str], interactive: InteractiveSettings) -> Iterator[_Problem]:
    """A policy names a registered client, or (with metadata documents on) a client metadata URL."""
    if cid in clients:
        return
    if interactive.client_id_metadata_documents and cid.startswith(("https://", "http://")):
        yield from _check_url(at, cid, allow_path=True)
        return
    yield "error", f"{at}: no [[client]] with client_id {cid!r} (nor a client metadata document URL)"


def _check_url(at: str, value: str, *, allow_path: bool, no_trailing_slash: bool = False) -> Iterator[_Problem]:
    """Absolute http(s) URL, no fragment/query; plain http only for loopback hosts (MCP-AZ: HTTPS only)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        yield "error", f"{at}: {value!r} is not a URL"
        return
    if parts.scheme not in ("https", "http") or not parts.hostname:
        yield "error", f"{at}: {value!r} must be an absolute https URL"
        return
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        yield "error", f"{at}: {value!r} must use https (plain http is allowed only for loopback hosts)"
    if parts.fragment or parts.query:
        yield "error", f"{at}: {value!r} must not have a query or fragment"
    if not allow_path and parts.path not in ("", "/"):
        yield "error", f"{at}: {value!r} must not have a path"
    if no_trailing_slash and value.endswith("/"):
        yield "error", f"{at}: {value!r} must not end with '/'"


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP literal (where plain http is tolerated: RFC 8252 §7.3)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secret_digest(value: str) -> bytes:
    """SHA-256 of a client secret (secrets are high-entropy, so a fast hash is the right tool)."""
    return sha256(value.encode()).digest()


def secret_matches(presented: str, expected_digest: bytes) -> bool:
    """Constant-time comparison of a presented secret with a stored digest."""
    return hmac.compare_digest(secret_digest(presented), expected_digest)
