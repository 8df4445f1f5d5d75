"""``python -m broker.client exchange|decode``: the agent client for operators debugging trust.

    exchange  ID token -> ID-JAG (leg 1), -> access token (both legs), or the one-call shortcut;
              prints what came back decoded and verified against the issuing role's JWKS.
    decode    header and claims of any JWT; verified only with --jwks-uri, and always says which.

The client secret comes from an environment variable (``--client-secret-env``, default
``XAA_CLIENT_SECRET``), never from the command line where ``ps`` would show it.
Exit codes: 0 ok, 1 the broker refused (the OAuth error is printed), 2 usage or transport error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from broker.client.agent import AuthMethod, BrokerClient, Credentials, IssuedToken
from broker.client.errors import BrokerError, TokenRequestError
from broker.client.inspect import fetch_jwks, inspect_token, render
from broker.core.jose import TokenInvalid

__all__ = ["main"]


def _read_token(value: str) -> str:
    """``-`` reads stdin, ``@path`` reads a file, anything else is the token itself."""
    if value == "-":
        return sys.stdin.read().strip()
    if value.startswith("@"):
        return Path(value[1:]).read_text().strip()
    return value.strip()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m broker.client", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("exchange", help="exchange an ID token at the broker")
    ex.add_argument("--broker", default="http://127.0.0.1:8000", help="the broker's public_url")
    ex.add_argument("--client-id", required=True)
    ex.add_argument("--client-secret-env", default="XAA_CLIENT_SECRET", help="variable holding the secret")
    ex.add_argument("--auth", choices=["basic", "post"], default="basic", help="client_secret_basic or _post")
    ex.add_argument("--id-token", required=True, help="the token, '-' for stdin, or @file")
    ex.add_argument("--resource", required=True, help="the MCP server's resource URL (RFC 8707)")
    ex.add_argument("--scope", default=None, help="space-separated scopes (default: all that policy allows)")
    ex.add_argument("--audience", default=None, help="ID-JAG audience (default: the broker's /as issuer)")
    ex.add_argument(
        "--to",
        choices=["id-jag", "access-token", "shortcut"],
        default="access-token",
        help="stop after leg 1, run both legs, or use the one-call shortcut",
    )
    ex.add_argument("--raw", action="store_true", help="print only the final token (for scripts)")
    de = sub.add_parser("decode", help="decode a JWT; verify it with --jwks-uri")
    de.add_argument("token", help="the token, '-' for stdin, or @file")
    de.add_argument("--jwks-uri", default=None, help="verify the signature with this JWKS")
    return p


async def _report(http: httpx.AsyncClient, title: str, issued: IssuedToken, jwks_uri: str) -> str:
    try:
        keys = await fetch_jwks(http, jwks_uri)
        inspection = inspect_token(issued.token, keys, source=jwks_uri)
    except ValueError as exc:
        inspection = inspect_token(issued.token)
        inspection = type(inspection)(inspection.header, inspection.claims, False, f"NOT verified: {exc}")
    meta = (
        f"token_type={issued.token_type} issued_token_type={issued.issued_token_type} scope={' '.join(issued.scopes)}"
    )
    return render(inspection, now=time.time(), title=f"{title} ({meta})")


async def _exchange(args: argparse.Namespace) -> int:
    secret = os.environ.get(args.client_secret_env)
    if not secret:
        print(f"error: set the client secret in ${args.client_secret_env}", file=sys.stderr)
        return 2
    scopes = args.scope.split() if args.scope else None
    id_token = _read_token(args.id_token)
    method: AuthMethod = "client_secret_post" if args.auth == "post" else "client_secret_basic"
    base = args.broker.rstrip("/")
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = BrokerClient(
            idp_issuer=f"{base}/idp",
            as_issuer=f"{base}/as",
            credentials=Credentials(args.client_id, secret, method),
            http=http,
        )
        steps: list[tuple[str, IssuedToken, str]] = []
        try:
            if args.to == "shortcut":
                at = await client.exchange_for_access_token(id_token, resource=args.resource, scopes=scopes)
                steps.append(("access token (shortcut)", at, f"{client.as_issuer}/jwks"))
            else:
                jag = await client.request_id_jag(
                    id_token, resource=args.resource, scopes=scopes, audience=args.audience
                )
                steps.append(("ID-JAG (leg 1)", jag, f"{client.idp_issuer}/jwks"))
                if args.to == "access-token":
                    at = await client.redeem_id_jag(jag.token, resource=args.resource)
                    steps.append(("access token (leg 2)", at, f"{client.as_issuer}/jwks"))
        except TokenRequestError as exc:
            print(f"refused: HTTP {exc.status} {exc.error}: {exc.description or ''}", file=sys.stderr)
            return 1
        except BrokerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.raw:
            print(steps[-1][1].token)
            return 0
        for title, issued, jwks_uri in steps:
            print(await _report(http, title, issued, jwks_uri))
            print(f"token: {issued.token}\n")
    return 0


async def _decode(args: argparse.Namespace) -> int:
    token = _read_token(args.token)
    try:
        if args.jwks_uri is None:
            print(render(inspect_token(token), now=time.time()))
            return 0
        async with httpx.AsyncClient(timeout=10.0) as http:
            keys = await fetch_jwks(http, args.jwks_uri)
        inspection = inspect_token(token, keys, source=args.jwks_uri)
    except TokenInvalid as exc:
        print(f"error: not a JWT: {exc.reason}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(render(inspection, now=time.time()))
    return 0 if inspection.verified else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    runner = _exchange if args.command == "exchange" else _decode
    return asyncio.run(runner(args))


if __name__ == "__main__":
    sys.exit(main())
