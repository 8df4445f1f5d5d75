"""Native ID-JAG issuance: RFC 8693 token exchange of this IdP's ID token for an ID-JAG (ID-JAG §3.1, §4.3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp_mock import (
    AGENT_APP,
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    DEFAULT_ISSUER,
    PUBLIC_CLI,
    PUBLIC_CLI_CLIENT_ID,
    ClientConfig,
    IdJagSettings,
    IdpSettings,
)
from idp_mock.settings import Secret
from tests.idp_mock.conftest import AS_AUDIENCE, MCP_RESOURCE, REDIRECT_URI, Idp, id_jag_settings

AGENT = (AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET)
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
ID_JAG = "urn:ietf:params:oauth:token-type:id-jag"


def _exchange_form(token: str, /, **overrides: str | None) -> dict[str, str]:
    form: dict[str, str | None] = {
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": ID_JAG,
        "audience": AS_AUDIENCE,
        "resource": MCP_RESOURCE,
        "scope": "notes:read notes:write",
        "subject_token": token,
        "subject_token_type": ID_TOKEN,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def _assert_error(r: httpx.Response, status: int, error: str, description: str) -> None:
    assert r.status_code == status
    assert r.json() == {"error": error, "error_description": description}
    assert r.headers["cache-control"] == "no-store"


@pytest.fixture
def jag_idp(make_idp: Callable[..., Idp]) -> Idp:
    return make_idp(id_jag_settings())


async def test_exchange_returns_an_id_jag_with_the_right_header_and_claims(jag_idp: Idp) -> None:
    """ID-JAG §3.1 claims, ``typ: oauth-id-jag+jwt``; RFC 8693 §2.2.1 response with ``token_type: N_A``."""
    tokens = await jag_idp.tokens_for(login_hint="carol")
    id_token_claims = jwt.decode(
        tokens["id_token"], KeySet.import_key_set((await jag_idp.http.get("/jwks")).json())
    ).claims
    jag_idp.clock.advance(5)

    r = await jag_idp.token(_exchange_form(tokens["id_token"]), auth=AGENT)

    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["issued_token_type"] == ID_JAG
    assert body["token_type"] == "N_A"
    assert body["expires_in"] == 300
    assert body["scope"] == "notes:read notes:write"
    assert "refresh_token" not in body  # ID-JAG §4.3.4
    jwks = KeySet.import_key_set((await jag_idp.http.get("/jwks")).json())
    token = jwt.decode(body["access_token"], jwks, algorithms=["RS256"])
    assert token.header["typ"] == "oauth-id-jag+jwt"
    assert token.header["kid"] == jwks.keys[0].kid
    now = int(jag_idp.clock())
    claims: dict[str, Any] = token.claims
    assert claims == {
        "iss": DEFAULT_ISSUER,
        "sub": "carol",
        "aud": AS_AUDIENCE,
        "client_id": AGENT_APP_CLIENT_ID,
        "jti": claims["jti"],
        "iat": now,
        "exp": now + 300,
        "resource": MCP_RESOURCE,
        "scope": "notes:read notes:write",
        "auth_time": id_token_claims["auth_time"],
        "email": "carol@acme.example",
    }
    assert len(claims["jti"]) >= 22  # >= 128 bits of randomness


async def test_id_jag_client_id_is_the_clients_id_at_the_audience(make_idp: Callable[..., Idp]) -> None:
    """ID-JAG §3.1/§5: ``client_id`` is the client's id at the resource AS, mapped per audience in config."""
    mapped = ClientConfig(
        client_id=AGENT_APP_CLIENT_ID,
        client_secret=Secret(AGENT_APP_CLIENT_SECRET),
        redirect_uris=AGENT_APP.redirect_uris,
        id_jag_client_ids={AS_AUDIENCE: "agent-1"},
    )
    idp = make_idp(id_jag_settings(client=(mapped, PUBLIC_CLI)))
    tokens = await idp.tokens_for()
    body = (await idp.token(_exchange_form(tokens["id_token"]), auth=AGENT)).json()
    claims = jwt.decode(body["access_token"], KeySet.import_key_set((await idp.http.get("/jwks")).json())).claims
    assert claims["client_id"] == "agent-1"


async def test_resource_and_scope_are_optional(jag_idp: Idp) -> None:
    tokens = await jag_idp.tokens_for()
    r = await jag_idp.token(_exchange_form(tokens["id_token"], resource=None, scope=None), auth=AGENT)
    assert r.status_code == 200
    claims = jwt.decode(
        r.json()["access_token"], KeySet.import_key_set((await jag_idp.http.get("/jwks")).json())
    ).claims
    assert "resource" not in claims
    assert "scope" not in claims


async def test_unlisted_audience_is_invalid_target(jag_idp: Idp) -> None:
    """RFC 8693 §2.2.2: the IdP issues only for the audiences it is configured for."""
    tokens = await jag_idp.tokens_for()
    r = await jag_idp.token(_exchange_form(tokens["id_token"], audience="https://other-as.example"), auth=AGENT)
    _assert_error(r, 400, "invalid_target", "This identity provider does not issue ID-JAGs for that audience.")


async def test_two_audiences_are_invalid_target(jag_idp: Idp) -> None:
    """RFC 8693 §2.1 allows repeats; one audience per ID-JAG here (RFC 8693 §2.2.2 ``invalid_target``)."""
    tokens = await jag_idp.tokens_for()
    form = [*_exchange_form(tokens["id_token"]).items(), ("audience", "https://other-as.example")]
    r = await jag_idp.http.post(
        "/token",
        content=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=AGENT,
    )
    _assert_error(r, 400, "invalid_target", "Only one audience per request is supported.")


async def test_resource_with_a_fragment_is_invalid_target(jag_idp: Idp) -> None:
    """RFC 8707 §2: an absolute URI without a fragment."""
    tokens = await jag_idp.tokens_for()
    r = await jag_idp.token(_exchange_form(tokens["id_token"], resource="http://x.example/mcp#f"), auth=AGENT)
    _assert_error(r, 400, "invalid_target", "resource must be an absolute URI without a fragment (RFC 8707 §2).")


@pytest.mark.parametrize(
    ("field", "value", "description"),
    [
        (
            "subject_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
            f"subject_token_type must be {ID_TOKEN}.",
        ),
        (
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
            f"requested_token_type must be {ID_JAG}.",
        ),
        ("audience", None, "The audience parameter is required."),
        ("subject_token", None, "The subject_token parameter is required."),
        ("requested_token_type", None, "The requested_token_type parameter is required."),
        ("actor_token", "x", "actor_token is not supported."),
    ],
)
async def test_malformed_exchange_is_invalid_request(
    jag_idp: Idp, field: str, value: str | None, description: str
) -> None:
    """RFC 8693 §2.1 / ID-JAG §4.3: required parameters and the fixed token types."""
    tokens = await jag_idp.tokens_for()
    form = _exchange_form(tokens["id_token"], **{field: value})
    r = await jag_idp.token(form, auth=AGENT)
    _assert_error(r, 400, "invalid_request", description)


async def test_id_token_issued_to_another_client_is_invalid_grant(make_idp: Callable[..., Idp]) -> None:
    """ID-JAG §4.3.3: the subject token's ``aud`` must be the authenticated client."""
    other = ClientConfig(client_id="other-app", client_secret=Secret("other"), redirect_uris=(REDIRECT_URI,))
    idp = make_idp(id_jag_settings(client=(AGENT_APP, PUBLIC_CLI, other)))
    tokens = await idp.tokens_for()  # aud = agent-app
    r = await idp.token(_exchange_form(tokens["id_token"]), auth=("other-app", "other"))
    _assert_error(r, 400, "invalid_grant", "The subject token is not a valid ID token issued to this client.")


async def test_expired_id_token_is_invalid_grant(jag_idp: Idp) -> None:
    """OIDC Core §3.1.3.7: an expired subject token is refused (60 s skew)."""
    tokens = await jag_idp.tokens_for()
    jag_idp.clock.advance(3600 + 61)
    r = await jag_idp.token(_exchange_form(tokens["id_token"]), auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "The subject token is not a valid ID token issued to this client.")


async def test_an_id_jag_presented_as_subject_token_is_invalid_grant(jag_idp: Idp) -> None:
    """RFC 8725 §3.11: ID tokens and ID-JAGs share keys, so ``typ`` keeps an ID-JAG from passing as an ID token."""
    tokens = await jag_idp.tokens_for()
    jag = (await jag_idp.token(_exchange_form(tokens["id_token"]), auth=AGENT)).json()["access_token"]
    r = await jag_idp.token(_exchange_form(jag), auth=AGENT)
    _assert_error(r, 400, "invalid_grant", "The subject token is not a valid ID token issued to this client.")


async def test_foreign_or_garbled_subject_token_is_invalid_grant(jag_idp: Idp, make_idp: Callable[..., Idp]) -> None:
    """A token signed by another IdP's key (same claims shape) or not a JWT at all is refused."""
    stranger = make_idp(id_jag_settings())
    foreign = (await stranger.tokens_for())["id_token"]
    for token in (foreign, "not.a.jwt", "x" * 20000):
        r = await jag_idp.token(_exchange_form(token), auth=AGENT)
        _assert_error(r, 400, "invalid_grant", "The subject token is not a valid ID token issued to this client.")


async def test_id_token_signed_before_rotation_is_still_exchanged(jag_idp: Idp) -> None:
    """The retiring key stays trusted for subject tokens until its tokens expire."""
    from idp_mock import rotate_keys

    tokens = await jag_idp.tokens_for()
    rotate_keys(jag_idp.app)
    r = await jag_idp.token(_exchange_form(tokens["id_token"]), auth=AGENT)
    assert r.status_code == 200


async def test_public_client_cannot_exchange(make_idp: Callable[..., Idp]) -> None:
    """EMA §7.7 / ID-JAG §9.1: token exchange requires client authentication."""
    idp = make_idp(id_jag_settings())
    code, verifier = await idp.code_for(client_id=PUBLIC_CLI_CLIENT_ID)
    redeem = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": PUBLIC_CLI_CLIENT_ID,
    }
    id_token = (await idp.token(redeem)).json()["id_token"]
    r = await idp.token({**_exchange_form(id_token), "client_id": PUBLIC_CLI_CLIENT_ID})
    _assert_error(r, 401, "invalid_client", "Token exchange requires client authentication.")


async def test_unauthenticated_exchange_is_invalid_client(jag_idp: Idp) -> None:
    tokens = await jag_idp.tokens_for()
    r = await jag_idp.token(_exchange_form(tokens["id_token"]))
    _assert_error(r, 401, "invalid_client", "Client authentication is required.")


def test_disabled_id_jag_keeps_ttl_default() -> None:
    assert IdpSettings().id_jag == IdJagSettings(enabled=False, audiences=(), ttl=300)
