"""Mock enterprise OIDC IdP for demos and tests.

Public API::

    from idp_mock import create_app, IdpSettings, login, rotate_keys
    app = create_app(IdpSettings())                       # built-in users alice/bob/carol, clients agent-app/public-cli
    tokens = await login(DEFAULT_ISSUER, "alice", AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET,
                         AGENT_APP_REDIRECT_URIS[0], http=httpx.AsyncClient(transport=httpx.ASGITransport(app)))
    rotate_keys(app)                                      # new kid; the old key stays in /jwks until its tokens expire
"""

from idp_mock.app import create_app, idp_context, rotate_keys
from idp_mock.client import LoginError, login
from idp_mock.errors import ConfigError
from idp_mock.jag import ID_JAG_TYP, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN
from idp_mock.settings import (
    AGENT_APP,
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    AGENT_APP_REDIRECT_URIS,
    ALICE,
    BOB,
    BROKER_CLIENT_ID,
    BROKER_RP,
    CAROL,
    DEFAULT_CLIENTS,
    DEFAULT_ISSUER,
    DEFAULT_USERS,
    PUBLIC_CLI,
    PUBLIC_CLI_CLIENT_ID,
    ClientConfig,
    IdJagSettings,
    IdpSettings,
    Secret,
    UserConfig,
    load_settings,
    parse_settings,
)

__all__ = [
    "AGENT_APP",
    "AGENT_APP_CLIENT_ID",
    "AGENT_APP_CLIENT_SECRET",
    "AGENT_APP_REDIRECT_URIS",
    "ALICE",
    "BOB",
    "CAROL",
    "BROKER_CLIENT_ID",
    "BROKER_RP",
    "DEFAULT_CLIENTS",
    "DEFAULT_ISSUER",
    "DEFAULT_USERS",
    "ID_JAG_TYP",
    "PUBLIC_CLI",
    "PUBLIC_CLI_CLIENT_ID",
    "TOKEN_TYPE_ID_JAG",
    "TOKEN_TYPE_ID_TOKEN",
    "ClientConfig",
    "ConfigError",
    "IdJagSettings",
    "IdpSettings",
    "LoginError",
    "Secret",
    "UserConfig",
    "create_app",
    "idp_context",
    "load_settings",
    "login",
    "parse_settings",
    "rotate_keys",
]
