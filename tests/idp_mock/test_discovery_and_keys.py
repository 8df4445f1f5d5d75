"""Discovery, JWKS and key rotation: old tokens keep verifying after rotation, new tokens use the new kid."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from idp_mock import IdpSettings, create_app, rotate_keys
from idp_mock.settings import Secret
from tests.idp_mock.conftest import Idp, asgi, id_jag_settings


async def _jwks(idp: Idp) -> KeySet:
    return KeySet.import_key_set((await idp.http.get("/jwks")).json())


def _peek_header(token: str) -> dict[str, Any]:
    seg = token.split(".")[0]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
    return value


def _kid(token: str) -> str:
    return str(_peek_header(token)["kid"])


async def test_discovery_lists_every_endpoint_and_capability(idp: Idp) -> None:
    """OIDC Discovery §3 / RFC 8414 §2: what a relying party needs, stated exactly."""
    r = await idp.http.get("/.well-known/openid-configuration")
    assert r.status_code == 200
    meta = r.json()
    base = "http://127.0.0.1:9000"
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == f"{base}/authorize"
    assert meta["token_endpoint"] == f"{base}/token"
    assert meta["userinfo_endpoint"] == f"{base}/userinfo"
    assert meta["jwks_uri"] == f"{base}/jwks"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post", "none"]
    assert meta["id_token_signing_alg_values_supported"] == ["RS256"]
    assert meta["subject_types_supported"] == ["public"]
    assert "openid" in meta["scopes_supported"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "identity_chaining_requested_token_types_supported" not in meta


async def test_discovery_adds_token_exchange_when_id_jag_is_enabled(make_idp: Callable[..., Idp]) -> None:
    idp = make_idp(id_jag_settings())
    meta = (await idp.http.get("/.well-known/openid-configuration")).json()
    assert meta["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ]
    assert meta["identity_chaining_requested_token_types_supported"] == ["urn:ietf:params:oauth:token-type:id-jag"]


async def test_issuer_with_a_path_serves_every_endpoint_under_it(make_idp: Callable[..., Idp]) -> None:
    """OIDC Discovery §4.1: the well-known path is appended to the issuer, path included."""
    idp = make_idp(IdpSettings(issuer="http://127.0.0.1:9000/tenant-a"))
    r = await idp.http.get("http://127.0.0.1:9000/tenant-a/.well-known/openid-configuration")
    assert r.status_code == 200
    meta = r.json()
    assert meta["token_endpoint"] == "http://127.0.0.1:9000/tenant-a/token"
    assert (await idp.http.get(meta["jwks_uri"])).status_code == 200
    assert (await idp.http.get("http://127.0.0.1:9000/jwks")).status_code == 404


async def test_jwks_publishes_public_keys_only(idp: Idp) -> None:
    """RFC 7517 §5: the set carries no private parameters."""
    keys = (await idp.http.get("/jwks")).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["use"] == "sig"
    assert keys[0]["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])


async def test_es256_is_selectable(make_idp: Callable[..., Idp]) -> None:
    """ES256 ID tokens when configured; discovery says so."""
    idp = make_idp(IdpSettings(signing_alg="ES256"))
    body = await idp.tokens_for()
    assert _peek_header(body["id_token"])["alg"] == "ES256"
    jwt.decode(body["id_token"], await _jwks(idp), algorithms=["ES256"])
    meta = (await idp.http.get("/.well-known/openid-configuration")).json()
    assert meta["id_token_signing_alg_values_supported"] == ["ES256"]


async def test_token_signed_before_rotation_still_verifies_after_it(idp: Idp) -> None:
    """OIDC Core §10.1.1: the old key stays published, so tokens it signed keep verifying; new ones use the new kid."""
    before = await idp.tokens_for()
    old_kid = _kid(before["id_token"])

    new_kid = rotate_keys(idp.app)

    assert new_kid != old_kid
    jwks = await _jwks(idp)
    assert {k.kid for k in jwks.keys} == {old_kid, new_kid}
    assert jwt.decode(before["id_token"], jwks, algorithms=["RS256"]).claims["sub"] == "alice"
    after = await idp.tokens_for(login_hint="bob")
    assert _kid(after["id_token"]) == new_kid
    assert jwt.decode(after["id_token"], jwks, algorithms=["RS256"]).claims["sub"] == "bob"


async def test_rotated_out_key_retires_after_the_longest_token_lifetime(idp: Idp) -> None:
    """A rotated-out key leaves the JWKS once every token it signed has expired (id_token_ttl + skew)."""
    before = await idp.tokens_for()
    old_kid = _kid(before["id_token"])
    new_kid = rotate_keys(idp.app)

    idp.clock.advance(3600 + 60 - 1)
    assert {k.kid for k in (await _jwks(idp)).keys} == {old_kid, new_kid}
    idp.clock.advance(1)
    assert {k.kid for k in (await _jwks(idp)).keys} == {new_kid}


async def test_admin_rotate_keys_requires_the_admin_token(make_idp: Callable[..., Idp]) -> None:
    """The admin endpoint is a Bearer-protected resource (RFC 6750 §3.1): no or wrong token is 401."""
    idp = make_idp(IdpSettings(admin_token=Secret("admin-s3cret")))
    old_kid = _kid((await idp.tokens_for())["id_token"])
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
        r = await idp.http.post("/admin/rotate-keys", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"] == "invalid_token"
    assert [k.kid for k in (await _jwks(idp)).keys] == [old_kid]

    r = await idp.http.post("/admin/rotate-keys", headers={"Authorization": "Bearer admin-s3cret"})
    assert r.status_code == 200
    new_kid = r.json()["kid"]
    assert r.json()["published_kids"] == [old_kid, new_kid]
    assert _kid((await idp.tokens_for())["id_token"]) == new_kid


async def test_admin_endpoint_is_closed_when_no_admin_token_is_configured(idp: Idp) -> None:
    r = await idp.http.post("/admin/rotate-keys", headers={"Authorization": "Bearer anything"})
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "error_description": "Admin token required."}


async def test_admin_token_can_come_from_the_environment(clock: Callable[[], float]) -> None:
    app = create_app(IdpSettings(), now=clock, env={"IDP_MOCK_ADMIN_TOKEN": "from-env"})
    async with httpx.AsyncClient(transport=asgi(app), base_url="http://127.0.0.1:9000") as http:
        r = await http.post("/admin/rotate-keys", headers={"Authorization": "Bearer from-env"})
    assert r.status_code == 200
