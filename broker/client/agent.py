"""The agent side of SEP-990: leg 1, leg 2 or the shortcut, with a token cache and typed errors.

An agent holds the user's ID token (from its own OIDC sign-in) and wants an access token for one
MCP server. :class:`BrokerClient` does it against the broker, or against any IdP and authorization
server that speak the same grants:

- leg 1, RFC 8693 at the IdP role's token endpoint: ID token -> ID-JAG (ID-JAG draft §4.3);
- leg 2, RFC 7523 at the authorization server's token endpoint: ID-JAG -> access token (§4.4);
- the shortcut, RFC 8693 with ``requested_token_type=...:access_token`` at the authorization server.

Access tokens are cached per (user, resource, scopes) until ``refresh_margin`` seconds before they
expire; concurrent identical requests share one exchange. Refreshing means running the legs again
(no refresh tokens are issued for ID-JAG grants). Token endpoints are found through RFC 8414
metadata whose ``issuer`` must equal the configured issuer exactly (RFC 8414 §3.3).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote_plus, urlsplit, urlunsplit

import httpx
import msgspec

from broker.client.errors import BadBrokerResponse, BrokerUnreachable, error_from_response
from broker.constants import (
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
    TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_ID_JAG,
    TOKEN_TYPE_ID_TOKEN,
)
from broker.core.jose import TokenInvalid, peek

__all__ = [
    "AuthMethod",
    "basic_credentials",
    "BrokerClient",
    "Credentials",
    "IssuedToken",
    "IdTokenSource",
    "metadata_urls",
]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
IdTokenSource = str | Callable[[], Awaitable[str]]
"""The user's ID token, or an async callable returning a current one (re-sign-in is the caller's job)."""

_MAX_RESPONSE_BYTES = 256 * 1024


def basic_credentials(client_id: str, client_secret: str) -> str:
    """``Authorization`` value for ``client_secret_basic`` (RFC 6749 §2.3.1: form-encode, then base64)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


@dataclass(frozen=True, slots=True)
class Credentials:
    """A client's id and secret at one token endpoint (RFC 6749 §2.3.1); ``none``: id only (a public client)."""

    client_id: str
    client_secret: str = field(repr=False)
    method: AuthMethod = "client_secret_basic"

    def apply(self, form: dict[str, str]) -> dict[str, str]:
        """Headers for the request; puts the secret in ``form`` for ``client_secret_post``."""
        if self.method == "none":
            form["client_id"] = self.client_id
            return {}
        if self.method == "client_secret_post":
            form["client_id"] = self.client_id
            form["client_secret"] = self.client_secret
            return {}
        return {"Authorization": basic_credentials(self.client_id, self.client_secret)}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token the broker issued (RFC 6749 §5.1, RFC 8693 §2.2.1). ``token`` is kept out of ``repr``."""

    token: str = field(repr=False)
    token_type: str
    issued_token_type: str | None
    expires_at: float | None
    scopes: tuple[str, ...]

    def remaining(self, now: float) -> float:
        """Seconds of validity left (infinite when the broker gave no ``expires_in``)."""
        return float("inf") if self.expires_at is None else self.expires_at - now


class _TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str
    expires_in: int | None = None
    scope: str | None = None
    issued_token_type: str | None = None


class _ErrorResponse(msgspec.Struct):
    error: str
    error_description: str | None = None


def metadata_urls(issuer: str) -> list[str]:
    """RFC 8414 §3.1 path-inserted well-known URL, then OIDC discovery's appended form (OIDC Discovery §4)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    inserted = urlunsplit((parts.scheme, parts.netloc, f"/.well-known/oauth-authorization-server{path}", "", ""))
    return [inserted, f"{issuer.rstrip('/')}/.well-known/openid-configuration"]


def _user_key(id_token: str) -> tuple[str, str]:
    """(iss, sub) of the agent's own ID token, read without verifying (a cache key, never a trust decision)."""
    try:
        claims = peek(id_token, max_bytes=64 * 1024).claims
    except TokenInvalid:
        return ("", id_token)
    return (str(claims.get("iss", "")), str(claims.get("sub", "")))


class BrokerClient:
    """Async client for both legs and the shortcut (see the module docstring).

    Args:
        idp_issuer: issuer of leg 1 (the broker's ``{public_url}/idp``, or an IdP that issues ID-JAGs).
        as_issuer: issuer of leg 2 (the broker's ``{public_url}/as``); also the ID-JAG ``audience``.
        credentials: the agent's client credentials at the authorization server (and at the IdP
            unless ``idp_credentials`` is given).
        idp_credentials: the agent's credentials at leg 1 when they differ.
        http: a shared ``httpx.AsyncClient``; the client makes (and closes) its own when omitted.
        refresh_margin: re-run the legs when fewer seconds than this remain on a cached token.
        clock: wall clock (seconds since the epoch).
    """

    def __init__(
        self,
        *,
        idp_issuer: str,
        as_issuer: str,
        credentials: Credentials,
        idp_credentials: Credentials | None = None,
        idp_token_endpoint: str | None = None,
        as_token_endpoint: str | None = None,
        http: httpx.AsyncClient | None = None,
        refresh_margin: float = 30.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idp_issuer = idp_issuer
        self.as_issuer = as_issuer
        self._as_credentials = credentials
        self._idp_credentials = idp_credentials or credentials
        self._endpoints: dict[str, str] = {}
        if idp_token_endpoint:
            self._endpoints[idp_issuer] = idp_token_endpoint
        if as_token_endpoint:
            self._endpoints[as_issuer] = as_token_endpoint
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._margin = refresh_margin
        self._clock = clock
        self._cache: dict[tuple[str, str, str, str], IssuedToken] = {}
        self._inflight: dict[tuple[str, str, str, str], asyncio.Future[IssuedToken]] = {}

    @classmethod
    def for_broker(
        cls,
        public_url: str,
        client_id: str,
        client_secret: str,
        *,
        method: AuthMethod = "client_secret_basic",
        **kw: Any,
    ) -> BrokerClient:
        """A client for an xaa-broker at ``public_url`` (issuers ``{public_url}/idp`` and ``{public_url}/as``)."""
        base = public_url.rstrip("/")
        return cls(
            idp_issuer=f"{base}/idp",
            as_issuer=f"{base}/as",
            credentials=Credentials(client_id, client_secret, method),
            **kw,
        )

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> BrokerClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # -- the three requests -------------------------------------------------------------------

    async def request_id_jag(
        self, id_token: str, *, resource: str, scopes: Sequence[str] | None = None, audience: str | None = None
    ) -> IssuedToken:
        """Leg 1 (RFC 8693 §2.1, ID-JAG draft §4.3): the user's ID token -> an ID-JAG for ``audience``/``resource``.

        Raises:
            TokenRequestError: the IdP role refused (typed by ``error`` code).
            BrokerUnreachable, BadBrokerResponse: transport or protocol failure.
        """
        form = {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "requested_token_type": TOKEN_TYPE_ID_JAG,
            "subject_token": id_token,
            "subject_token_type": TOKEN_TYPE_ID_TOKEN,
            "audience": audience or self.as_issuer,
            "resource": resource,
        }
        if scopes:
            form["scope"] = " ".join(scopes)
        issued = await self._token_request(self.idp_issuer, self._idp_credentials, form)
        if issued.issued_token_type != TOKEN_TYPE_ID_JAG:
            raise BadBrokerResponse(f"leg 1 returned issued_token_type {issued.issued_token_type!r}, not the ID-JAG")
        return issued

    async def redeem_id_jag(
        self, id_jag: str, *, resource: str | None = None, scopes: Sequence[str] | None = None
    ) -> IssuedToken:
        """Leg 2 (RFC 7523 §2.1, ID-JAG draft §4.4): an ID-JAG -> an access token. Each ID-JAG works once."""
        form = {"grant_type": GRANT_JWT_BEARER, "assertion": id_jag}
        if resource:
            form["resource"] = resource
        if scopes:
            form["scope"] = " ".join(scopes)
        return await self._token_request(self.as_issuer, self._as_credentials, form)

    async def exchange_for_access_token(
        self, id_token: str, *, resource: str, scopes: Sequence[str] | None = None
    ) -> IssuedToken:
        """The broker's shortcut (RFC 8693 with ``requested_token_type=...:access_token``): both legs in one call."""
        form = {
            "grant_type": GRANT_TOKEN_EXCHANGE,
            "requested_token_type": TOKEN_TYPE_ACCESS_TOKEN,
            "subject_token": id_token,
            "subject_token_type": TOKEN_TYPE_ID_TOKEN,
            "resource": resource,
        }
        if scopes:
            form["scope"] = " ".join(scopes)
        return await self._token_request(self.as_issuer, self._as_credentials, form)

    # -- cached access tokens -----------------------------------------------------------------

    async def access_token(
        self, id_token: IdTokenSource, *, resource: str, scopes: Sequence[str] | None = None, shortcut: bool = False
    ) -> IssuedToken:
        """An access token for ``resource``: from the cache, or by running the legs (or the shortcut) once.

        Concurrent calls for the same (user, resource, scopes) share one exchange.
        """
        token = id_token if isinstance(id_token, str) else await id_token()
        key = (*_user_key(token), resource, " ".join(sorted(scopes or ())))
        cached = self._cache.get(key)
        if cached is not None and cached.remaining(self._clock()) > self._margin:
            return cached
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[IssuedToken] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            if shortcut:
                issued = await self.exchange_for_access_token(token, resource=resource, scopes=scopes)
            else:
                jag = await self.request_id_jag(token, resource=resource, scopes=scopes)
                issued = await self.redeem_id_jag(jag.token, resource=resource)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        else:
            self._cache[key] = issued
            self._evict_expired()
            future.set_result(issued)
            return issued
        finally:
            del self._inflight[key]

    def forget(self, *, resource: str | None = None) -> None:
        """Drop cached tokens (all, or one resource's), e.g. after the MCP server answered 401."""
        for key in [k for k in self._cache if resource is None or k[2] == resource]:
            del self._cache[key]

    def _evict_expired(self) -> None:
        now = self._clock()
        for key in [k for k, v in self._cache.items() if v.remaining(now) <= 0]:
            del self._cache[key]

    # -- the MCP SDK hook -----------------------------------------------------------------------

    def assertion_provider(
        self, id_token: IdTokenSource, *, scopes: Mapping[str, Sequence[str]] | Sequence[str] | None = None
    ) -> Callable[[str, str], Awaitable[str]]:
        """An ``assertion_provider(audience, resource)`` for the MCP SDK's ``IdentityAssertionOAuthProvider``.

        Each call runs leg 1 for that audience and resource and returns a fresh ID-JAG (they are
        single use). ``scopes`` is one list for every resource or a mapping resource -> scopes;
        omitted scopes mean everything policy allows.
        """

        async def provide(audience: str, resource: str) -> str:
            token = id_token if isinstance(id_token, str) else await id_token()
            wanted = scopes.get(resource) if isinstance(scopes, Mapping) else scopes
            jag = await self.request_id_jag(token, resource=resource, scopes=wanted, audience=audience)
            return jag.token

        return provide

    # -- wire ---------------------------------------------------------------------------------

    async def token_endpoint(self, issuer: str) -> str:
        """The ``token_endpoint`` from ``issuer``'s metadata (RFC 8414 §3), cached."""
        known = self._endpoints.get(issuer)
        if known is not None:
            return known
        for url in metadata_urls(issuer):
            try:
                r = await self._http.get(url, headers={"Accept": "application/json"})
            except httpx.HTTPError as exc:
                raise BrokerUnreachable(f"metadata of {issuer}: {type(exc).__name__}") from None
            if r.status_code == 404:
                continue
            try:
                meta = msgspec.json.decode(r.content[:_MAX_RESPONSE_BYTES])
            except msgspec.DecodeError:
                raise BadBrokerResponse(f"metadata at {url} is not JSON") from None
            if r.status_code != 200 or not isinstance(meta, dict):
                raise BadBrokerResponse(f"metadata at {url} answered HTTP {r.status_code}")
            if meta.get("issuer") != issuer:
                raise BadBrokerResponse(f"metadata at {url} names issuer {meta.get('issuer')!r}, not {issuer!r}")
            endpoint = meta.get("token_endpoint")
            if not isinstance(endpoint, str) or not endpoint:
                raise BadBrokerResponse(f"metadata at {url} has no token_endpoint")
            self._endpoints[issuer] = endpoint
            return endpoint
        raise BadBrokerResponse(f"no authorization server metadata for {issuer}")

    async def _token_request(self, issuer: str, creds: Credentials, form: dict[str, str]) -> IssuedToken:
        endpoint = await self.token_endpoint(issuer)
        headers = {"Accept": "application/json", **creds.apply(form)}
        try:
            r = await self._http.post(endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise BrokerUnreachable(f"token endpoint {endpoint}: {type(exc).__name__}") from None
        body = r.content[:_MAX_RESPONSE_BYTES]
        if r.status_code != 200:
            try:
                err = msgspec.json.decode(body, type=_ErrorResponse)
            except (msgspec.DecodeError, msgspec.ValidationError):
                raise BadBrokerResponse(
                    f"token endpoint answered HTTP {r.status_code} without an OAuth error"
                ) from None
            raise error_from_response(err.error, err.error_description, r.status_code, r.headers.get("Retry-After"))
        try:
            ok = msgspec.json.decode(body, type=_TokenResponse)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BadBrokerResponse(f"malformed token response: {exc}") from None
        return IssuedToken(
            token=ok.access_token,
            token_type=ok.token_type,
            issued_token_type=ok.issued_token_type,
            expires_at=None if ok.expires_in is None else self._clock() + ok.expires_in,
            scopes=tuple(ok.scope.split()) if ok.scope else tuple(form.get("scope", "").split()),
        )
