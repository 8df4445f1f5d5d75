"""A scripted relying party: the real authorization code + PKCE flow over HTTP, signed in by ``login_hint``.

Used by ``python -m idp_mock login``, the demo and tests. It works against a running IdP or an
in-process app (``httpx.AsyncClient(transport=httpx.ASGITransport(app))``). It never follows a
redirect: it reads the ``Location`` the IdP sends to the redirect URI, as a callback would.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any, Final
from urllib.parse import parse_qs, quote_plus, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from idp_mock.pkce import s256

__all__ = ["DEFAULT_SCOPE", "LoginError", "basic_auth", "login"]

DEFAULT_SCOPE: Final = "openid profile email groups"


class LoginError(Exception):
    """The flow failed; ``error`` is the OAuth error code when the IdP sent one."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


def basic_auth(client_id: str, client_secret: str) -> str:
    """``Authorization`` value for ``client_secret_basic`` (RFC 6749 §2.3.1: form-urlencode, then base64)."""
    raw = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


async def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise LoginError("invalid_response", f"{what} did not return JSON (HTTP {response.status_code})") from None
    if not isinstance(body, dict):
        raise LoginError("invalid_response", f"{what} did not return a JSON object")
    return body


async def _discover(http: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    """OIDC Discovery §4; the document's ``issuer`` must equal the one asked for (§4.3)."""
    r = await http.get(f"{issuer}/.well-known/openid-configuration", follow_redirects=False)
    if r.status_code != 200:
        raise LoginError("discovery_failed", f"HTTP {r.status_code} from the discovery endpoint")
    meta = await _json(r, "discovery")
    if meta.get("issuer") != issuer:
        raise LoginError("discovery_failed", "the discovery document names another issuer")
    return meta


def _callback_params(location: str, redirect_uri: str) -> dict[str, str]:
    if location.split("?", 1)[0] != redirect_uri.split("?", 1)[0]:
        raise LoginError("invalid_response", "the IdP redirected somewhere other than the redirect URI")
    query = parse_qs(urlsplit(location).query)
    return {k: v[0] for k, v in query.items()}


async def _authorize(
    http: httpx.AsyncClient, meta: dict[str, Any], params: dict[str, str], redirect_uri: str
) -> dict[str, str]:
    r = await http.get(meta["authorization_endpoint"], params=params, follow_redirects=False)
    location = r.headers.get("location")
    if r.status_code not in (302, 303) or location is None:
        # RFC 6749 §4.1.2.1: an unknown client or unregistered redirect URI gets an error page, not a redirect.
        raise LoginError("authorization_failed", f"the IdP showed an error page (HTTP {r.status_code}), not a redirect")
    return _callback_params(location, redirect_uri)


async def _verify_id_token(
    http: httpx.AsyncClient, meta: dict[str, Any], id_token: str, *, client_id: str, nonce: str
) -> None:
    """OIDC Core §3.1.3.7: signature from the JWKS, ``iss``, ``aud``, ``exp``, ``nonce``."""
    r = await http.get(meta["jwks_uri"], follow_redirects=False)
    keys = KeySet.import_key_set(await _json(r, "jwks"))  # type: ignore[arg-type]
    algorithms = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    try:
        token = jwt.decode(id_token, keys, algorithms=algorithms, registry=JWSRegistry(algorithms=algorithms))
        JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": client_id},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(token.claims)
    except JoseError as exc:
        raise LoginError("invalid_id_token", exc.description or exc.error) from None


async def login(
    issuer: str,
    user: str,
    client_id: str,
    client_secret: str | None,
    redirect_uri: str,
    *,
    http: httpx.AsyncClient | None = None,
    scope: str = DEFAULT_SCOPE,
) -> dict[str, Any]:
    """Sign ``user`` in at ``issuer`` with authorization code + PKCE S256 and return the token response.

    Args:
        issuer: the IdP's issuer identifier (discovery is fetched from it).
        user: username passed as ``login_hint`` (no login page).
        client_id: the relying party.
        client_secret: its secret (``client_secret_basic``), or None for a public client.
        redirect_uri: a redirect URI registered for the client (never contacted).
        http: client to use (e.g. with ``httpx.ASGITransport``); a new one is made and closed otherwise.
        scope: requested scope; add ``offline_access`` for a refresh token.

    Returns:
        The token endpoint's JSON: ``access_token``, ``id_token``, ``token_type``, ``expires_in``, ...

    Raises:
        LoginError: any step failed; ``error`` carries the IdP's OAuth error code when it sent one.
    """
    owns = http is None
    client = http if http is not None else httpx.AsyncClient(timeout=10.0, follow_redirects=False)
    try:
        meta = await _discover(client, issuer)
        verifier = secrets.token_urlsafe(48)
        state = secrets.token_urlsafe(16)
        nonce = secrets.token_urlsafe(16)
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "login_hint": user,
        }
        callback = await _authorize(client, meta, params, redirect_uri)
        if "error" in callback:
            raise LoginError(callback["error"], callback.get("error_description", ""))
        if callback.get("state") != state:
            raise LoginError("invalid_response", "state mismatch in the authorization response")
        if "iss" in callback and callback["iss"] != issuer:
            raise LoginError("invalid_response", "iss mismatch in the authorization response (RFC 9207)")
        form = {
            "grant_type": "authorization_code",
            "code": callback.get("code", ""),
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        headers = {"Accept": "application/json"}
        if client_secret is None:
            form["client_id"] = client_id
        else:
            headers["Authorization"] = basic_auth(client_id, client_secret)
        r = await client.post(meta["token_endpoint"], data=form, headers=headers, follow_redirects=False)
        body = await _json(r, "token endpoint")
        if r.status_code != 200:
            raise LoginError(str(body.get("error", "token_request_failed")), str(body.get("error_description", "")))
        if "id_token" not in body:
            raise LoginError("invalid_response", "the token response has no id_token")
        await _verify_id_token(client, meta, body["id_token"], client_id=client_id, nonce=nonce)
        return body
    finally:
        if owns:
            await client.aclose()
