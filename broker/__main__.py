"""Command line: ``python -m broker serve|check-config|rotate-keys`` (also the ``xaa-broker`` script)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from broker.errors import ConfigError
from broker.settings import BrokerSettings, LoadedSettings, load_settings

__all__ = ["main", "trust_summary"]


def trust_summary(loaded: LoadedSettings) -> str:
    """A human summary of the trust configuration; secrets are never shown, only how they are held."""
    s: BrokerSettings = loaded.settings
    state = f"redis {s.redis.mode}" if s.redis_url or s.redis.mode == "sentinel" else "in-process (one instance)"
    audit = "the xaa.audit logger" if s.audit.output == "logging" else f"{s.audit.output}, one JSON line each"
    lines = [
        f"leg 1 issuer (ID-JAG):      {s.idp_issuer}",
        f"leg 2 issuer (access token): {s.as_issuer}",
        f"state: {state}",
        f"ID-JAG single use: {s.id_jag_reuse}; ID-JAG ttl {s.id_jag_ttl}s; access token ttl {s.access_token_ttl}s",
        f"audit log: {audit}",
        "",
        "IdPs:",
    ]
    for idp in s.idp:
        keys = "inline JWKS" if idp.jwks else (idp.jwks_uri or "discovered from issuer")
        native = ", also native ID-JAG issuer" if idp.id_jag_issuer else ""
        login = (
            f"; sign-in through the broker as {idp.login.client_id} (domains: {', '.join(idp.login.domains) or '-'})"
            if idp.login
            else ""
        )
        head = f"  {idp.name}: {idp.issuer} [{', '.join(idp.algorithms)}] keys: {keys}"
        lines.append(f"{head}; subject {idp.subject}{native}{login}")
    lines.append("Clients:")
    for c in s.client:
        how = (
            "public (PKCE only)"
            if c.public
            else "secret (sha256)"
            if c.client_secret_sha256
            else f"secret from ${c.client_secret_env}"
            if c.client_secret_env
            else "private_key_jwt"
        )
        redirects = f"; redirect URIs {' '.join(c.redirect_uris)}" if c.redirect_uris else ""
        consent = "; consent page" if c.consent else ""
        lines.append(f"  {c.client_id}: {how}; IdP client id {c.id_token_audience or '-'}{redirects}{consent}")
    lines.append("Resources:")
    for r in s.resource:
        lines.append(f"  {r.resource}: scopes {' '.join(r.scopes)}; token ttl {r.token_ttl}s")
    for e in s.external_as:
        lines.append(f"  external AS {e.issuer}: {' '.join(e.resources) or '(no resources listed)'}")
    it = s.interactive
    if it.enabled:
        cimd = "accepted" if it.client_id_metadata_documents else "not accepted"
        refresh = f"refresh tokens {it.refresh_token_ttl}s idle" if it.refresh_tokens else "no refresh tokens"
        lines.append(
            f"Interactive fallback: on at {s.as_issuer}/authorize; {refresh}; metadata-document clients {cimd}"
        )
    lines.append("Policy:")
    for i, p in enumerate(s.policy):
        groups = f" if in groups {', '.join(p.groups)}" if p.groups else ""
        targets = ", ".join(p.resources)
        lines.append(f"  [{i}] {p.idp} users via {', '.join(p.clients)} -> {targets}: {' '.join(p.scopes)}{groups}")
    for w in loaded.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)


def _load(path: str) -> LoadedSettings:
    try:
        return load_settings(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="xaa-broker", description="Cross-App Access (ID-JAG) token broker")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the broker")
    serve.add_argument("--config", required=True, help="broker TOML config")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn workers (needs redis_url when > 1)")
    serve.add_argument("--log-level", default="info")
    check = sub.add_parser("check-config", help="validate a config and print the trust summary")
    check.add_argument("config")
    rotate = sub.add_parser("rotate-keys", help="publish the next signing key and switch to it")
    rotate.add_argument("--config", required=True)
    rotate.add_argument("--role", choices=["idp", "as", "both"], default="both")
    args = parser.parse_args(argv)

    if args.command == "check-config":
        print(trust_summary(_load(args.config)))
        return 0
    if args.command == "rotate-keys":
        from broker.keys import rotate_keys

        s = _load(args.config).settings
        retire_after = max(s.id_jag_ttl, s.access_token_ttl, *(r.token_ttl for r in s.resource)) + s.clock_skew
        for role in ("idp", "as") if args.role == "both" else (args.role,):
            ring = rotate_keys(Path(s.keys_dir), role, s.signing_alg, retire_after=retire_after)
            print(f"{role}: now signing with kid {ring.kid}")
        return 0
    loaded = _load(args.config)
    if args.workers > 1 and loaded.settings.redis_url is None and loaded.settings.redis.mode != "sentinel":
        print("error: --workers > 1 needs redis_url (the in-process store is per process)", file=sys.stderr)
        return 2
    import uvicorn

    from broker.app import CONFIG_ENV

    os.environ[CONFIG_ENV] = str(Path(args.config).resolve())
    os.environ["XAA_LOG_LEVEL"] = args.log_level.upper()
    uvicorn.run(
        "broker.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
