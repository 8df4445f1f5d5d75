"""Done-when: an independent OIDC client library (Authlib) completes discovery, code + PKCE and ID token validation.

Authlib's Starlette integration is used only as a relying-party engine: it fetches the discovery document,
builds the S256 authorization URL, redeems the code, fetches the JWKS and validates the ID token with
``authlib.oidc.core.CodeIDToken`` (signature, iss, aud, exp, nonce, at_hash). Authlib speaks ``httpx2``, so
its transport is ``httpx2.ASGITransport`` over the same in-process app.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from authlib.integrations.base_client import OAuthError as AuthlibOAuthError  # type: ignore[import-untyped]
from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]
from litestar import Litestar

from idp_mock import (
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    DEFAULT_ISSUER,
    PUBLIC_CLI_CLIENT_ID,
    IdpSettings,
    create_app,
)
from tests.idp_mock.conftest import REDIRECT_URI, asgi


def _relying_party(app: Litestar, **kwargs: Any) -> Any:
    client_kwargs = {
        "scope": "openid profile email groups",
        "code_challenge_method": "S256",
        "transport": httpx2.ASGITransport(app=cast("Any", app)),
        **kwargs.pop("client_kwargs", {}),
    }
    return OAuth().register(
        "idp",
        client_id=kwargs.pop("client_id", AGENT_APP_CLIENT_ID),
        client_secret=kwargs.pop("client_secret", AGENT_APP_CLIENT_SECRET),
        server_metadata_url=f"{DEFAULT_ISSUER}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )


async def _browser_redirect(app: Litestar, url: str) -> dict[str, str]:
    """What the user agent does: follow /authorize (login_hint signs in) and land on the callback."""
    async with httpx.AsyncClient(transport=asgi(app)) as browser:
        r = await browser.get(url)
    assert r.status_code == 302
    assert r.headers["location"].startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}


async def test_authlib_completes_discovery_code_pkce_and_id_token_validation() -> None:
    """OIDC Core §3.1 end to end with a library we did not write: the ID token validates and carries the user."""
    app = create_app(IdpSettings())
    rp = _relying_party(app)
    request = await rp.create_authorization_url(REDIRECT_URI, login_hint="carol")
    assert "code_challenge_method=S256" in request["url"]
    callback = await _browser_redirect(app, request["url"])
    assert callback["state"] == request["state"]
    assert callback["iss"] == DEFAULT_ISSUER

    token = await rp.fetch_access_token(
        redirect_uri=REDIRECT_URI, code=callback["code"], code_verifier=request["code_verifier"]
    )
    claims = await rp.parse_id_token(token, nonce=request["nonce"])

    assert claims["iss"] == DEFAULT_ISSUER
    assert claims["aud"] == AGENT_APP_CLIENT_ID
    assert claims["sub"] == "carol"
    assert claims["email"] == "carol@acme.example"
    assert claims["name"] == "Carol Clark"
    assert claims["groups"] == ["engineering", "admins"]
    assert claims["nonce"] == request["nonce"]
    assert {"auth_time", "sid", "iat", "exp", "azp", "at_hash"} <= set(claims)
    userinfo = await rp.userinfo(token=token)
    assert userinfo["sub"] == "carol"
    assert userinfo["groups"] == ["engineering", "admins"]


async def test_authlib_public_client_signs_in_with_pkce_only() -> None:
    """Public clients authenticate with PKCE alone (RFC 6749 §2.1, OAuth 2.1 §2.4): auth method ``none``."""
    app = create_app(IdpSettings())
    rp = _relying_party(
        app,
        client_id=PUBLIC_CLI_CLIENT_ID,
        client_secret=None,
        client_kwargs={"token_endpoint_auth_method": "none"},
    )
    request = await rp.create_authorization_url(REDIRECT_URI, login_hint="bob")
    callback = await _browser_redirect(app, request["url"])
    token = await rp.fetch_access_token(
        redirect_uri=REDIRECT_URI, code=callback["code"], code_verifier=request["code_verifier"]
    )
    claims = await rp.parse_id_token(token, nonce=request["nonce"])
    assert claims["sub"] == "bob"
    assert claims["aud"] == PUBLIC_CLI_CLIENT_ID


async def test_authlib_sees_invalid_grant_for_a_reused_code() -> None:
    """RFC 6749 §4.1.2: a code is single use; Authlib surfaces the IdP's ``invalid_grant``."""
    app = create_app(IdpSettings())
    rp = _relying_party(app)
    request = await rp.create_authorization_url(REDIRECT_URI, login_hint="alice")
    callback = await _browser_redirect(app, request["url"])
    args = {"redirect_uri": REDIRECT_URI, "code": callback["code"], "code_verifier": request["code_verifier"]}
    await rp.fetch_access_token(**args)
    with pytest.raises(AuthlibOAuthError) as err:
        await rp.fetch_access_token(**args)
    assert err.value.error == "invalid_grant"


async def test_authlib_sees_invalid_grant_for_a_wrong_pkce_verifier() -> None:
    """RFC 7636 §4.6: a verifier that does not hash to the challenge is ``invalid_grant``."""
    app = create_app(IdpSettings())
    rp = _relying_party(app)
    request = await rp.create_authorization_url(REDIRECT_URI, login_hint="alice")
    callback = await _browser_redirect(app, request["url"])
    with pytest.raises(AuthlibOAuthError) as err:
        await rp.fetch_access_token(redirect_uri=REDIRECT_URI, code=callback["code"], code_verifier="x" * 64)
    assert err.value.error == "invalid_grant"
