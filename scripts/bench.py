"""Benchmark the broker's token endpoint with wrk (issue 6). Not part of the test suite.

Starts a private redis-server, then for 1 and 2 uvicorn workers: the broker (Redis store) and a
no-op Litestar POST (the framework ceiling), and drives each path with wrk, every request carrying
a distinct pre-built body (ID-JAGs are single use):

    leg1       POST /idp/token  RFC 8693 ID token -> ID-JAG
    leg2       POST /as/token   RFC 7523 with IdP-signed (native) ID-JAGs -> access token
    shortcut   POST /as/token   RFC 8693 ID token -> access token, a new user per request (cache miss)
    cache-hit  POST /as/token   the same shortcut request again (served from the token cache)
    noop       POST /noop       Litestar form parse + JSON answer, same workers

Prints requests/s, p50/p95/p99, non-2xx answers and server CPU per request; writes JSON.
Usage: scripts/bench [--duration 10] [--connections 64] [--workers 1 2] [--json bench-results.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import ECKey

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "scripts" / "bench_support"
ISSUER = "https://login.bench.example"
RESOURCE = "https://mcp.bench.example/mcp"
CLIENT, SECRET = "bench-agent", "bench-secret"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a grant URN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """Utime + stime of ``pid`` and its live children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


class Idp:
    """An IdP double that signs ID tokens and native ID-JAGs with one ES256 key."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", private=True, parameters={"kid": "bench-1"})

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        return jwt.encode({"alg": "ES256", "kid": "bench-1", "typ": typ}, claims, self.key)

    def id_token(self, sub: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": sub, "aud": "bench-sso", "iat": now, "exp": now + 3600, "groups": ["eng"]}
        return self.sign(claims, "JWT")

    def id_jag(self, n: int, as_issuer: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": f"user-{n % 1000}",
            "aud": as_issuer,
            "client_id": CLIENT,
            "jti": f"bench-{now}-{n}",
            "iat": now,
            "exp": now + 600,
            "resource": RESOURCE,
            "scope": "bench.read",
        }
        return self.sign(claims, "oauth-id-jag+jwt")


def config(idp: Idp, public_url: str, redis_url: str, keys_dir: Path) -> str:
    jwk = idp.key.as_dict(private=False)
    inline = "{ keys = [{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in jwk.items()) + " }] }"
    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    return f"""
public_url = "{public_url}"
redis_url = "{redis_url}"
keys_dir = "{keys_dir}"
access_token_ttl = 3600

[[idp]]
name = "bench"
issuer = "{ISSUER}"
algorithms = ["ES256"]
id_jag_issuer = true
jwks = {inline}

[[client]]
client_id = "{CLIENT}"
client_secret_sha256 = "{digest}"
id_token_audience = "bench-sso"

[[resource]]
resource = "{RESOURCE}"
scopes = ["bench.read", "bench.write"]
token_ttl = 3600

[[policy]]
idp = "bench"
clients = ["{CLIENT}"]
resources = ["{RESOURCE}"]
scopes = ["bench.read"]
"""


def bodies(path: str, idp: Idp, count: int, as_issuer: str) -> list[str]:
    base = {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "resource": RESOURCE}
    if path == "leg1":
        form = {
            **base,
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "subject_token": idp.id_token("alice"),
            "audience": as_issuer,
            "scope": "bench.read",
        }
        return [urlencode(form)]
    if path == "leg2":
        grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
        return [urlencode({"grant_type": grant, "assertion": idp.id_jag(n, as_issuer)}) for n in range(count)]
    shortcut = {
        **base,
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }
    if path == "cache-hit":
        return [urlencode({**shortcut, "subject_token": idp.id_token("alice")})]
    if path == "shortcut":
        return [urlencode({**shortcut, "subject_token": idp.id_token(f"u{n}")}) for n in range(count)]
    return ["a=1"]


def run_wrk(url: str, body_file: Path, threads: int, connections: int, duration: int, auth: str) -> dict[str, Any]:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s"]
    cmd += ["-s", str(SUPPORT / "cycle.lua"), url, "--", str(body_file), str(threads), auth]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    found = re.search(r"XAA-BENCH (\{.*\})", out)
    if found is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    result: dict[str, Any] = json.loads(found.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", default="bench-results.json")
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (Debian: apt-get install {tool})", file=sys.stderr)
            return 2
    import base64

    auth = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
    idp = Idp()
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}, "runs": []}
    with tempfile.TemporaryDirectory(prefix="xaa-bench-") as tmp:
        work = Path(tmp)
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_port(redis_port, redis, "redis-server")
            for workers in args.workers:
                results["runs"] += bench_workers(workers, idp, work, redis_port, auth, args)
        finally:
            stop(redis)
    print_table(results["runs"])
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")
    return 0


def bench_workers(
    workers: int, idp: Idp, work: Path, redis_port: int, auth: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    runs = []
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    cfg = work / f"broker-{workers}.toml"
    cfg.write_text(config(idp, public, f"redis://127.0.0.1:{redis_port}/0", work / "keys"))
    servers = {
        "broker": [sys.executable, "-m", "broker", "serve", "--config", str(cfg), "--port", str(port)],
        "noop": [sys.executable, "-m", "uvicorn", "--app-dir", str(SUPPORT), "noop:app", "--port", str(port)],
    }
    servers["broker"] += ["--workers", str(workers), "--log-level", "warning"]
    servers["noop"] += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    servers["noop"] += ["--loop", "uvloop", "--http", "httptools"]
    plan = {"broker": ["leg1", "leg2", "shortcut", "cache-hit"], "noop": ["noop"]}
    for server, paths in plan.items():
        log = (work / f"{server}-{workers}.log").open("wb")
        proc = subprocess.Popen(servers[server], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, proc, server)
            time.sleep(1.0 if workers > 1 else 0.3)  # let every worker bind and import
            for path in paths:
                count = 6000 * args.duration * workers
                body_file = work / f"{path}.txt"
                body_file.write_text("\n".join(bodies(path, idp, count, f"{public}/as")) + "\n")
                url = {"leg1": "/idp/token", "noop": "/noop"}.get(path, "/as/token")
                before = cpu_seconds(proc.pid)
                r = run_wrk(public + url, body_file, 2, args.connections, args.duration, auth)
                r["cpu_ms_per_request"] = (cpu_seconds(proc.pid) - before) * 1000 / max(r["requests"], 1)
                r.update(path=path, workers=workers)
                runs.append(r)
                print(f"  workers={workers} {path:<10} {r['rps']:8.0f} req/s  non-2xx {r['non_2xx']}", flush=True)
        finally:
            stop(proc)
            log.close()
    return runs


def print_table(runs: list[dict[str, Any]]) -> None:
    head = f"{'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'CPU ms/req':>10} {'non-2xx':>8}"
    print(f"\n{'workers':>7} {'path':<10} {head}")
    for r in runs:
        print(
            f"{r['workers']:>7} {r['path']:<10} {r['rps']:>8.0f} {r['p50_us'] / 1000:>7.2f} {r['p95_us'] / 1000:>7.2f}"
            f" {r['p99_us'] / 1000:>7.2f} {r['cpu_ms_per_request']:>10.3f} {r['non_2xx']:>8}"
        )
    for workers in sorted({r["workers"] for r in runs}):
        by = {r["path"]: r["rps"] for r in runs if r["workers"] == workers}
        if "noop" in by:
            ratios = ", ".join(
                f"{p} {by[p] / by['noop']:.0%}" for p in ("leg1", "leg2", "shortcut", "cache-hit") if p in by
            )
            print(f"workers={workers}: share of the no-op ceiling: {ratios}")


if __name__ == "__main__":
    sys.exit(main())
