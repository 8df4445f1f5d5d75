"""Leg 1 (RFC 8693 -> ID-JAG): each test performs the attack a rule stops and asserts the exact error."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc.jwk import RSAKey

from broker.constants import TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_JAG
from tests.broker_env import (
    AS_ISSUER,
    FILES,
    IDP_ISSUER,
    PARTNER_AS,
    PARTNER_RES,
    TICKETS,
    BrokerEnv,
    assert_error,
    basic,
    client_assertion_form,
    decode_unverified,
    with_header,
)


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.mark.spec("L1-07", "L1-20", "L1-46", "L1-47", "L1-48", "L1-49", "L1-50", "L1-51", "L1-52", "L1-53", "L1-58")
async def test_valid_id_token_yields_id_jag_with_profile_claims(broker: BrokerEnv) -> None:
    """ID-JAG §3.1/§4.3.4: typ oauth-id-jag+jwt; iss/sub/aud/client_id/jti/iat/exp/resource/scope; N_A token type."""
    r = await broker.leg1()
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["issued_token_type"] == TOKEN_TYPE_ID_JAG
    assert body["token_type"] == "N_A"
    assert body["scope"] == "files.read"
    assert body["expires_in"] == 300
    assert "refresh_token" not in body
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["pragma"] == "no-cache"
    header, claims = decode_unverified(body["access_token"])
    assert header["typ"] == "oauth-id-jag+jwt"
    assert header["alg"] == "ES256"
    assert claims["iss"] == IDP_ISSUER
    assert claims["aud"] == AS_ISSUER
    assert claims["sub"] == "acme|alice"
    assert claims["tenant"] == "acme"
    assert claims["client_id"] == "agent-app"
    assert claims["resource"] == FILES
    assert claims["scope"] == "files.read"
    assert claims["exp"] - claims["iat"] == 300
    assert len(claims["jti"]) >= 22


@pytest.mark.spec("N01")
async def test_get_on_token_endpoint_is_method_not_allowed(broker: BrokerEnv) -> None:
    """RFC 6749 §3.2: the token endpoint takes POST only."""
    r = await broker.http.get("/idp/token")
    assert r.status_code == 405


@pytest.mark.spec("N02", "L1-01")
async def test_json_body_is_invalid_request(broker: BrokerEnv) -> None:
    """RFC 6749 §3.2: parameters are form-encoded; JSON is refused."""
    r = await broker.http.post("/idp/token", json={"grant_type": "x"}, headers=basic("agent-app"))
    assert_error(r, 400, "invalid_request", "The request body must be application/x-www-form-urlencoded.")


@pytest.mark.spec("N03")
async def test_missing_grant_type_is_invalid_request(broker: BrokerEnv) -> None:
    r = await broker.http.post("/idp/token", data={"subject_token": "x"}, headers=basic("agent-app"))
    assert_error(r, 400, "invalid_request", "The grant_type parameter is required.")


@pytest.mark.spec("N04", "L1-02")
async def test_password_grant_is_unsupported_grant_type(broker: BrokerEnv) -> None:
    r = await broker.http.post("/idp/token", data={"grant_type": "password"}, headers=basic("agent-app"))
    assert_error(r, 400, "unsupported_grant_type", "This endpoint does not support the grant type 'password'.")


@pytest.mark.spec("N06")
async def test_missing_subject_token_is_invalid_request(broker: BrokerEnv) -> None:
    r = await broker.leg1(subject_token="")
    assert_error(r, 400, "invalid_request", "The subject_token parameter is required.")


@pytest.mark.spec("N07")
async def test_missing_subject_token_type_is_invalid_request(broker: BrokerEnv) -> None:
    r = await broker.leg1(subject_token_type=None)
    assert_error(r, 400, "invalid_request", "The subject_token_type parameter is required.")


@pytest.mark.spec("N08", "L1-04")
@pytest.mark.parametrize("requested", [None, TOKEN_TYPE_ACCESS_TOKEN])
async def test_requested_token_type_must_be_id_jag(broker: BrokerEnv, requested: str | None) -> None:
    """ID-JAG §4.3: requested_token_type is REQUIRED and fixed at leg 1."""
    r = await broker.leg1(requested_token_type=requested)
    assert_error(r, 400, "invalid_request", f"requested_token_type must be {TOKEN_TYPE_ID_JAG} at this endpoint.")


@pytest.mark.spec("N09")
async def test_missing_audience_is_invalid_request(broker: BrokerEnv) -> None:
    r = await broker.leg1(audience=None)
    assert_error(r, 400, "invalid_request", "The audience parameter is required.")


@pytest.mark.spec("L1-03")
async def test_repeated_single_valued_parameter_is_invalid_request(broker: BrokerEnv) -> None:
    """RFC 6749 §3.2: single-valued parameters MUST NOT repeat."""
    r = await broker.leg1(scope=["files.read", "files.write"])
    assert_error(r, 400, "invalid_request", "The scope parameter must not be repeated.")


@pytest.mark.spec("N11", "L1-08")
async def test_oversized_body_is_refused_before_parsing(broker: BrokerEnv) -> None:
    r = await broker.leg1(subject_token="a" * 70_000)
    assert r.status_code == 413
    assert "access_token" not in r.text


@pytest.mark.spec("N12", "L1-11")
async def test_no_client_authentication_is_invalid_client(broker: BrokerEnv) -> None:
    """EMA §7.7: client authentication MUST be enforced; public clients are refused."""
    r = await broker.leg1(auth={})
    assert_error(r, 401, "invalid_client", "Client authentication is required.")
    assert r.headers["www-authenticate"] == 'Basic realm="xaa-broker"'


@pytest.mark.spec("N13", "L1-15", "L2-72")
async def test_wrong_basic_secret_is_invalid_client_with_challenge(broker: BrokerEnv) -> None:
    r = await broker.leg1(auth=basic("agent-app", "wrong"))
    assert_error(r, 401, "invalid_client", "Client authentication failed.")
    assert r.headers["www-authenticate"] == 'Basic realm="xaa-broker"'


@pytest.mark.spec("N14")
async def test_wrong_post_secret_is_invalid_client(broker: BrokerEnv) -> None:
    r = await broker.leg1(auth={"X-Nothing": "1"}, client_id="agent-app", client_secret="wrong")
    assert_error(r, 401, "invalid_client", "Client authentication failed.")


async def test_client_secret_post_is_accepted(broker: BrokerEnv) -> None:
    """RFC 6749 §2.3.1: client_secret_post (used by XAA and the MCP SDK)."""
    from tests.broker_env import SECRETS

    r = await broker.leg1(auth={"X-Nothing": "1"}, client_id="agent-app", client_secret=SECRETS["agent-app"])
    assert r.status_code == 200, r.text


@pytest.mark.spec("L1-14")
async def test_two_client_authentication_methods_is_invalid_request(broker: BrokerEnv) -> None:
    """RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request."""
    r = await broker.leg1(client_id="agent-app", client_secret="x")
    assert_error(r, 400, "invalid_request", "Use exactly one client authentication method (RFC 6749 §2.3).")


@pytest.mark.spec("L1-13")
async def test_basic_credentials_are_form_urldecoded(broker: BrokerEnv) -> None:
    """RFC 6749 §2.3.1: the id and secret are form-urlencoded inside Basic; '%2D' must decode to '-'."""
    from tests.broker_env import SECRETS

    raw = f"agent%2Dapp:{SECRETS['agent-app'].replace('-', '%2D')}".encode()
    r = await broker.leg1(auth={"Authorization": "Basic " + base64.b64encode(raw).decode()})
    assert r.status_code == 200, r.text


@pytest.mark.spec("N21", "L1-21")
@pytest.mark.parametrize(
    "token_type",
    [
        "urn:ietf:params:oauth:token-type:access_token",
        "urn:ietf:params:oauth:token-type:jwt",
        "urn:ietf:params:oauth:token-type:saml2",
    ],
)
async def test_unsupported_subject_token_type_is_invalid_request(broker: BrokerEnv, token_type: str) -> None:
    r = await broker.leg1(subject_token_type=token_type)
    assert_error(
        r,
        400,
        "invalid_request",
        "Unsupported subject_token_type; only urn:ietf:params:oauth:token-type:id_token is accepted.",
    )


@pytest.mark.spec("N22", "L1-29")
@pytest.mark.parametrize("token", ["not-a-jwt", "a.b", "eyJ{}.e30.sig", "a.b.c.d"])
async def test_malformed_subject_token_is_invalid_grant(broker: BrokerEnv, token: str) -> None:
    r = await broker.leg1(subject_token=token)
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert r.json()["error_description"].startswith("The subject token is not a valid JWT.")


@pytest.mark.spec("N23", "N24", "L1-24")
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "noNE"])
async def test_unsigned_id_token_is_invalid_grant(broker: BrokerEnv, alg: str) -> None:
    """RFC 8725bis §3.2: 'none' in any case is never accepted."""
    claims = broker.acme.id_token_claims()
    token = f"{_b64({'alg': alg, 'kid': 'acme-1'})}.{_b64(claims)}."
    r = await broker.leg1(subject_token=token)
    assert_error(r, 400, "invalid_grant")
    assert r.json()["error_description"] in (
        f"The subject token failed validation: algorithm '{alg}' is not allowed.",
        "The subject token is not a valid JWT.",
    )


@pytest.mark.spec("L1-24")
async def test_hs256_signed_with_idp_public_key_is_invalid_grant(broker: BrokerEnv) -> None:
    """RFC 8725bis §2.1: HMAC keyed with the IdP's public key (algorithm confusion)."""
    import hmac
    from hashlib import sha256

    pem = broker.acme.key.as_pem(private=False)
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'acme-1'})}.{_b64(broker.acme.id_token_claims())}"
    mac = hmac.new(pem, signing_input.encode(), sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    r = await broker.leg1(subject_token=token)
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: algorithm 'HS256' is not allowed.")


@pytest.mark.spec("N26")
async def test_id_token_signed_by_attacker_key_with_known_kid_is_invalid_grant(broker: BrokerEnv) -> None:
    attacker = RSAKey.generate_key(2048, parameters={"kid": "acme-1"})
    token = broker.acme.sign(broker.acme.id_token_claims(), key=attacker)
    r = await broker.leg1(subject_token=token)
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: signature check failed: bad_signature.")


@pytest.mark.spec("N27", "L1-23")
async def test_id_token_from_untrusted_issuer_is_invalid_grant(broker: BrokerEnv) -> None:
    token = broker.acme.id_token(iss="https://login.acme.example.evil")
    r = await broker.leg1(subject_token=token)
    assert_error(r, 400, "invalid_grant", "The subject token issuer is not trusted.")


@pytest.mark.spec("OQ-8")
@pytest.mark.parametrize("iss", ["https://login.acme.example/", "https://LOGIN.acme.example"])
async def test_issuer_comparison_is_exact(broker: BrokerEnv, iss: str) -> None:
    """OIDC Core §3.1.3.7 step 2: exact string match; no trailing-slash or case folding."""
    r = await broker.leg1(subject_token=broker.acme.id_token(iss=iss))
    assert_error(r, 400, "invalid_grant", "The subject token issuer is not trusted.")


@pytest.mark.spec("N28")
async def test_trusted_issuer_signed_with_another_idps_key_is_invalid_grant(broker: BrokerEnv) -> None:
    """RFC 8725bis §3.8: only the named issuer's keys count."""
    claims = broker.acme.id_token_claims()
    token = broker.globex.sign(claims)  # iss = acme, signed by globex (ES256, kid globex-1)
    r = await broker.leg1(subject_token=token)
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: algorithm 'ES256' is not allowed.")


@pytest.mark.spec("N29", "L1-25")
async def test_id_token_for_another_app_is_invalid_grant(broker: BrokerEnv) -> None:
    """ID-JAG §4.3.3: the assertion audience MUST match the authenticated client."""
    r = await broker.leg1(subject_token=broker.acme.id_token(aud="other-sso"))
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: Audience validation failed.")


@pytest.mark.spec("L1-25")
async def test_id_token_of_another_client_presented_by_that_clients_peer_is_refused(broker: BrokerEnv) -> None:
    """A token minted for agent-app, presented by other-app (a stolen ID token) is refused."""
    r = await broker.leg1(auth=basic("other-app"))
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: Audience validation failed.")


@pytest.mark.spec("L1-25")
async def test_multiple_audiences_without_matching_azp_are_refused(broker: BrokerEnv) -> None:
    """OIDC Core §3.1.3.7 steps 4-5: several audiences need azp = this client."""
    r = await broker.leg1(subject_token=broker.acme.id_token(aud=["agent-sso", "other-sso"]))
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: Authorized party validation failed.")
    ok = await broker.leg1(subject_token=broker.acme.id_token(aud=["agent-sso", "other-sso"], azp="agent-sso"))
    assert ok.status_code == 200, ok.text


@pytest.mark.spec("N31", "L1-26")
async def test_expired_id_token_is_invalid_grant(broker: BrokerEnv) -> None:
    now = int(broker.clock())
    r = await broker.leg1(subject_token=broker.acme.id_token(exp=now - 120, iat=now - 700))
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: The token is expired.")


@pytest.mark.spec("N32")
@pytest.mark.parametrize("claim", ["iat", "nbf"])
async def test_id_token_from_the_future_is_invalid_grant(broker: BrokerEnv, claim: str) -> None:
    now = int(broker.clock())
    r = await broker.leg1(subject_token=broker.acme.id_token(**{claim: now + 600}))
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.spec("N33", "L1-27")
async def test_id_token_without_sub_is_invalid_grant(broker: BrokerEnv) -> None:
    claims = broker.acme.id_token_claims()
    del claims["sub"]
    r = await broker.leg1(subject_token=broker.acme.sign(claims))
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: Missing claim: 'sub'.")


@pytest.mark.spec("N34", "L1-22")
@pytest.mark.parametrize("typ", ["at+jwt", "oauth-id-jag+jwt", "application/at+jwt", "client-authentication+jwt"])
async def test_other_token_kinds_are_not_identity_assertions(broker: BrokerEnv, typ: str) -> None:
    """PR:stt: an access token or ID-JAG presented as an ID token is refused (type confusion)."""
    r = await broker.leg1(subject_token=broker.acme.id_token(header={"typ": typ}))
    norm = typ.removeprefix("application/")
    assert_error(
        r, 400, "invalid_grant", f"The subject token failed validation: a '{norm}' token is not accepted here."
    )


@pytest.mark.spec("N36", "L1-28")
async def test_jku_header_is_never_followed(broker: BrokerEnv) -> None:
    """RFC 8725bis §3.10: a jku pointing at the attacker's keys does not select the key."""
    attacker = RSAKey.generate_key(2048, parameters={"kid": "evil"})
    token = broker.acme.sign(
        broker.acme.id_token_claims(), key=attacker, header={"kid": "evil", "jku": "https://attacker.example/jwks"}
    )
    r = await broker.leg1(subject_token=token)
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: signing key not found (unknown kid).")


@pytest.mark.spec("L1-28")
async def test_unknown_crit_header_is_refused(broker: BrokerEnv) -> None:
    r = await broker.leg1(subject_token=with_header(broker.acme.id_token(), crit=["exp"], exp=1))
    assert_error(r, 400, "invalid_grant", "The subject token failed validation: unsupported 'crit' header parameter.")


@pytest.mark.spec("N39", "L1-30")
async def test_duplicate_json_member_is_refused(broker: BrokerEnv) -> None:
    header = _b64({"alg": "RS256", "kid": "acme-1"})
    claims = json.dumps(broker.acme.id_token_claims())[:-1] + ', "aud": "other-sso"}'
    payload = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=").decode()
    r = await broker.leg1(subject_token=f"{header}.{payload}.c2ln")
    assert_error(r, 400, "invalid_grant", "The subject token is not a valid JWT.")


@pytest.mark.spec("N41", "L1-41", "L1-42")
async def test_resource_governed_by_another_audience_is_invalid_target(broker: BrokerEnv) -> None:
    """EMA §7.6.1: the audience must be the AS of the resource."""
    r = await broker.leg1(resource=PARTNER_RES)
    assert_error(r, 400, "invalid_target", "The resource is not governed by the requested audience.")


@pytest.mark.spec("N42", "N43")
@pytest.mark.parametrize(
    ("resource", "text"),
    [
        (f"{FILES}#frag", "The resource parameter must not include a fragment (RFC 8707 §2)."),
        ("/files/mcp", "The resource parameter must be an absolute URI (RFC 8707 §2)."),
    ],
)
async def test_malformed_resource_is_invalid_target(broker: BrokerEnv, resource: str, text: str) -> None:
    r = await broker.leg1(resource=resource)
    assert_error(r, 400, "invalid_target", text)


@pytest.mark.spec("N44", "L1-06")
async def test_two_audiences_are_invalid_target(broker: BrokerEnv) -> None:
    r = await broker.leg1(audience=[AS_ISSUER, PARTNER_AS])
    assert_error(r, 400, "invalid_target", "Only one audience value is supported per request.")


@pytest.mark.spec("L1-06")
async def test_two_resources_are_invalid_target(broker: BrokerEnv) -> None:
    r = await broker.leg1(resource=[FILES, TICKETS])
    assert_error(r, 400, "invalid_target", "Only one resource value is supported per request.")


@pytest.mark.spec("OQ-6")
async def test_resource_is_required_for_our_leg2(broker: BrokerEnv) -> None:
    r = await broker.leg1(resource=None)
    assert_error(r, 400, "invalid_target", "The resource parameter is required for this audience.")


@pytest.mark.spec("L1-40")
async def test_unknown_audience_is_invalid_target(broker: BrokerEnv) -> None:
    r = await broker.leg1(audience="https://unknown-as.example")
    assert_error(r, 400, "invalid_target", "The audience is not a known authorization server.")


@pytest.mark.spec("N46", "L1-44")
async def test_scope_beyond_policy_is_invalid_scope(broker: BrokerEnv) -> None:
    r = await broker.leg1(resource=TICKETS, scope="tickets.read tickets.write")
    assert_error(r, 400, "invalid_scope", "The requested scope exceeds the scope policy allows.")


@pytest.mark.spec("L1-43")
async def test_omitted_scope_grants_what_policy_allows(broker: BrokerEnv) -> None:
    r = await broker.leg1(scope=None)
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "files.read files.write"


@pytest.mark.spec("N47", "L1-43")
async def test_user_outside_allowed_groups_is_refused_generically(broker: BrokerEnv) -> None:
    """DESIGN OQ-5: the user is told only that access is not allowed; the group detail goes to the audit log."""
    r = await broker.leg1(subject_token=broker.acme.id_token(sub="bob", groups=["sales"]))
    assert_error(r, 400, "invalid_grant", "The user is not allowed to access the requested resource.")


@pytest.mark.spec("L1-43")
async def test_client_without_policy_for_resource_is_invalid_target(broker: BrokerEnv) -> None:
    """jwt-app has no rule for the tickets server."""
    form = client_assertion_form(broker, audience=IDP_ISSUER)
    r = await broker.leg1(
        auth={"X-Nothing": "1"},
        subject_token=broker.acme.id_token(aud="jwt-sso"),
        resource=TICKETS,
        scope="tickets.read",
        **form,
    )
    assert_error(r, 400, "invalid_target", "The client is not allowed to access the requested resource.")


@pytest.mark.spec("L1-05", "OQ-22")
async def test_actor_token_is_refused(broker: BrokerEnv) -> None:
    r = await broker.leg1(actor_token="x", actor_token_type="urn:ietf:params:oauth:token-type:id_token")
    assert_error(r, 400, "invalid_request", "Actor tokens are not supported.")


@pytest.mark.spec("L1-49")
async def test_external_audience_gets_its_own_client_id_in_the_id_jag(broker: BrokerEnv) -> None:
    """ID-JAG §3.1: client_id is the client's id at the RAS (bridge mode for an external AS)."""
    r = await broker.leg1(audience=PARTNER_AS, resource=PARTNER_RES, scope="partner.read")
    assert r.status_code == 200, r.text
    _, claims = decode_unverified(r.json()["access_token"])
    assert claims["aud"] == PARTNER_AS
    assert claims["client_id"] == "partner-agent"
    assert claims["resource"] == PARTNER_RES


@pytest.mark.spec("L1-19")
async def test_client_without_token_exchange_grant_is_unauthorized_client(broker: BrokerEnv) -> None:
    from tests.broker_env import SECRETS

    r = await broker.leg1(auth=basic("rs-app", SECRETS["rs-app"]))
    assert_error(r, 400, "unauthorized_client", "The client is not authorized to use this grant type.")


@pytest.mark.spec("N48", "L1-45")
async def test_authorization_details_are_refused_not_ignored(broker: BrokerEnv) -> None:
    """RFC 9396 is not offered: refusing beats silently issuing a grant the client did not describe."""
    r = await broker.leg1(authorization_details='[{"type": "x"}]')
    assert_error(r, 400, "invalid_request", "authorization_details is not supported; use scope and resource.")


@pytest.mark.spec("L1-57")
async def test_each_exchange_is_audited_without_credentials(
    broker: BrokerEnv, capfd: pytest.CaptureFixture[str]
) -> None:
    """ID-JAG §9.2: record audience, resource, scope and client; never the token (default sink: stderr)."""
    capfd.readouterr()
    r = await broker.leg1()
    token = r.json()["access_token"]
    err = capfd.readouterr().err
    events = [json.loads(line) for line in err.splitlines() if line.startswith('{"ts":')]
    assert [{k: v for k, v in e.items() if k != "ts"} for e in events] == [
        {
            "event": "id_jag.issued",
            "outcome": "granted",
            "idp": "acme",
            "client_id": "agent-app",
            "audience": AS_ISSUER,
            "resource": FILES,
            "scope": "files.read",
        }
    ]
    assert token not in err


@pytest.mark.spec("L1-10")
async def test_no_token_or_secret_reaches_any_log(
    broker: BrokerEnv, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """EMA §7.4.2: never log full ID-JAGs; the same for ID tokens, access tokens and secrets, on every path."""
    import logging

    from tests.broker_env import SECRETS

    with caplog.at_level(logging.DEBUG):
        id_token = broker.acme.id_token()
        jag = (await broker.leg1(subject_token=id_token)).json()["access_token"]
        at = (await broker.leg2(jag)).json()["access_token"]
        await broker.leg2(jag)  # replay: an error path
        await broker.leg1(subject_token=id_token, auth=basic("agent-app", "wrong-secret-value"))
        await broker.leg1(subject_token=id_token[:-4] + "AAAA")
    written = capfd.readouterr()
    # The audit trail of those five requests (the replay adds its own "access_token.refused" event).
    assert written.err.count('{"ts":') == 6
    for secret in (id_token, jag, at, SECRETS["agent-app"], "wrong-secret-value"):
        assert secret not in caplog.text
        assert secret not in written.err
        assert secret not in written.out
