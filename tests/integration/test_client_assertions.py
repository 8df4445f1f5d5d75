"""private_key_jwt client authentication (RFC 7523 §3, draft-ietf-oauth-rfc7523bis §3, OIDC Core §9)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey

from tests.broker_env import IDP_ISSUER, BrokerEnv, assert_error, client_assertion_form

NO_BASIC = {"X-No-Basic": "1"}


async def _leg1_with_assertion(broker: BrokerEnv, **overrides: Any) -> httpx.Response:
    form = client_assertion_form(broker, audience=overrides.pop("audience", IDP_ISSUER), **overrides)
    return await broker.leg1(auth=NO_BASIC, subject_token=broker.acme.id_token(aud="jwt-sso"), **form)


@pytest.mark.spec("L1-12", "L1-16")
async def test_private_key_jwt_with_issuer_audience_is_accepted(broker: BrokerEnv) -> None:
    r = await _leg1_with_assertion(broker)
    assert r.status_code == 200, r.text


@pytest.mark.spec("N16", "L1-16")
async def test_token_endpoint_url_as_audience_is_invalid_client(broker: BrokerEnv) -> None:
    """7523bis §3 item 3: aud MUST be the issuer identifier; the token endpoint URL MUST NOT be used."""
    r = await _leg1_with_assertion(broker, audience=f"{IDP_ISSUER}/token")
    assert_error(r, 401, "invalid_client", "The client assertion failed validation: Audience validation failed.")


@pytest.mark.spec("N17", "L1-17", "L2-45")
async def test_replayed_client_assertion_is_invalid_client(broker: BrokerEnv) -> None:
    """OIDC Core §9: client assertions MUST only be used once."""
    form = client_assertion_form(broker, audience=IDP_ISSUER)
    first = await broker.leg1(auth=NO_BASIC, subject_token=broker.acme.id_token(aud="jwt-sso"), **form)
    assert first.status_code == 200, first.text
    again = await broker.leg1(auth=NO_BASIC, subject_token=broker.acme.id_token(aud="jwt-sso"), **form)
    assert_error(again, 401, "invalid_client", "The client assertion has already been used.")


@pytest.mark.spec("N18")
async def test_hs256_client_assertion_is_invalid_client(broker: BrokerEnv) -> None:
    """RFC 8725bis §2.1: HS256 "signed" with the client's public key is refused by the allow-list."""
    import base64
    import hmac
    import json
    from hashlib import sha256

    def b64(o: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()

    now = int(broker.clock())
    si = (
        b64({"alg": "HS256", "kid": "jwt-app-1"})
        + "."
        + b64({"iss": "jwt-app", "sub": "jwt-app", "aud": IDP_ISSUER, "jti": "hs", "exp": now + 60})
    )
    mac = hmac.new(broker.client_key.as_pem(private=False), si.encode(), sha256).digest()
    token = si + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    r = await broker.leg1(
        auth=NO_BASIC,
        subject_token=broker.acme.id_token(aud="jwt-sso"),
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=token,
    )
    assert_error(r, 401, "invalid_client", "The client assertion failed validation: algorithm 'HS256' is not allowed.")


@pytest.mark.spec("N19")
async def test_client_assertion_sub_not_matching_iss_is_invalid_client(broker: BrokerEnv) -> None:
    r = await _leg1_with_assertion(broker, iss="agent-app")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


async def test_client_assertion_signed_by_another_key_is_invalid_client(broker: BrokerEnv) -> None:
    other = ECKey.generate_key("P-256", parameters={"kid": "jwt-app-1"})
    r = await _leg1_with_assertion(broker, key=other)
    assert_error(
        r, 401, "invalid_client", "The client assertion failed validation: signature check failed: bad_signature."
    )


async def test_client_assertion_for_leg1_is_not_accepted_at_leg2(broker: BrokerEnv) -> None:
    """The aud names one role: an assertion for /idp is refused at /as."""
    form = client_assertion_form(broker, audience=IDP_ISSUER)
    r = await broker.leg2("x.y.z", auth=NO_BASIC, **form)
    assert_error(r, 401, "invalid_client", "The client assertion failed validation: Audience validation failed.")


async def test_expired_client_assertion_is_invalid_client(broker: BrokerEnv) -> None:
    now = int(broker.clock())
    r = await _leg1_with_assertion(broker, exp=now - 300, iat=now - 400)
    assert_error(r, 401, "invalid_client", "The client assertion failed validation: The token is expired.")
