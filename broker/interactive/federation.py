"""Federated sign-in: the broker as an OIDC relying party of a trusted enterprise IdP.

Authorization code + PKCE (S256) + ``nonce`` (OIDC Core §3.1.2.1, RFC 7636); the IdP's endpoints
come from its discovery document, whose ``issuer`` must match the trust entry (OIDC Discovery §4.3);
the returned ID token is verified by the same rules as leg 1 (``verify_id_token_of``) with the
broker's own client id at the IdP as audience and the sign-in's nonce. Outbound calls use the JWKS
fetch hygiene: timeout, no redirects, size cap.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
import msgspec

from broker.core.pkce import s256
from broker.fetch import FetchFailed, fetch_json
from broker.settings import IdpLogin, IdpTrust, JwksSettings

__all__ = ["Federation", "FederationError", "IdpEndpoints"]


class FederationError(Exception):
    """The IdP could not be reached or answered badly; the message is safe to log (no secrets)."""


@dataclass(frozen=True, slots=True)
class IdpEndpoints:
    """Where to send the user and where to redeem the code."""

    authorization_endpoint: str
    token_endpoint: str


class _TokenResponse(msgspec.Struct):
    id_token: str


class Federation:
    """Builds IdP authorization requests and redeems their codes for ID tokens."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        jwks_settings: JwksSettings,
        callback_uri: str,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._http = http
        self._s = jwks_settings
        self.callback_uri = callback_uri
        """The broker's redirect URI registered at every IdP (``{public_url}/as/callback``)."""
        self._env = os.environ if env is None else env
        self._endpoints: dict[str, IdpEndpoints] = {}

    async def endpoints(self, idp: IdpTrust) -> IdpEndpoints:
        """The IdP's endpoints: configured overrides, else discovered once per process.

        Raises:
            FederationError: discovery failed or names another issuer.
        """
        login = _login(idp)
        if login.authorization_endpoint and login.token_endpoint:
            return IdpEndpoints(login.authorization_endpoint, login.token_endpoint)
        known = self._endpoints.get(idp.issuer)
        if known is not None:
            return known
        url = idp.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            meta, _ = await fetch_json(self._http, url, timeout=self._s.timeout, max_bytes=self._s.max_bytes)
        except FetchFailed as exc:
            raise FederationError(f"discovery at {idp.name} failed: {exc}") from None
        if meta.get("issuer") != idp.issuer:
            raise FederationError(f"discovery at {idp.name} names another issuer")
        authz = login.authorization_endpoint or meta.get("authorization_endpoint")
        token = login.token_endpoint or meta.get("token_endpoint")
        if not isinstance(authz, str) or not isinstance(token, str):
            raise FederationError(f"discovery at {idp.name} lacks authorization or token endpoint")
        found = IdpEndpoints(authz, token)
        self._endpoints[idp.issuer] = found
        return found

    def authorization_url(
        self, idp: IdpTrust, endpoints: IdpEndpoints, *, state: str, nonce: str, verifier: str, login_hint: str | None
    ) -> str:
        """The IdP authorization request (OIDC Core §3.1.2.1) with PKCE S256 and ``nonce``."""
        login = _login(idp)
        params = {
            "response_type": "code",
            "client_id": login.client_id,
            "redirect_uri": self.callback_uri,
            "scope": " ".join(login.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        }
        if login_hint:
            params["login_hint"] = login_hint
        sep = "&" if "?" in endpoints.authorization_endpoint else "?"
        return f"{endpoints.authorization_endpoint}{sep}{urlencode(params, quote_via=quote)}"

    async def redeem(self, idp: IdpTrust, code: str, verifier: str) -> str:
        """Exchange the IdP's code for its token response and return the ID token (OIDC Core §3.1.3).

        Raises:
            FederationError: the IdP refused, timed out or answered without an ID token.
        """
        login = _login(idp)
        endpoints = await self.endpoints(idp)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.callback_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        if login.client_secret_env is not None:
            headers["Authorization"] = _basic(login.client_id, self._env[login.client_secret_env])
        else:
            form["client_id"] = login.client_id
        try:
            async with asyncio.timeout(self._s.timeout):
                response = await self._http.post(
                    endpoints.token_endpoint, data=form, headers=headers, follow_redirects=False
                )
        except TimeoutError:
            raise FederationError(f"token request to {idp.name} timed out") from None
        except httpx.HTTPError as exc:
            raise FederationError(f"token request to {idp.name} failed: {type(exc).__name__}") from None
        if len(response.content) > self._s.max_bytes:
            raise FederationError(f"token response from {idp.name} is too large")
        if response.status_code != 200:
            raise FederationError(f"token request to {idp.name} refused: HTTP {response.status_code}")
        try:
            return msgspec.json.decode(response.content, type=_TokenResponse).id_token
        except msgspec.DecodeError:
            raise FederationError(f"token response from {idp.name} has no id_token") from None


def _login(idp: IdpTrust) -> IdpLogin:
    if idp.login is None:
        raise FederationError(f"{idp.name} has no [idp.login] configuration")
    return idp.login


def _basic(client_id: str, secret: str) -> str:
    """RFC 6749 §2.3.1: form-urlencode id and secret, then Basic (RFC 7617)."""
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")
