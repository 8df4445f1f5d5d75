"""Config: frozen Structs from TOML, unknown keys refused, every error names its key path; the built-in set."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp_mock import (
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    AGENT_APP_REDIRECT_URIS,
    DEFAULT_ISSUER,
    PUBLIC_CLI_CLIENT_ID,
    ConfigError,
    IdpSettings,
    create_app,
    load_settings,
    parse_settings,
)

USER = 'username = "{name}"\nemail = "{name}@x.example"\nname = "{name}"\n'


def _users(*names: str, extra: str = "") -> str:
    return "".join("[[user]]\n" + USER.format(name=n) for n in names) + extra


def test_built_in_set_is_alice_bob_carol_and_two_clients() -> None:
    s = IdpSettings()
    assert s.issuer == DEFAULT_ISSUER == "http://127.0.0.1:9000"
    assert {u.username: u.groups for u in s.user} == {
        "alice": ("engineering",),
        "bob": ("sales",),
        "carol": ("engineering", "admins"),
    }
    clients = {c.client_id: c for c in s.client}
    agent = clients[AGENT_APP_CLIENT_ID]
    assert agent.client_secret is not None
    assert agent.client_secret.reveal() == AGENT_APP_CLIENT_SECRET == "agent-app-secret"
    assert agent.redirect_uris == AGENT_APP_REDIRECT_URIS
    assert AGENT_APP_REDIRECT_URIS == ("http://127.0.0.1:8765/callback", "http://localhost:8765/callback")
    assert clients[PUBLIC_CLI_CLIENT_ID].public


def test_secrets_never_show_in_repr() -> None:
    s = parse_settings('admin_token = "admin-s3cret"\n')
    assert "admin-s3cret" not in repr(s)
    assert AGENT_APP_CLIENT_SECRET not in repr(s)


def test_a_file_with_only_id_jag_keeps_the_built_in_users_and_clients() -> None:
    s = parse_settings('[id_jag]\nenabled = true\naudiences = ["http://127.0.0.1:8000/as"]\n')
    assert [u.username for u in s.user] == ["alice", "bob", "carol"]
    assert s.id_jag.enabled
    assert s.max_token_lifetime == 3600 + 60


def test_full_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "idp.toml"
    path.write_text(
        'issuer = "https://idp.acme.example"\nsigning_alg = "ES256"\n'
        + _users("dave")
        + '[[client]]\nclient_id = "app"\nclient_secret_env = "APP_SECRET"\n'
        'redirect_uris = ["https://app.example/cb"]\n'
        'id_jag_client_ids = { "https://as.example" = "app-at-as" }\n'
    )
    s = load_settings(path, env={"APP_SECRET": "x"})
    assert s.signing_alg == "ES256"
    assert s.user[0].subject == "dave"
    assert s.client[0].id_jag_client_ids == {"https://as.example": "app-at-as"}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("isuser = 'typo'\n", "$: Object contains unknown field `isuser`"),
        (_users("a") + '[[user]]\nusername = "b"\nemail = "e"\nname = "n"\ngroups = "x"\n', "$.user[1].groups"),
        (_users("a") + "favourite = 1\n", "$.user[0]: Object contains unknown field `favourite`"),
        ('signing_alg = "HS256"\n', "$.signing_alg"),
        ("[id_jag]\nenabled = true\n", "$.id_jag.audiences: name at least one audience"),
        (_users("a", "a"), "$.user[1].username: duplicate of $.user[0].username"),
        ('issuer = "http://127.0.0.1:9000/"\n', "$.issuer: 'http://127.0.0.1:9000/' must not end with '/'"),
        ("code_ttl = 601\n", "$.code_ttl: must be at most 600 seconds"),
        (
            '[[client]]\nclient_id = "c"\nredirect_uris = ["http://127.0.0.1/cb"]\n',
            "$.client[0]: a confidential client needs exactly one of client_secret, client_secret_env",
        ),
        (
            '[[client]]\nclient_id = "c"\npublic = true\nclient_secret = "s"\nredirect_uris = ["http://127.0.0.1/cb"]\n',
            "$.client[0].public: a public client has no secret",
        ),
        (
            '[[client]]\nclient_id = "c"\nclient_secret = "s"\nredirect_uris = ["http://app.example/cb"]\n',
            "$.client[0].redirect_uris[0]: 'http://app.example/cb' must use https",
        ),
        (
            '[[client]]\nclient_id = "c"\nclient_secret = "s"\nredirect_uris = ["https://app.example/cb#frag"]\n',
            "$.client[0].redirect_uris[0]: 'https://app.example/cb#frag' must be an absolute URI without a fragment",
        ),
        (
            '[[client]]\nclient_id = "c"\nclient_secret_env = "NOPE"\nredirect_uris = ["https://a.example/cb"]\n',
            "$.client[0].client_secret_env: environment variable 'NOPE' is not set",
        ),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_naming_the_key_path(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_settings(toml, env={})
    assert str(err.value).startswith("idp.toml: ")
    assert message in str(err.value)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")


def test_create_app_validates_settings_built_in_code() -> None:
    with pytest.raises(ConfigError, match=r"\$\.code_ttl: must be > 0"):
        create_app(IdpSettings(code_ttl=0), env={})


def test_the_example_config_loads() -> None:
    """``idp_mock/idp.example.toml`` stays valid (STYLE P4)."""
    s = load_settings(
        Path(__file__).resolve().parents[2] / "idp_mock" / "idp.example.toml", env={"AGENT_APP_SECRET": "x"}
    )
    assert [u.subject for u in s.user] == ["alice", "00u-dave"]
    assert s.client[0].id_jag_client_ids == {"http://127.0.0.1:8000/as": "agent-1"}
    assert s.id_jag.enabled
