"""Remote JWKS: fetch, cache (per process and shared by replicas), refresh on unknown ``kid``, verify.

Rules (ID-JAG draft §7.4.1 / EMA §7.4.1, RFC 8725bis §3.8, checklist L1-31, N68):
- keys come only from the issuer's own configured or discovered ``jwks_uri`` (never ``jku``/``x5u``);
- a fetched set is fresh for ``ttl``; an unknown ``kid`` forces one refetch at most every
  ``min_refresh_interval`` per issuer, across replicas (kid-flood guard);
- while the endpoint is down, the last set is used for at most ``stale_ttl`` more seconds;
- fetches time out, refuse redirects and stop at ``max_bytes``;
- symmetric (``oct``) keys, encryption keys and keys whose ``alg`` is off the allow-list are ignored,
  so HMAC-with-a-public-key confusion cannot happen.
The shared store is an optimisation here: if it is down, each process keeps its own cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, KeySet
from joserfc.jwt import JWTClaimsRegistry

from broker.core.jose import Jwt, SignatureCache, UnknownKeyId, verify_jwt
from broker.errors import StoreUnavailable, TemporarilyUnavailable
from broker.fetch import FetchFailed as _FetchFailed
from broker.fetch import cache_max_age, fetch_json
from broker.settings import JwksSettings
from broker.stores import Store
from broker.stores._singleflight import SingleFlight

__all__ = ["JwksUnavailable", "RemoteJwks", "keyset_from_jwks"]

_log = logging.getLogger("xaa.jwks")

_ASYMMETRIC_KTY = frozenset({"RSA", "EC", "OKP"})
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class JwksUnavailable(TemporarilyUnavailable):
    """The issuer's keys could not be fetched and no usable copy is cached (served as 503)."""

    default_description = "The issuer's signing keys are temporarily unavailable; no token was issued. Retry later."


class _Shared(msgspec.Struct, frozen=True):
    fetched_at: float
    ttl: float
    jwks: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Entry:
    keys: KeySet
    fetched_at: float
    ttl: float
    """Freshness: the configured ``ttl``, shortened by the response's ``Cache-Control: max-age``."""


def _freshness(cache_control: str | None, settings: JwksSettings) -> float:
    """RFC 9111 §5.2.2: honour ``max-age``/``no-cache``, clamped to [min_refresh_interval, ttl] (kid-flood guard)."""
    age = cache_max_age(cache_control)
    if age is None:
        return float(settings.ttl)
    return float(min(max(age, settings.min_refresh_interval), settings.ttl))


def keyset_from_jwks(doc: Mapping[str, Any], algorithms: Collection[str]) -> KeySet:
    """Import the usable verification keys of a JWK Set (RFC 7517 §5), skipping the rest.

    Skipped: non-asymmetric ``kty`` (``oct``), ``use`` other than ``sig``, ``alg`` off ``algorithms``,
    and members that do not import. Private members are dropped before import.
    """
    raw = doc.get("keys")
    keys = []
    for jwk in raw if isinstance(raw, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") not in _ASYMMETRIC_KTY:
            continue
        if jwk.get("use", "sig") != "sig" or ("alg" in jwk and jwk["alg"] not in algorithms):
            continue
        try:
            keys.append(JWKRegistry.import_key({k: v for k, v in jwk.items() if k not in _PRIVATE_MEMBERS}))
        except (JoseError, ValueError, TypeError):
            continue
    return KeySet(keys)


class RemoteJwks:
    """Keys of remote issuers (enterprise IdPs, ``private_key_jwt`` clients), verified in one call."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        store: Store,
        settings: JwksSettings,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._store = store
        self._s = settings
        self._now = now
        self._local: dict[str, _Entry] = {}
        self._inline: dict[str, tuple[int, KeySet]] = {}
        self._discovered: dict[str, str] = {}
        self._last_forced: dict[str, float] = {}
        self._flight: SingleFlight[_Entry | None] = SingleFlight()
        self._signatures = SignatureCache(now)

    async def verify(
        self,
        token: str,
        *,
        issuer: str,
        jwks_uri: str | None,
        inline: Mapping[str, Any] | None,
        algorithms: Collection[str],
        typ: str | None,
        claims: JWTClaimsRegistry,
        max_bytes: int,
        forbidden_typs: Collection[str] = (),
        unverified: Jwt | None = None,
        remember: bool = False,
    ) -> Jwt:
        """Verify ``token`` against ``issuer``'s keys; refetch once on an unknown ``kid``.

        ``unverified`` is the caller's :func:`~broker.core.jose.peek` of the token, if it has one.
        ``remember`` caches the signature result for tokens presented repeatedly (ID tokens, never
        single-use assertions): see :class:`~broker.core.jose.SignatureCache`.

        Raises:
            TokenInvalid: any check failed (including a ``kid`` still unknown after refresh).
            JwksUnavailable: the keys cannot be fetched and no cached copy may be used.
        """

        def check(keys: KeySet) -> Jwt:
            return verify_jwt(
                token,
                keys=keys,
                algorithms=algorithms,
                typ=typ,
                claims=claims,
                max_bytes=max_bytes,
                forbidden_typs=forbidden_typs,
                unverified=unverified,
                cache=self._signatures if remember else None,
            )

        if inline is not None:
            return check(self._inline_keys(issuer, inline, algorithms))
        entry = await self._current(issuer, jwks_uri, algorithms)
        try:
            return check(entry.keys)
        except UnknownKeyId:
            refreshed = await self._flight.do(
                f"refresh\x1f{issuer}", lambda: self._refresh(issuer, jwks_uri, algorithms, entry)
            )
            if refreshed is None:
                raise
            return check(refreshed.keys)

    def _inline_keys(self, issuer: str, inline: Mapping[str, Any], algorithms: Collection[str]) -> KeySet:
        cached = self._inline.get(issuer)
        if cached is not None and cached[0] == id(inline):
            return cached[1]
        keys = keyset_from_jwks(inline, algorithms)
        self._inline[issuer] = (id(inline), keys)
        return keys

    async def _current(self, issuer: str, jwks_uri: str | None, algorithms: Collection[str]) -> _Entry:
        entry = self._local.get(issuer)
        if entry is not None and self._now() - entry.fetched_at < entry.ttl:
            return entry
        loaded = await self._flight.do(f"load\x1f{issuer}", lambda: self._load(issuer, jwks_uri, algorithms, entry))
        assert loaded is not None  # noqa: S101 - _load raises instead of returning None
        return loaded

    async def _load(
        self, issuer: str, jwks_uri: str | None, algorithms: Collection[str], previous: _Entry | None
    ) -> _Entry:
        now = self._now()
        shared = await self._shared_get(issuer, algorithms)
        if shared is not None and now - shared.fetched_at < shared.ttl:
            self._local[issuer] = shared
            return shared
        try:
            return await self._fetch(issuer, jwks_uri, algorithms)
        except _FetchFailed as exc:
            candidates = [e for e in (previous, shared) if e is not None]
            stale = max(candidates, key=lambda e: e.fetched_at, default=None)
            if stale is not None and now - stale.fetched_at < stale.ttl + self._s.stale_ttl:
                _log.warning(
                    "jwks fetch for %s failed (%s); using keys fetched %.0fs ago", issuer, exc, now - stale.fetched_at
                )
                self._local[issuer] = stale
                return stale
            _log.warning("jwks fetch for %s failed (%s); no usable cached keys", issuer, exc)
            raise JwksUnavailable(detail=f"jwks fetch failed: {exc}") from None

    async def _refresh(
        self, issuer: str, jwks_uri: str | None, algorithms: Collection[str], seen: _Entry
    ) -> _Entry | None:
        """After an unknown ``kid``: a newer shared copy, or one forced refetch per interval (EMA §7.4.1)."""
        newest = self._local.get(issuer)
        if newest is not None and newest.fetched_at > seen.fetched_at:
            return newest
        shared = await self._shared_get(issuer, algorithms)
        if shared is not None and shared.fetched_at > seen.fetched_at:
            self._local[issuer] = shared
            return shared
        now = self._now()
        interval = self._s.min_refresh_interval
        if now - self._last_forced.get(issuer, float("-inf")) < interval:
            return None
        self._last_forced[issuer] = now
        try:
            if not await self._store.try_lock(f"jwks-refresh\x1f{issuer}", interval * 1000):
                return None
        except StoreUnavailable:
            pass  # the per-process interval still bounds the fetch rate
        try:
            return await self._fetch(issuer, jwks_uri, algorithms)
        except _FetchFailed as exc:
            _log.warning("jwks refresh for %s failed (%s)", issuer, exc)
            return None

    async def _fetch(self, issuer: str, jwks_uri: str | None, algorithms: Collection[str]) -> _Entry:
        uri = jwks_uri or await self._discover(issuer)
        doc, cache_control = await self._get_json(uri)
        if not isinstance(doc.get("keys"), list):
            raise _FetchFailed("JWKS document has no 'keys' array")
        now = self._now()
        ttl = _freshness(cache_control, self._s)
        entry = _Entry(keyset_from_jwks(doc, algorithms), now, ttl)
        self._local[issuer] = entry
        try:
            value = msgspec.json.encode(_Shared(now, ttl, doc))
            await self._store.jwks_put(issuer, value, self._s.ttl + self._s.stale_ttl)
        except StoreUnavailable:
            pass
        return entry

    async def _discover(self, issuer: str) -> str:
        """OIDC Discovery 1.0 §4: ``jwks_uri`` from the issuer's metadata, whose ``issuer`` must match (§4.3)."""
        known = self._discovered.get(issuer)
        if known is not None:
            return known
        meta, _ = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if meta.get("issuer") != issuer:
            raise _FetchFailed("discovery document names another issuer")
        uri = meta.get("jwks_uri")
        if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
            raise _FetchFailed("discovery document has no usable jwks_uri")
        self._discovered[issuer] = uri
        return uri

    async def _get_json(self, url: str) -> tuple[dict[str, Any], str | None]:
        """GET with total timeout, no redirects and a size cap; returns the object and its Cache-Control."""
        return await fetch_json(self._http, url, timeout=self._s.timeout, max_bytes=self._s.max_bytes)

    async def _shared_get(self, issuer: str, algorithms: Collection[str]) -> _Entry | None:
        try:
            raw = await self._store.jwks_get(issuer)
        except StoreUnavailable:
            return None
        if raw is None:
            return None
        try:
            shared = msgspec.json.decode(raw, type=_Shared)
        except msgspec.DecodeError:
            return None
        return _Entry(keyset_from_jwks(shared.jwks, algorithms), shared.fetched_at, shared.ttl)
