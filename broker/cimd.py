"""Client ID Metadata Documents: clients identified by an HTTPS URL whose JSON we fetch.

draft-ietf-oauth-client-id-metadata-document-02 (CIMD-02), as used by the MCP authorization spec
of 2025-11-25. Rules, each in one function below:
- the URL (§3): https, a path, no fragment, userinfo, dot segments or query; plus our SSRF guard
  (no IP literal that is not globally routable, no ``localhost``) and a 2048-character cap;
- the fetch: :func:`broker.fetch.fetch_json` (timeout, no redirects, 200 only, size cap);
- the document (§4.1): ``client_id`` equals the URL, no shared secret of any kind, usable
  ``redirect_uris``, and keys for ``private_key_jwt``;
- caching: good documents per ``Cache-Control`` capped by ``metadata_document_ttl``; failures for
  10 s, so one bad client cannot make us hammer a host; one fetch per URL at a time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import SplitResult, unquote, urlsplit

import httpx

from broker.constants import GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN
from broker.fetch import FetchFailed, cache_max_age, fetch_json
from broker.settings import ClientConfig, InteractiveSettings, is_loopback_host, redirect_uri_problem
from broker.stores._singleflight import SingleFlight

__all__ = [
    "ClientMetadataError",
    "MetadataDocuments",
    "check_client_id_url",
    "client_from_document",
    "is_metadata_document_url",
]

MAX_URL_LENGTH: Final = 2048
NEGATIVE_TTL: Final = 10.0
"""Seconds a failed fetch or refused document is remembered."""
_NAME_LENGTH: Final = 100
_METHODS: Final = frozenset({"none", "private_key_jwt"})
_GRANTS: Final = (GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN)
# WHATWG URL: a host whose last label is a number is an IPv4 address, in any of the forms
# inet_aton accepts (``2130706433``, ``0x7f.1``, ``127.1``); resolvers take them too.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


class ClientMetadataError(Exception):
    """A client metadata document URL or document is not usable.

    ``reason`` is safe to show to the user and to log: it never holds a secret or the document body.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_metadata_document_url(client_id: str) -> bool:
    """Whether ``client_id`` claims to be a metadata document URL (the resolver decides if it is acceptable)."""
    return client_id.startswith(("https://", "http://"))


def check_client_id_url(url: str, *, allow_insecure: bool) -> None:
    """Refuse a client id URL that CIMD-02 §3 forbids or that would point us at an internal host.

    CIMD-02 §3: https, a path component, no fragment, no userinfo, no ``.``/``..`` segments; a query
    is SHOULD NOT and refused here. ``allow_insecure`` (development) admits ``http`` on loopback hosts
    and https to internal addresses.

    Raises:
        ClientMetadataError: naming the rule broken.
    """
    parts = _parse(url, allow_insecure=allow_insecure)
    if parts.query or "?" in url:
        raise ClientMetadataError("the client_id URL must not have a query (CIMD-02 §3)")
    if parts.path in ("", "/"):
        raise ClientMetadataError("the client_id URL must have a path component (CIMD-02 §3)")
    # Servers may decode %2e before resolving the path, so encoded dots are dot segments too.
    if any(unquote(seg) in (".", "..") for seg in parts.path.split("/")):
        raise ClientMetadataError("the client_id URL must not have '.' or '..' path segments (CIMD-02 §3)")


def _parse(url: str, *, allow_insecure: bool, what: str = "the client_id URL") -> SplitResult:
    """Shared rules for any URL we fetch on a client's say-so: scheme, host, no userinfo, no fragment."""
    if len(url) > MAX_URL_LENGTH:
        raise ClientMetadataError(f"{what} is longer than {MAX_URL_LENGTH} characters")
    # Only plain ASCII without spaces or backslashes: parsers disagree on the rest, and a
    # disagreement between this check and the HTTP client is an SSRF hole.
    if not url.isascii() or any(c <= " " or c in "\\\x7f" for c in url):
        raise ClientMetadataError(f"{what} must be plain ASCII without spaces, control characters or '\\'")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError:
        raise ClientMetadataError(f"{what} is not a valid URL") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.fragment or "#" in url:
        raise ClientMetadataError(f"{what} must not have a fragment (CIMD-02 §3)")
    if "@" in parts.netloc:
        raise ClientMetadataError(f"{what} must not have a username or password (CIMD-02 §3)")
    if not host:
        raise ClientMetadataError(f"{what} has no host")
    if parts.scheme == "http":
        if not (allow_insecure and is_loopback_host(host)):
            raise ClientMetadataError(f"{what} must use https (CIMD-02 §3)")
    elif parts.scheme != "https":
        raise ClientMetadataError(f"{what} must use https (CIMD-02 §3)")
    elif not allow_insecure and _is_internal(host):
        raise ClientMetadataError(f"{what} points at a loopback, private or reserved address")
    return parts


def _is_internal(host: str) -> bool:
    """SSRF guard on the URL's host (CIMD-02 security considerations); names are not resolved here."""
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761 §6.3
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        # Not a canonical literal; refuse the numeric spellings resolvers would still accept.
        return bool(_NUMERIC_LABEL.match(host.rsplit(".", 1)[-1]))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast


async def _system_resolve(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, 443, type=socket.SOCK_STREAM)
    return [str(info[4][0]).split("%", 1)[0] for info in infos]  # drop an IPv6 zone index


def client_from_document(url: str, doc: Mapping[str, Any], settings: InteractiveSettings) -> ClientConfig:
    """The client a fetched metadata document describes, or why it cannot be used (CIMD-02 §4.1).

    Raises:
        ClientMetadataError: the document breaks a rule.
    """
    if doc.get("client_id") != url:
        raise ClientMetadataError("the document's client_id is not its own URL (CIMD-02 §4.1)")
    method = _auth_method(doc)
    jwks, jwks_uri = _keys(doc, method, allow_insecure=settings.allow_insecure_metadata_documents)
    return ClientConfig(
        client_id=url,
        public=method == "none",
        jwks=jwks,
        jwks_uri=jwks_uri,
        redirect_uris=_redirect_uris(doc),
        grant_types=_grant_types(doc),
        consent=settings.consent_for_metadata_document_clients,
        name=_name(doc),
    )


def _auth_method(doc: Mapping[str, Any]) -> str:
    """``none`` or ``private_key_jwt``; no shared secret can exist for a document client (CIMD-02 §4.1)."""
    if "client_secret" in doc or "client_secret_expires_at" in doc:
        raise ClientMetadataError("the document must not contain a client_secret (CIMD-02 §4.1)")
    method = doc.get("token_endpoint_auth_method", "none")
    if not isinstance(method, str):
        raise ClientMetadataError("token_endpoint_auth_method must be a string")
    if method.startswith("client_secret_"):
        raise ClientMetadataError(f"token_endpoint_auth_method {method!r} uses a shared secret (CIMD-02 §4.1)")
    if method not in _METHODS:
        raise ClientMetadataError("token_endpoint_auth_method must be 'none' or 'private_key_jwt'")
    return method


def _keys(doc: Mapping[str, Any], method: str, *, allow_insecure: bool) -> tuple[dict[str, Any] | None, str | None]:
    """The keys of a ``private_key_jwt`` client: ``jwks`` or ``jwks_uri``, not both (RFC 7591 §2)."""
    if method != "private_key_jwt":
        return None, None  # a public client has no credentials; keys it lists are not used
    jwks, jwks_uri = doc.get("jwks"), doc.get("jwks_uri")
    if jwks is not None and jwks_uri is not None:
        raise ClientMetadataError("the document must not give both jwks and jwks_uri (RFC 7591 §2)")
    if jwks is not None:
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise ClientMetadataError("jwks must be a JWK Set with a 'keys' array")
        return jwks, None
    if isinstance(jwks_uri, str):
        _parse(jwks_uri, allow_insecure=allow_insecure, what="jwks_uri")
        return None, jwks_uri
    raise ClientMetadataError("private_key_jwt needs jwks or jwks_uri")


def _redirect_uris(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """A non-empty list of redirect URIs, each one we would accept from an operator (OAuth 2.1 §2.3.1)."""
    uris = doc.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise ClientMetadataError("redirect_uris must be a non-empty list of strings")
    for uri in uris:
        if redirect_uri_problem(uri) is not None:
            raise ClientMetadataError(
                "a redirect URI must be https, http on a loopback host, or a private-use scheme, without fragment"
            )
    return tuple(uris)


def _grant_types(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The interactive grants the document lists; absent means ``authorization_code`` (RFC 7591 §2)."""
    grants = doc.get("grant_types", [GRANT_AUTHORIZATION_CODE])
    if not isinstance(grants, list) or not all(isinstance(g, str) for g in grants):
        raise ClientMetadataError("grant_types must be a list of strings")
    if GRANT_AUTHORIZATION_CODE not in grants:
        raise ClientMetadataError("grant_types must include authorization_code")
    return tuple(g for g in _GRANTS if g in grants)


def _name(doc: Mapping[str, Any]) -> str | None:
    """``client_name`` for the consent page: printable characters only, at most 100 of them."""
    name = doc.get("client_name")
    if name is None:
        return None
    if not isinstance(name, str):
        raise ClientMetadataError("client_name must be a string")
    return "".join(c for c in name if c.isprintable())[:_NAME_LENGTH].strip() or None


@dataclass(frozen=True, slots=True)
class _Cached:
    expires_at: float
    client: ClientConfig | None
    reason: str | None


class MetadataDocuments:
    """Resolves metadata-document client ids to clients, with a per-process cache.

    Args:
        http: the HTTP client for fetches.
        settings: the ``[interactive]`` table (switch, limits, consent).
        timeout: seconds for one fetch.
        now: clock, for tests.
        max_entries: cache size; the oldest entry is dropped beyond it.
        resolver: host name -> IP addresses, checked before each fetch (SSRF guard); the system
            resolver by default.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: InteractiveSettings,
        *,
        timeout: float,
        now: Callable[[], float] = time.time,
        max_entries: int = 10_000,
        resolver: Callable[[str], Awaitable[list[str]]] | None = None,
    ) -> None:
        self._resolver = resolver if resolver is not None else _system_resolve
        self._http = http
        self._s = settings
        self._timeout = timeout
        self._now = now
        self._max_entries = max_entries
        self._cache: dict[str, _Cached] = {}
        self._flight: SingleFlight[ClientConfig] = SingleFlight()

    async def resolve(self, client_id: str) -> ClientConfig:
        """The client ``client_id``'s metadata document describes (CIMD-02 §3-§4.1).

        Raises:
            ClientMetadataError: documents are off, or the URL, the fetch or the document is not usable.
        """
        if not self._s.client_id_metadata_documents:
            raise ClientMetadataError("client metadata documents are not accepted here")
        check_client_id_url(client_id, allow_insecure=self._s.allow_insecure_metadata_documents)
        cached = self._cache.get(client_id)
        if cached is not None and self._now() < cached.expires_at:
            if cached.client is None:
                raise ClientMetadataError(cached.reason or "the client metadata document is not usable")
            return cached.client
        return await self._flight.do(client_id, lambda: self._load(client_id))

    async def _check_addresses(self, url: str, what: str = "its host name") -> None:
        """SSRF guard: a host name resolving to a loopback, private or reserved address is refused.

        Applied to the document's URL before the fetch and to the ``jwks_uri`` it names. Names can
        rebind between this check and the fetch (the fetch resolves again), and a ``jwks_uri`` is
        fetched later still, so this narrows the window rather than closing it; an egress proxy or
        network policy is the complete answer.
        """
        if self._s.allow_insecure_metadata_documents:
            return
        host = urlsplit(url).hostname or ""
        try:
            addresses = await self._resolver(host)
        except OSError:
            raise ClientMetadataError(f"{what} does not resolve") from None
        if not addresses or any(_is_internal(a) for a in addresses):
            raise ClientMetadataError(f"{what} resolves to a loopback, private or reserved address")

    async def _load(self, url: str) -> ClientConfig:
        try:
            await self._check_addresses(url)
            doc, cache_control = await fetch_json(
                self._http, url, timeout=self._timeout, max_bytes=self._s.metadata_document_max_bytes
            )
            client = client_from_document(url, doc, self._s)
            if client.jwks_uri is not None:
                # Its keys are fetched later by the JWKS cache: the same guard on that host, now.
                await self._check_addresses(client.jwks_uri, what="its jwks_uri host name")
        except (FetchFailed, ClientMetadataError) as exc:
            reason = exc.reason if isinstance(exc, ClientMetadataError) else f"fetching it failed ({exc})"
            self._remember(url, _Cached(self._now() + NEGATIVE_TTL, None, reason))
            raise ClientMetadataError(reason) from None
        ttl = float(self._s.metadata_document_ttl)
        age = cache_max_age(cache_control)
        if age is not None:
            ttl = min(ttl, float(age))
        if ttl > 0:
            self._remember(url, _Cached(self._now() + ttl, client, None))
        else:
            self._cache.pop(url, None)  # no-store: used for this call only
        return client

    def _remember(self, url: str, entry: _Cached) -> None:
        self._cache.pop(url, None)  # re-insert at the end: dict order is age order
        self._cache[url] = entry
        while len(self._cache) > self._max_entries:
            del self._cache[next(iter(self._cache))]
