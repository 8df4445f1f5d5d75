"""RFC 8414 metadata and JWKS for both roles."""

from __future__ import annotations

import pytest

from tests.broker_env import AS_ISSUER, FILES, IDP_ISSUER, BrokerEnv


@pytest.mark.spec("N129", "MD-01", "MD-03", "MD-04", "MD-05", "MD-06", "MD-08", "MD-13")
async def test_leg2_metadata_names_the_id_jag_profile_at_the_path_inserted_url(broker: BrokerEnv) -> None:
    r = await broker.http.get("/.well-known/oauth-authorization-server/as")
    assert r.status_code == 200
    meta = r.json()
    assert meta["issuer"] == AS_ISSUER
    assert meta["token_endpoint"] == f"{AS_ISSUER}/token"
    assert meta["jwks_uri"] == f"{AS_ISSUER}/jwks"
    assert "urn:ietf:params:oauth:grant-type:jwt-bearer" in meta["grant_types_supported"]
    assert meta["authorization_grant_profiles_supported"] == ["urn:ietf:params:oauth:grant-profile:id-jag"]
    assert "none" not in meta["token_endpoint_auth_methods_supported"]
    assert "HS256" not in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert FILES in meta["protected_resources"]
    assert meta["introspection_endpoint"] == f"{AS_ISSUER}/introspect"
    # ID-JAG §9.5: no issuer allow-list disclosed; CIMD not claimed until it is implemented.
    assert not any("issuer" in k for k in meta if k != "issuer")
    assert meta.get("client_id_metadata_document_supported") is not True


@pytest.mark.spec("MD-07")
async def test_leg1_metadata_names_token_exchange_and_the_id_jag_type(broker: BrokerEnv) -> None:
    meta = (await broker.http.get("/.well-known/oauth-authorization-server/idp")).json()
    assert meta["issuer"] == IDP_ISSUER
    assert meta["grant_types_supported"] == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    assert meta["identity_chaining_requested_token_types_supported"] == ["urn:ietf:params:oauth:token-type:id-jag"]


@pytest.mark.spec("N131", "MD-12")
@pytest.mark.parametrize("role", ["idp", "as"])
async def test_jwks_publishes_public_keys_only(broker: BrokerEnv, role: str) -> None:
    keys = (await broker.http.get(f"/{role}/jwks")).json()["keys"]
    assert keys
    for k in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & k.keys()
        assert k["kid"] and k["alg"] and k["use"] == "sig"


@pytest.mark.spec("L1-54", "L2-62")
async def test_leg1_and_leg2_publish_different_keys(broker: BrokerEnv) -> None:
    """DESIGN OQ-2 / 8725bis §3.12: different keys for different kinds of JWT."""
    idp = {k["kid"] for k in (await broker.http.get("/idp/jwks")).json()["keys"]}
    as_ = {k["kid"] for k in (await broker.http.get("/as/jwks")).json()["keys"]}
    assert idp.isdisjoint(as_)


async def test_authorization_endpoint_answers_an_honest_error_and_never_redirects(broker: BrokerEnv) -> None:
    r = await broker.http.get("/as/authorize", params={"redirect_uri": "https://evil.example/cb"})
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.json()["error"] == "unsupported_response_type"


async def test_readiness_reports_the_store(broker: BrokerEnv) -> None:
    assert (await broker.http.get("/readyz")).status_code == 200
    assert (await broker.http.get("/healthz")).json() == {"status": "ok"}
