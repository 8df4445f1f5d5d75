"""Command line: ``python -m mcp_server serve|check-config`` (the sample MCP deployment)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mcp_server.errors import ConfigError
from mcp_server.settings import McpSettings, load_settings, validate_settings

__all__ = ["main", "summary"]

CONFIG_ENV = "XAA_MCP_CONFIG"


def summary(settings: McpSettings) -> str:
    """What the deployment serves and whom it trusts (no secrets: only the variable name)."""
    b = settings.broker
    revocation = (
        f"introspection at {b.introspection_endpoint} as {b.introspection.client_id}"
        if b.revocation_check == "introspect" and b.introspection
        else "none (tokens live until exp)"
    )
    lines = [
        f"origin: {settings.origin}",
        f"broker issuer: {b.issuer} [{', '.join(b.algorithms)}] keys: {b.resolved_jwks_uri}",
        f"revocation check: {revocation}",
        "services:",
    ]
    for s in settings.services():
        lines.append(f"  {s.name} ({s.kind}): {s.resource}  scopes {s.read_scope} {s.write_scope}")
    return "\n".join(lines)


def _load(path: str | None) -> McpSettings:
    try:
        if path is None:
            settings = McpSettings()
            validate_settings(settings, source="(built-in defaults)")
            return settings
        return load_settings(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def app_from_env() -> object:
    """Uvicorn factory: the app for the config named by ``XAA_MCP_CONFIG`` (defaults when unset)."""
    from mcp_server.app import create_app

    path = os.environ.get(CONFIG_ENV)
    settings = _load(path or None)
    overrides = {k: v for k, v in (("host", os.environ.get("XAA_MCP_HOST")),) if v}
    port = os.environ.get("XAA_MCP_PORT")
    if overrides or port:
        import msgspec

        settings = msgspec.structs.replace(settings, **overrides, **({"port": int(port)} if port else {}))
    return create_app(settings)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m mcp_server", description="Sample MCP deployment")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve every configured MCP service")
    serve.add_argument("--config", help="mcp.toml (default: calendar, documents, tickets on :8101)")
    serve.add_argument("--host", help="listen address (overrides the config)")
    serve.add_argument("--port", type=int, help="listen port (overrides the config)")
    check = sub.add_parser("check-config", help="validate a config and print what it serves")
    check.add_argument("config", nargs="?")
    args = parser.parse_args(argv)

    settings = _load(args.config)
    if args.command == "check-config":
        print(summary(settings))
        return 0
    import uvicorn

    if args.config:
        os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    if args.host:
        os.environ["XAA_MCP_HOST"] = args.host
    if args.port is not None:
        os.environ["XAA_MCP_PORT"] = str(args.port)
    uvicorn.run(
        "mcp_server.__main__:app_from_env",
        factory=True,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
