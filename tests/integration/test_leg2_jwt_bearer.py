"""Leg 2 (RFC 7523 jwt-bearer, ID-JAG -> access token): the attack each rule stops, with the exact error."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from tests.broker_env import (
    AS_ISSUER,
    FILES,
    IDP_ISSUER,
    TICKETS,
    BrokerEnv,
    assert_error,
    basic,
    decode_unverified,
    with_header,
)


async def _genuine_claims(broker: BrokerEnv, **params: Any) -> dict[str, Any]:
    _, claims = decode_unverified(await broker.id_jag(**params))
    return claims


def _forge(broker: BrokerEnv, claims: dict[str, Any], **changes: Any) -> str:
    """Re-sign a genuine ID-JAG's claims with the broker's own leg-1 key after changing some."""
    new = {**claims, **changes}
    return broker.sign_as_broker_idp({k: v for k, v in new.items() if v is not None})


@pytest.mark.spec(
    "L1-56", "L2-07", "L2-52", "L2-53", "L2-54", "L2-57", "L2-58", "L2-59", "L2-60", "L2-61", "L2-70", "L2-71"
)
async def test_valid_id_jag_yields_access_token_bound_to_the_resource(broker: BrokerEnv) -> None:
    """RFC 9068 §2: typ at+jwt; aud = the MCP server (EMA §5.1); no refresh token (ID-JAG §4.4.3)."""
    r = await broker.leg2(await broker.id_jag())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "files.read"
    assert 0 < body["expires_in"] <= 300
    assert "refresh_token" not in body
    assert r.headers["cache-control"] == "no-store"
    header, claims = decode_unverified(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["iss"] == AS_ISSUER
    assert claims["aud"] == FILES
    assert claims["sub"] == "acme|alice"
    assert claims["client_id"] == "agent-app"
    assert claims["scope"] == "files.read"
    assert {"iat", "exp", "jti", "auth_time"} <= claims.keys()
    assert "email" not in claims
    assert body["resource"] == FILES
    assert claims["exp"] - claims["iat"] == 300  # capped by the resource token_ttl


@pytest.mark.spec("L2-27", "L2-40", "N91")
async def test_replayed_id_jag_is_rejected_with_invalid_grant(broker: BrokerEnv) -> None:
    """EMA §7.4.2: replay detection is REQUIRED; an ID-JAG is redeemed once."""
    jag = await broker.id_jag()
    assert (await broker.leg2(jag)).status_code == 200
    r = await broker.leg2(jag)
    assert_error(r, 400, "invalid_grant", "The ID-JAG has already been used.")


@pytest.mark.spec("N91", "L2-41")
async def test_concurrent_presentations_of_one_id_jag_yield_exactly_one_token(broker: BrokerEnv) -> None:
    """50 concurrent redemptions of one ID-JAG: exactly one 200 (atomic check-and-set)."""
    jag = await broker.id_jag()
    results = await asyncio.gather(*(broker.leg2(jag) for _ in range(50)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200] + [400] * 49
    assert all(r.json()["error"] == "invalid_grant" for r in results if r.status_code == 400)


@pytest.mark.spec("N51", "L2-02")
async def test_missing_assertion_is_invalid_request(broker: BrokerEnv) -> None:
    r = await broker.http.post(
        "/as/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}, headers=basic("agent-app")
    )
    assert_error(r, 400, "invalid_request", "The assertion parameter is required.")


@pytest.mark.spec("N52")
async def test_two_assertions_are_invalid_request(broker: BrokerEnv) -> None:
    jag = await broker.id_jag()
    r = await broker.leg2(assertion=[jag, jag])  # type: ignore[arg-type]
    assert_error(r, 400, "invalid_request", "The assertion parameter must not be repeated.")


@pytest.mark.spec("N53", "L2-03", "L2-04")
async def test_no_client_authentication_is_invalid_client(broker: BrokerEnv) -> None:
    r = await broker.leg2(await broker.id_jag(), auth={"X-None": "1"})
    assert_error(r, 401, "invalid_client")


@pytest.mark.spec("N54")
async def test_client_without_jwt_bearer_grant_is_unauthorized_client(broker: BrokerEnv) -> None:
    jag = await broker.id_jag(auth=basic("te-only"), subject_token=broker.acme.id_token())
    r = await broker.leg2(jag, auth=basic("te-only"))
    assert_error(r, 400, "unauthorized_client", "The client is not authorized to use this grant type.")


@pytest.mark.spec("L2-23", "L2-44", "IDJAG-4.4.1")
async def test_stolen_id_jag_redeemed_by_another_client_is_invalid_grant(broker: BrokerEnv) -> None:
    """ID-JAG §4.4.1: client_id MUST identify the authenticated client."""
    jag = await broker.id_jag()
    r = await broker.leg2(jag, auth=basic("other-app"))
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: The ID-JAG was issued to another client.")
    # The failed attempt must not burn the jti: the rightful client still redeems it.
    assert (await broker.leg2(jag)).status_code == 200


@pytest.mark.spec("N56", "L2-06")
async def test_resource_parameter_outside_the_id_jag_is_invalid_target(broker: BrokerEnv) -> None:
    r = await broker.leg2(await broker.id_jag(), resource=TICKETS)
    assert_error(r, 400, "invalid_target", "The requested resource is not granted by the ID-JAG.")


async def test_resource_parameter_equal_to_the_claim_is_accepted(broker: BrokerEnv) -> None:
    """MCP SDK clients always send resource; the same value is fine."""
    r = await broker.leg2(await broker.id_jag(), resource=FILES)
    assert r.status_code == 200, r.text


@pytest.mark.spec("N57")
async def test_oversized_assertion_is_invalid_grant(broker: BrokerEnv) -> None:
    r = await broker.leg2("a" * 9000 + ".b.c")
    assert_error(r, 400, "invalid_grant", "The assertion is not a valid JWT.")


@pytest.mark.spec("N58", "N59", "L2-12")
@pytest.mark.parametrize("alg", ["none", "NONE", "None"])
async def test_unsigned_id_jag_is_invalid_grant(broker: BrokerEnv, alg: str) -> None:
    claims = await _genuine_claims(broker)
    h = base64.urlsafe_b64encode(json.dumps({"alg": alg, "typ": "oauth-id-jag+jwt"}).encode()).rstrip(b"=")
    p = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    r = await broker.leg2(f"{h.decode()}.{p.decode()}.")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.spec("N62", "L2-12")
async def test_algorithm_outside_the_allow_list_is_invalid_grant(broker: BrokerEnv) -> None:
    """The broker's leg-1 key is ES256 only; an RS256 token with a matching kid is refused."""
    claims = await _genuine_claims(broker)
    key = RSAKey.generate_key(2048)
    from joserfc import jwt
    from joserfc.jws import JWSRegistry

    header, _ = decode_unverified(await broker.id_jag())
    token = jwt.encode(
        {"alg": "RS256", "kid": header["kid"], "typ": "oauth-id-jag+jwt"},
        claims,
        key,
        registry=JWSRegistry(algorithms=["RS256"]),
    )
    r = await broker.leg2(token)
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: algorithm 'RS256' is not allowed.")


@pytest.mark.spec("N63", "L2-10")
@pytest.mark.parametrize("typ", [None, "JWT", "jwt"])
async def test_id_jag_without_its_typ_is_invalid_grant(broker: BrokerEnv, typ: str | None) -> None:
    claims = await _genuine_claims(broker)
    token = broker.sign_as_broker_idp(claims, header={"typ": typ})
    r = await broker.leg2(token)
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: JOSE header typ must be 'oauth-id-jag+jwt'.")


@pytest.mark.spec("N64", "L2-10")
async def test_access_token_replayed_as_grant_is_invalid_grant(broker: BrokerEnv) -> None:
    """RFC 8725bis §3.12: our own at+jwt is not an authorization grant."""
    at = (await broker.leg2(await broker.id_jag())).json()["access_token"]
    r = await broker.leg2(at)
    assert_error(r, 400, "invalid_grant", "The ID-JAG issuer is not trusted.")


@pytest.mark.spec("N66", "OQ-11")
@pytest.mark.parametrize("typ", ["application/oauth-id-jag+jwt", "OAUTH-ID-JAG+JWT"])
async def test_typ_is_compared_as_a_media_type(broker: BrokerEnv, typ: str) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(broker.sign_as_broker_idp(claims, header={"typ": typ}))
    assert r.status_code == 200, r.text


@pytest.mark.spec("N69", "L2-13", "L2-18")
async def test_tampered_payload_is_invalid_grant(broker: BrokerEnv) -> None:
    jag = await broker.id_jag()
    h, p, s = jag.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=="))
    claims["scope"] = "files.read files.write"
    p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    r = await broker.leg2(f"{h}.{p2}.{s}")
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: signature check failed: bad_signature.")


@pytest.mark.spec("N71", "L2-15")
async def test_json_serialization_is_invalid_grant(broker: BrokerEnv) -> None:
    jag = await broker.id_jag()
    h, p, s = jag.split(".")
    r = await broker.leg2(json.dumps({"payload": p, "signatures": [{"protected": h, "signature": s}]}))
    assert_error(r, 400, "invalid_grant", "The assertion is not a valid JWT.")


@pytest.mark.spec("N73", "L2-17")
async def test_encrypted_id_jag_is_invalid_grant(broker: BrokerEnv) -> None:
    r = await broker.leg2("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d")
    assert_error(r, 400, "invalid_grant", "The assertion is not a valid JWT.")


@pytest.mark.spec("N74", "L2-16")
async def test_unknown_crit_header_is_invalid_grant(broker: BrokerEnv) -> None:
    r = await broker.leg2(with_header(await broker.id_jag(), crit=["x"], x=1))
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: unsupported 'crit' header parameter.")


@pytest.mark.spec("N67", "L2-14")
async def test_unknown_kid_is_invalid_grant(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(broker.sign_as_broker_idp(claims, header={"kid": "nope"}))
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: signing key not found (unknown kid).")


@pytest.mark.spec("N76", "L2-21")
async def test_untrusted_issuer_is_invalid_grant(broker: BrokerEnv) -> None:
    """An IdP trusted for ID tokens only (acme, id_jag_issuer = false) may not issue ID-JAGs."""
    r = await broker.leg2(
        broker.globex.sign(
            {**(await _genuine_claims(broker)), "iss": "https://login.acme.example"}, header={"typ": "oauth-id-jag+jwt"}
        )
    )
    assert_error(r, 400, "invalid_grant", "The ID-JAG issuer is not trusted.")


@pytest.mark.spec("N77", "L2-11")
async def test_native_issuer_claim_signed_with_leg1_key_is_invalid_grant(broker: BrokerEnv) -> None:
    """RFC 8725bis §3.8: iss = globex but signed by our leg-1 key: only globex's keys count."""
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, iss="https://login.globex.example"))
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: signing key not found (unknown kid).")


@pytest.mark.spec("N78", "N79", "N81", "L2-22", "L2-36")
@pytest.mark.parametrize(
    "aud",
    ["https://other-as.example", [AS_ISSUER, "https://other-as.example"], f"{AS_ISSUER}/", AS_ISSUER.upper()],
)
async def test_wrong_audience_is_invalid_grant(broker: BrokerEnv, aud: object) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, aud=aud))
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: Audience validation failed.")


async def test_single_element_audience_array_is_accepted(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, aud=[AS_ISSUER]))
    assert r.status_code == 200, r.text


@pytest.mark.spec("N82", "N86", "N89", "N94", "N96", "L2-20", "L2-28")
@pytest.mark.parametrize("claim", ["exp", "iat", "jti", "client_id", "sub", "iss"])
async def test_missing_required_claim_is_invalid_grant(broker: BrokerEnv, claim: str) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, **{claim: None}))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.spec("N83", "N84", "L2-24")
async def test_expiry_is_enforced_with_bounded_skew(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    now = int(broker.clock())
    inside = await broker.leg2(_forge(broker, claims, exp=now - 30, iat=now - 200, jti="inside-skew"))
    assert inside.status_code == 200, inside.text
    outside = await broker.leg2(_forge(broker, claims, exp=now - 120, iat=now - 300, jti="outside-skew"))
    assert_error(outside, 400, "invalid_grant", "The ID-JAG failed validation: The token is expired.")


@pytest.mark.spec("N87", "N88", "L2-25", "L2-26")
@pytest.mark.parametrize("claim", ["iat", "nbf"])
async def test_not_yet_valid_id_jag_is_invalid_grant(broker: BrokerEnv, claim: str) -> None:
    claims = await _genuine_claims(broker)
    now = int(broker.clock())
    r = await broker.leg2(_forge(broker, claims, **{claim: now + 600, "exp": now + 900}))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.spec("L2-24", "OQ-23")
async def test_id_jag_lifetime_beyond_maximum_is_invalid_grant(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, exp=claims["iat"] + 3600))
    assert_error(
        r, 400, "invalid_grant", "The ID-JAG failed validation: The ID-JAG lifetime exceeds the accepted maximum."
    )


@pytest.mark.spec("N93", "L2-43")
async def test_overlong_jti_is_invalid_grant(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, jti="j" * 10_000))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.spec("N99", "L2-31")
async def test_resource_not_governed_here_is_invalid_grant(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, resource="https://elsewhere.example/mcp"))
    assert_error(r, 400, "invalid_grant", "The ID-JAG names a resource this authorization server does not govern.")


@pytest.mark.spec("L2-56")
async def test_id_jag_without_resource_gets_no_unrestricted_token(broker: BrokerEnv) -> None:
    """RFC 9068 §3 / EMA §5.1: the access token must be audience-restricted to one MCP server."""
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, resource=None))
    assert_error(r, 400, "invalid_grant", "The ID-JAG does not name a resource; no unrestricted token is issued.")


@pytest.mark.spec("N101", "L2-32", "OQ-9")
async def test_scopes_of_another_resource_are_narrowed_away(broker: BrokerEnv) -> None:
    """RFC 9068 §2.2.3: each scope must have meaning for aud; tickets.read is dropped for the files server."""
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, scope="files.read tickets.read"))
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "files.read"


@pytest.mark.spec("L2-05", "OQ-9")
async def test_requested_scope_beyond_the_id_jag_is_invalid_scope(broker: BrokerEnv) -> None:
    """RFC 7521 §4.1: the requested scope MUST be equal to or less than what was granted."""
    r = await broker.leg2(await broker.id_jag(), scope="files.read files.write")
    assert_error(r, 400, "invalid_scope", "The requested scope exceeds the scope granted by the ID-JAG.")


async def test_requested_scope_narrows_the_token(broker: BrokerEnv) -> None:
    jag = await broker.id_jag(scope="files.read files.write")
    r = await broker.leg2(jag, scope="files.read")
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "files.read"


@pytest.mark.spec("L2-35", "N109")
async def test_self_issued_id_jag_is_invalid_grant(broker: BrokerEnv) -> None:
    """ID-JAG §9.4: an AS MUST NOT accept an ID-JAG it issued itself in the same trust domain."""
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, iss=AS_ISSUER))
    assert_error(r, 400, "invalid_grant", "The ID-JAG issuer is not trusted.")


@pytest.mark.spec("L2-37", "OQ-22")
async def test_act_claim_is_refused(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, act={"sub": "agent"}))
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: Delegation ('act') is not supported.")


@pytest.mark.spec("N103", "L2-33")
async def test_key_bound_id_jag_without_proof_is_invalid_grant(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, cnf={"jkt": "abc"}))
    assert_error(
        r,
        400,
        "invalid_grant",
        "The ID-JAG failed validation: Proof of possession is not supported for this authorization grant.",
    )


@pytest.mark.spec("N107", "L2-38")
@pytest.mark.parametrize(("claim", "value"), [("aud", 5), ("exp", "soon"), ("scope", ["files.read"]), ("sub", 7)])
async def test_claim_of_wrong_type_is_invalid_grant(broker: BrokerEnv, claim: str, value: object) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, **{claim: value}))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.spec("L2-21", "OQ-16")
async def test_native_idp_id_jag_is_redeemed_under_its_own_policy(broker: BrokerEnv) -> None:
    """ID-JAG §4.1: a natively issuing IdP (Okta-style) is trusted with its own keys; sub namespaced."""
    r = await broker.leg2(broker.globex.id_jag())
    assert r.status_code == 200, r.text
    _, claims = decode_unverified(r.json()["access_token"])
    assert claims["sub"] == "globex|alice"
    assert claims["scope"] == "files.read"


@pytest.mark.spec("L2-50", "L2-51")
async def test_native_idp_id_jag_beyond_policy_is_refused(broker: BrokerEnv) -> None:
    """Policy grants globex users files.read only; a native ID-JAG for tickets is refused."""
    r = await broker.leg2(broker.globex.id_jag(resource=TICKETS, scope="tickets.read"))
    assert_error(r, 400, "invalid_grant", "The client is not allowed to access the requested resource.")


@pytest.mark.spec("L2-12")
async def test_native_id_jag_signed_by_another_key_is_invalid_grant(broker: BrokerEnv) -> None:
    other = ECKey.generate_key("P-256", parameters={"kid": "globex-1"})
    token = broker.globex.sign(
        {
            "iss": "https://login.globex.example",
            "sub": "alice",
            "aud": AS_ISSUER,
            "client_id": "agent-app",
            "jti": "x1",
            "iat": int(broker.clock()),
            "exp": int(broker.clock()) + 300,
            "resource": FILES,
        },
        header={"typ": "oauth-id-jag+jwt"},
        key=other,
    )
    r = await broker.leg2(token)
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: signature check failed: bad_signature.")


async def test_leg1_issuer_is_ours_and_distinct_from_leg2(broker: BrokerEnv) -> None:
    """DESIGN OQ-2: two roles, two issuers, two key sets."""
    jag_header, _ = decode_unverified(await broker.id_jag())
    at = (await broker.leg2(await broker.id_jag())).json()["access_token"]
    at_header, _ = decode_unverified(at)
    assert jag_header["kid"] != at_header["kid"]
    assert IDP_ISSUER != AS_ISSUER


@pytest.mark.spec("L2-01")
async def test_leg2_takes_form_posts_only(broker: BrokerEnv) -> None:
    assert (await broker.http.get("/as/token")).status_code == 405
    r = await broker.http.post("/as/token", json={"grant_type": "x"}, headers=basic("agent-app"))
    assert_error(r, 400, "invalid_request", "The request body must be application/x-www-form-urlencoded.")


@pytest.mark.spec("L2-55")
async def test_tokens_for_different_servers_carry_distinct_audiences(broker: BrokerEnv) -> None:
    """RFC 9068 §5: distinct aud per resource, so a files token never opens the tickets server."""
    files = (await broker.leg2(await broker.id_jag())).json()["access_token"]
    tickets = (await broker.leg2(await broker.id_jag(resource=TICKETS, scope="tickets.read"))).json()["access_token"]
    assert decode_unverified(files)[1]["aud"] == FILES
    assert decode_unverified(tickets)[1]["aud"] == TICKETS


@pytest.mark.spec("N72")
async def test_duplicate_audience_member_in_id_jag_is_invalid_grant(broker: BrokerEnv) -> None:
    """RFC 7519 §4: duplicate member names are refused (first ours, last foreign)."""
    jag = await broker.id_jag()
    h, p, s = jag.split(".")
    payload = base64.urlsafe_b64decode(p + "==").decode()[:-1] + ', "aud": "https://other-as.example"}'
    p2 = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    r = await broker.leg2(f"{h}.{p2}.{s}")
    assert_error(r, 400, "invalid_grant", "The assertion is not a valid JWT.")


async def test_own_id_jag_naming_an_unknown_tenant_is_invalid_grant(broker: BrokerEnv) -> None:
    claims = await _genuine_claims(broker)
    r = await broker.leg2(_forge(broker, claims, tenant="nope"))
    assert_error(r, 400, "invalid_grant", "The ID-JAG failed validation: unknown tenant.")
