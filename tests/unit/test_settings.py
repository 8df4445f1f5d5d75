"""Config is refused at start-up with errors naming the key path (STYLE P4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.errors import ConfigError
from broker.settings import Secret, load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[2]
BASE = 'public_url = "http://127.0.0.1:8000"\n'
IDP = '[[idp]]\nname = "acme"\nissuer = "https://login.acme.example"\n'


def refused(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, env=env or {})
    return str(info.value)


def test_example_configs_load() -> None:
    """deploy/config.example.toml and the README's example are loaded so they cannot rot."""
    for path in (ROOT / "deploy" / "config.example.toml", ROOT / "examples" / "broker.toml"):
        loaded = load_settings(path, env={"AGENT_APP_SECRET": "x" * 32})
        assert loaded.settings.idp


def test_unknown_key_is_refused_with_its_path() -> None:
    assert "$.idp[0]: Object contains unknown field `jwks_url`" in refused(BASE + IDP + 'jwks_url = "x"\n')


def test_wrong_type_names_the_path() -> None:
    msg = refused(BASE + IDP + 'algorithms = "RS256"\n')
    assert "$.idp[0].algorithms: Expected `array`, got `str`" in msg


def test_missing_field_names_the_table() -> None:
    assert "$.idp[0]: Object missing required field `issuer`" in refused(BASE + '[[idp]]\nname = "acme"\n')


@pytest.mark.parametrize("alg", ["HS256", "none", "HS512"])
def test_symmetric_and_none_algorithms_are_refused(alg: str) -> None:
    msg = refused(BASE + IDP + f'algorithms = ["RS256", "{alg}"]\n')
    assert f"$.idp[0].algorithms[1]: '{alg}' is not allowed" in msg


@pytest.mark.spec("L1-09", "MD-02")
def test_jwks_uri_must_be_https_except_loopback() -> None:
    msg = refused(BASE + IDP + 'jwks_uri = "http://login.acme.example/jwks"\n')
    assert "$.idp[0].jwks_uri: 'http://login.acme.example/jwks' must use https" in msg
    parse_settings(BASE + IDP + 'jwks_uri = "http://127.0.0.1:9000/jwks"\n', env={})


def test_plain_subjects_on_two_idps_are_refused() -> None:
    two = BASE + IDP + 'subject = "plain"\n[[idp]]\nname = "b"\nissuer = "https://b.example"\nsubject = "plain"\n'
    assert "$.idp[1].subject: 'plain' subjects on two IdPs" in refused(two)


def test_policy_reference_to_unknown_idp_client_or_resource_is_refused() -> None:
    text = (
        BASE
        + IDP
        + ('[[policy]]\nidp = "nope"\nclients = ["ghost"]\nresources = ["https://x.example/mcp"]\nscopes = ["a"]\n')
    )
    msg = refused(text)
    assert "$.policy[0].idp: no [[idp]] named 'nope'" in msg
    assert "$.policy[0].clients[0]: no [[client]] with client_id 'ghost'" in msg
    assert "$.policy[0].resources[0]: 'https://x.example/mcp' is not a [[resource]]" in msg


def test_client_needs_exactly_one_credential() -> None:
    msg = refused(BASE + '[[client]]\nclient_id = "pub"\n')
    assert "$.client[0]: give exactly one of client_secret_sha256, client_secret_env, jwks, jwks_uri" in msg


def test_missing_secret_env_var_is_named() -> None:
    msg = refused(BASE + '[[client]]\nclient_id = "a"\nclient_secret_env = "NOPE_SECRET"\n')
    assert "$.client[0].client_secret_env: environment variable 'NOPE_SECRET' is not set" in msg


def test_near_miss_resources_produce_a_warning() -> None:
    text = BASE + (
        '[[resource]]\nresource = "https://m.example/mcp"\nscopes = ["a"]\n'
        '[[resource]]\nresource = "https://m.example/mcp/"\nscopes = ["a"]\n'
    )
    warnings = parse_settings(text, env={}).warnings
    assert any("only by case or a trailing slash" in w for w in warnings)


def test_secret_repr_is_masked() -> None:
    s = Secret("hunter2-very-secret")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert s.reveal() == "hunter2-very-secret"


def test_issuers_derive_from_public_url() -> None:
    s = parse_settings(BASE, env={}).settings
    assert (s.idp_issuer, s.as_issuer) == ("http://127.0.0.1:8000/idp", "http://127.0.0.1:8000/as")


@pytest.mark.spec("L2-59")
def test_client_ids_cannot_collide_with_namespaced_subjects() -> None:
    """RFC 9700 §4.15.1: '|' is reserved for user subjects (acme|alice), so no client may claim one."""
    msg = refused(BASE + '[[client]]\nclient_id = "acme|alice"\nclient_secret_sha256 = "' + "0" * 64 + '"\n')
    assert "$.client[0].client_id: must be non-empty and must not contain '|'" in msg
