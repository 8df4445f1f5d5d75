"""Application factory: ``create_app(settings) -> Litestar``. No module-level singletons.

Every endpoint is served under the issuer's path, so ``issuer = "http://host/idp-mock"`` serves
``/idp-mock/authorize`` and ``/idp-mock/.well-known/openid-configuration`` (OIDC Discovery §4.1).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from idp_mock.admin import rotate_keys_endpoint
from idp_mock.authorize import authorize_get, authorize_post, login_submit
from idp_mock.context import STATE_KEY, IdpContext, build_context, context_of
from idp_mock.discovery import jwks, openid_configuration
from idp_mock.responses import http_exception_handler, unexpected_error_handler
from idp_mock.settings import IdpSettings, validate_settings
from idp_mock.token import token_endpoint
from idp_mock.userinfo import userinfo_get, userinfo_post

__all__ = ["create_app", "idp_context", "rotate_keys"]

_MAX_BODY_BYTES = 64 * 1024


def create_app(
    settings: IdpSettings,
    *,
    now: Callable[[], float] = time.time,
    env: Mapping[str, str] | None = None,
) -> Litestar:
    """Build the mock IdP.

    Args:
        settings: configuration (``IdpSettings()`` is the built-in demo set).
        now: clock for every expiry and timestamp (tests inject one).
        env: environment for ``*_env`` secret lookups (default ``os.environ``).

    Raises:
        ConfigError: the settings fail validation or name an unset environment variable.
    """
    validate_settings(settings, source="settings", env=env)
    ctx = build_context(settings, now=now, env=env)
    prefix = urlsplit(settings.issuer).path or "/"
    router = Router(
        path=prefix,
        route_handlers=[
            openid_configuration,
            jwks,
            authorize_get,
            authorize_post,
            login_submit,
            token_endpoint,
            userinfo_get,
            userinfo_post,
            rotate_keys_endpoint,
        ],
    )
    return Litestar(
        route_handlers=[router],
        state=State({STATE_KEY: ctx}),
        exception_handlers={HTTPException: http_exception_handler, Exception: unexpected_error_handler},
        request_max_body_size=_MAX_BODY_BYTES,
        openapi_config=None,
        # A library app: leave the host process's logging alone (the CLI configures it for ``serve``).
        logging_config=None,
        debug=False,
    )


def idp_context(app: Litestar) -> IdpContext:
    """The services of an app built by :func:`create_app` (keys, state, settings)."""
    return context_of(app.state)


def rotate_keys(app: Litestar) -> str:
    """Publish a new signing key and sign with it from now on.

    The previous key stays in the JWKS until the longest-lived token it signed has expired
    (``IdpSettings.max_token_lifetime``).

    Returns:
        The new ``kid``.
    """
    return idp_context(app).keys.rotate()
