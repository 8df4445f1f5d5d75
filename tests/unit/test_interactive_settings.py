"""The interactive fallback's configuration is refused at start-up when it could not work or is unsafe."""

from __future__ import annotations

import pytest

from broker.errors import ConfigError
from broker.settings import parse_settings

BASE = 'public_url = "http://127.0.0.1:8000"\n'
IDP = '[[idp]]\nname = "acme"\nissuer = "https://login.acme.example"\n'
LOGIN = '[idp.login]\nclient_id = "xaa-broker"\ndomains = ["acme.example"]\n'
ON = "[interactive]\nenabled = true\n"
DESKTOP = (
    '[[client]]\nclient_id = "desk"\npublic = true\ngrant_types = ["authorization_code", "refresh_token"]\n'
    'redirect_uris = ["http://127.0.0.1/cb"]\n'
)


def refused(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env=env or {})
    return str(info.value)


def test_a_public_interactive_client_loads() -> None:
    loaded = parse_settings(BASE + IDP + LOGIN + DESKTOP + ON, env={})
    assert loaded.settings.client[0].public


def test_a_public_client_may_not_use_the_sep_990_grants() -> None:
    """EMA §7.7 / DESIGN OQ-14: token exchange and jwt-bearer stay confidential."""
    text = DESKTOP.replace(
        '"authorization_code", "refresh_token"', '"authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer"'
    )
    assert "$.client[0].grant_types: a public client may use only" in refused(BASE + IDP + LOGIN + text + ON)


def test_a_public_client_has_no_credentials() -> None:
    text = DESKTOP + 'client_secret_sha256 = "' + "a" * 64 + '"\n'
    assert "$.client[0]: a public client has no credentials" in refused(BASE + IDP + LOGIN + text + ON)


def test_the_code_grant_needs_redirect_uris() -> None:
    text = DESKTOP.replace('redirect_uris = ["http://127.0.0.1/cb"]\n', "")
    assert "$.client[0].redirect_uris: required for the authorization_code grant" in refused(
        BASE + IDP + LOGIN + text + ON
    )


@pytest.mark.parametrize(
    "uri",
    ["https://app.example/cb#x", "http://app.example/cb", "javascript:alert(1)", "data:text/html,x", "cb"],
)
def test_unsafe_redirect_uris_are_refused(uri: str) -> None:
    text = DESKTOP.replace("http://127.0.0.1/cb", uri)
    assert "$.client[0].redirect_uris[0]:" in refused(BASE + IDP + LOGIN + text + ON)


def test_a_private_use_scheme_redirect_uri_is_accepted() -> None:
    """RFC 8252 §7.1: native apps may use a reverse-domain private-use scheme."""
    parse_settings(BASE + IDP + LOGIN + DESKTOP.replace("http://127.0.0.1/cb", "com.example.app:/cb") + ON, env={})


def test_interactive_grants_need_the_fallback_enabled() -> None:
    msg = refused(BASE + IDP + LOGIN + DESKTOP)
    assert "$.client[0].grant_types: interactive grants need [interactive] enabled = true" in msg


def test_enabling_the_fallback_needs_an_idp_users_can_sign_in_at() -> None:
    assert "$.interactive.enabled: no [[idp]] has a [idp.login] table" in refused(BASE + IDP + ON)


def test_the_login_scopes_must_include_openid() -> None:
    text = LOGIN + 'scopes = ["email"]\n'
    assert "$.idp[0].login.scopes: must include 'openid'" in refused(BASE + IDP + text + ON)


def test_the_login_secret_must_be_in_the_environment() -> None:
    text = LOGIN + 'client_secret_env = "IDP_SECRET"\n'
    assert "$.idp[0].login.client_secret_env: environment variable 'IDP_SECRET' is not set" in refused(
        BASE + IDP + text + ON
    )
    parse_settings(BASE + IDP + text + ON, env={"IDP_SECRET": "s"})


def test_a_domain_maps_to_one_idp_only() -> None:
    second = '[[idp]]\nname = "b"\nissuer = "https://b.example"\n' + LOGIN
    assert "$.idp[1].login.domains[0]: 'acme.example' already maps to $.idp[0]" in refused(
        BASE + IDP + LOGIN + second + ON
    )


def test_codes_live_at_most_ten_minutes() -> None:
    """RFC 6749 §4.1.2: a maximum authorization code lifetime of 10 minutes is RECOMMENDED."""
    assert "$.interactive.code_ttl: must be between 1 and 600" in refused(BASE + IDP + LOGIN + ON + "code_ttl = 601\n")


def test_policy_may_name_a_metadata_document_client_only_when_documents_are_on() -> None:
    policy = (
        '[[resource]]\nresource = "https://mcp.example/a"\nscopes = ["a.read"]\n'
        '[[policy]]\nidp = "acme"\nclients = ["https://app.example/client.json"]\n'
        'resources = ["https://mcp.example/a"]\nscopes = ["a.read"]\n'
    )
    assert "no [[client]] with client_id 'https://app.example/client.json'" in refused(BASE + IDP + LOGIN + policy + ON)
    parse_settings(BASE + IDP + LOGIN + policy + ON + "client_id_metadata_documents = true\n", env={})
