"""Command line: ``python -m idp_mock serve|login``.

``serve`` runs the mock IdP with uvicorn (one process: its state is in memory). ``login`` performs
the real authorization code + PKCE flow against a running IdP and prints only the ID token on stdout,
so ``ID_TOKEN=$(python -m idp_mock login --user alice --client agent-app)`` works in scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import httpx
import msgspec

from idp_mock.errors import ConfigError
from idp_mock.settings import (
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    AGENT_APP_REDIRECT_URIS,
    DEFAULT_ISSUER,
    IdpSettings,
    load_settings,
)

__all__ = ["main"]

SECRET_ENV = "IDP_MOCK_CLIENT_SECRET"
"""Environment variable ``login`` reads the client secret from when ``--secret`` is not given."""


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from idp_mock.app import create_app

    try:
        settings = load_settings(args.config) if args.config else IdpSettings()
        if args.issuer:
            settings = msgspec.structs.replace(settings, issuer=args.issuer)
        elif settings.issuer == DEFAULT_ISSUER and (args.host, args.port) != ("127.0.0.1", 9000):
            # The default issuer follows the listener so discovery URLs are reachable.
            settings = msgspec.structs.replace(settings, issuer=f"http://{args.host}:{args.port}")
        app = create_app(settings)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s:     %(name)s: %(message)s"
    )
    print(f"idp_mock: issuer {settings.issuer}", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return 0


def _login(args: argparse.Namespace) -> int:
    from idp_mock.client import LoginError, login

    secret = args.secret or os.environ.get(SECRET_ENV)
    if secret is None and args.client == AGENT_APP_CLIENT_ID and not args.public:
        secret = AGENT_APP_CLIENT_SECRET  # the built-in demo client
    try:
        body = asyncio.run(
            login(
                args.issuer,
                args.user,
                args.client,
                None if args.public else secret,
                args.redirect_uri,
                scope=args.scope,
            )
        )
    except LoginError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, httpx.TransportError) as exc:
        print(f"error: cannot reach {args.issuer}: {exc}", file=sys.stderr)
        return 1
    print(body["id_token"])
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m idp_mock", description="Mock enterprise OIDC identity provider")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the IdP")
    serve.add_argument("--config", help="idp.toml (default: built-in users and clients)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=9000)
    serve.add_argument("--issuer", help="issuer URL (default: from config, else http://HOST:PORT)")
    serve.add_argument("--log-level", default="info")
    login = sub.add_parser("login", help="sign a user in (auth code + PKCE) and print the ID token")
    login.add_argument("--user", required=True, help="username (sent as login_hint)")
    login.add_argument("--client", default=AGENT_APP_CLIENT_ID, help="client_id")
    login.add_argument("--secret", help=f"client secret (else ${SECRET_ENV}; built-in for {AGENT_APP_CLIENT_ID})")
    login.add_argument("--public", action="store_true", help="public client: send no secret")
    login.add_argument("--issuer", default=DEFAULT_ISSUER)
    login.add_argument("--redirect-uri", default=AGENT_APP_REDIRECT_URIS[0])
    login.add_argument("--scope", default="openid profile email groups")
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _login(args)


if __name__ == "__main__":
    sys.exit(main())
