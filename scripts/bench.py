"""Benchmark the broker's token endpoint against a peer and the machine's own ceiling (issue 6).

Not part of the test suite. Starts a private redis-server and a JWKS endpoint for the bench IdP, then,
for each worker count (default 1 and 2), the broker (Redis store), a no-op Litestar POST (the framework
ceiling) and FastMCP's ID-JAG redemption (the peer, in its own venv), and drives each path with wrk.
Every request carries a distinct pre-built body where the protocol demands it (ID-JAGs are single use):

    leg1         POST /idp/token  RFC 8693, a new ID token per request -> ID-JAG
    leg1-repeat  POST /idp/token  the same ID token each time (its signature check is remembered)
    leg2         POST /as/token   RFC 7523, a new IdP-signed ID-JAG (and user) per request -> minted token
    shortcut     POST /as/token   RFC 8693 ID token -> access token, a new user per request (cache miss)
    cache-hit    POST /as/token   the same shortcut request again (served from the token cache)
    noop         POST /noop       Litestar form parse + JSON answer (the ceiling)
    peer-leg2    POST /token      FastMCP OAuthProxy + IdentityAssertion redeeming the same kind of ID-JAG

Then, with the largest worker count: p99 at about half of each path's maximum rate (wrk paced by a Lua
delay), leg 2 with Hydra's published arguments (10,000 requests, 100 connections; wrk stopping after
10,000 because hey sends one fixed body and ID-JAGs are single use), ``hey -n 10000 -c 100`` itself on
the paths one fixed body can drive (leg 1 with a repeated ID token, which signs a new ID-JAG each time,
and the cache hit), and an MCP tool call on the sample deployment with and without token verification.

Prints a table, the ratios (ours / ceiling, ours / peer), the issue's floors (met or missed) and the
server CPU per request next to its crypto floor (the JOSE operations alone, timed in-process), and
writes everything as JSON. Each run records the 1-minute load average and the CPU used by processes
outside the benchmark (from /proc/stat); a run disturbed by other load is flagged.

Usage: scripts/bench [--duration 10] [--connections 64] [--workers 1 2] [--json bench-results.json]
                     [--no-peer] [--no-mcp] [--profile DIR]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, KeySetSerialization, OctKey

ROOT = Path(__file__).resolve().parents[1]
SUPPORT = ROOT / "scripts" / "bench_support"
PEER_VENV = ROOT / ".bench-peer"
PEER_REQUIREMENTS = ["fastmcp==4.2.3", "uvicorn[standard]>=0.54"]
ISSUER = "https://login.bench.example"
RESOURCE = "https://mcp.bench.example/mcp"
CLIENT, SECRET = "bench-agent", "bench-secret"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 (a grant URN)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
FORM = "application/x-www-form-urlencoded"
BROKER_PATHS = ["leg1", "leg1-repeat", "leg2", "shortcut", "cache-hit"]
OTHER_LOAD_WARN = 0.05
"""Flag a run when processes outside the benchmark used more than this share of the machine."""


# ---------------------------------------------------------------------------------------------- processes


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


def _children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


def tree(pid: int) -> list[int]:
    """``pid`` and its live children (uvicorn's workers)."""
    return [pid, *_children(pid)]


def cpu_seconds(pids: list[int]) -> float:
    """Utime + stime of ``pids`` from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def machine_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (/proc/stat, all CPUs)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


@contextmanager
def serve(cmd: list[str], port: int, what: str, log: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_port(port, proc, what)
            time.sleep(1.0)  # let every worker bind and import
            yield proc.pid
        finally:
            stop(proc)


def uvicorn_cmd(python: str, app: list[str], port: int, workers: int) -> list[str]:
    return [
        python, "-m", "uvicorn", *app, "--port", str(port), "--workers", str(workers), "--log-level", "warning",
        "--no-access-log", "--loop", "uvloop", "--http", "httptools",
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------------- tokens


class Idp:
    """An IdP double that signs ID tokens and native ID-JAGs with one ES256 key."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", private=True, parameters={"kid": "bench-1"})
        self.users = itertools.count()
        """Users are never reused across body files: a later run (half rate, rounds) must not hit the token cache."""

    def new_user(self) -> str:
        return f"user-{next(self.users)}"

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.key.as_dict(private=False), "kid": "bench-1", "use": "sig", "alg": "ES256"}]}

    def sign(self, claims: dict[str, Any], typ: str) -> str:
        return jwt.encode({"alg": "ES256", "kid": "bench-1", "typ": typ}, claims, self.key)

    def id_token(self, sub: str) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": sub, "aud": "bench-sso", "iat": now, "exp": now + 3600, "groups": ["eng"]}
        return self.sign(claims, "JWT")

    def id_jag(self, n: int, audience: str, resource: str) -> str:
        now = int(time.time())
        sub = self.new_user()  # a new user each time: every redemption mints (no access-token cache hit)
        claims = {
            "iss": ISSUER,
            "sub": sub,
            "aud": audience,
            "client_id": CLIENT,
            "jti": f"bench-{now}-{n}-{sub}",
            "iat": now,
            "exp": now + 300,  # FastMCP refuses ID-JAGs living longer than 300 s
            "resource": resource,
            "scope": "bench.read",
        }
        return self.sign(claims, "oauth-id-jag+jwt")


def config(idp: Idp, public_url: str, redis_url: str, keys_dir: Path, mcp_resource: str) -> str:
    jwk = idp.jwks()["keys"][0]
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

[[resource]]
resource = "{mcp_resource}"
scopes = ["calendar.read", "calendar.write"]
token_ttl = 3600

[[policy]]
idp = "bench"
clients = ["{CLIENT}"]
resources = ["{RESOURCE}", "{mcp_resource}"]
scopes = ["bench.read", "calendar.read"]
"""


def bodies(path: str, idp: Idp, count: int, as_issuer: str, peer_base: str = "") -> list[str]:
    base = {"subject_token_type": "urn:ietf:params:oauth:token-type:id_token", "resource": RESOURCE}
    if path in ("leg1", "leg1-repeat"):
        leg1 = {
            **base,
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "audience": as_issuer,
            "scope": "bench.read",
        }
        if path == "leg1-repeat":
            return [urlencode({**leg1, "subject_token": idp.id_token("alice")})]
        return [urlencode({**leg1, "subject_token": idp.id_token(idp.new_user())}) for _ in range(count)]
    if path == "leg2":
        return [
            urlencode({"grant_type": JWT_BEARER, "assertion": idp.id_jag(n, as_issuer, RESOURCE)}) for n in range(count)
        ]
    if path == "peer-leg2":
        peer_resource = f"{peer_base}/mcp"
        form = {"grant_type": JWT_BEARER, "client_id": CLIENT}
        return [urlencode({**form, "assertion": idp.id_jag(n, peer_base, peer_resource)}) for n in range(count)]
    shortcut = {
        **base,
        "grant_type": TOKEN_EXCHANGE,
        "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }
    if path == "cache-hit":
        return [urlencode({**shortcut, "subject_token": idp.id_token("alice")})]
    if path == "shortcut":
        return [urlencode({**shortcut, "subject_token": idp.id_token(idp.new_user())}) for _ in range(count)]
    return ["a=1"]


# ---------------------------------------------------------------------------------------------- crypto floor


def crypto_floor(idp: Idp) -> dict[str, float]:
    """µs of the JOSE operations alone (joserfc, one process, best of 5), summed per path."""
    claims = {"iss": ISSUER, "sub": "alice", "aud": "x", "iat": 1, "exp": 2**31, "jti": "j" * 24, "scope": "a b"}
    es = idp.sign(claims, "JWT")
    keys = KeySet.import_key_set(cast(KeySetSerialization, idp.jwks()))
    hs_key = OctKey.import_key(b"0" * 32)

    def best(fn: Callable[[], object], n: int = 2000) -> float:
        fn()
        times = []
        for _ in range(5):
            t0 = time.process_time()
            for _ in range(n):
                fn()
            times.append((time.process_time() - t0) / n * 1e6)
        return min(times)

    verify = best(lambda: jwt.decode(es, keys, algorithms=["ES256"]))
    sign = best(lambda: jwt.encode({"alg": "ES256", "kid": "bench-1", "typ": "at+jwt"}, claims, idp.key))
    sign_hs = best(lambda: jwt.encode({"alg": "HS256"}, claims, hs_key, algorithms=["HS256"]))
    return {
        "es256_verify": verify,
        "es256_sign": sign,
        "hs256_sign": sign_hs,
        "leg1": verify + sign,
        "leg1-repeat": sign,  # the ID token's signature check is remembered (SignatureCache)
        "leg2": verify + sign,
        "shortcut": verify + sign,
        "cache-hit": 0.0,  # repeated ID token: signature remembered; token from the cache
        "noop": 0.0,
        "peer-leg2": verify + sign_hs,
        "mcp-verified": verify,
        "mcp-unverified": 0.0,
    }


# ---------------------------------------------------------------------------------------------- wrk


@dataclass
class Load:
    """What the load generator sends."""

    url: str
    body_file: Path
    auth: str = ""
    content_type: str = FORM
    headers: str = ""
    connections: int = 64
    threads: int = 2
    duration: int = 10
    quota: int = 0
    """Stop after this many requests (0: run for ``duration``)."""
    gap_ms: float = 0.0
    """Mean pause between requests on one connection (0: as fast as possible)."""
    extra: dict[str, Any] = field(default_factory=dict)


class Meter:
    """CPU of the servers, of the load generator and of the whole machine over one run (from /proc)."""

    def __init__(self, servers: list[int]) -> None:
        self.servers = servers
        self.load1 = loadavg()
        self.busy0, self.wall0 = machine_busy_seconds(), time.monotonic()
        self.ours0 = cpu_seconds(servers)
        self.self0 = time.process_time()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.kids0 = kids.ru_utime + kids.ru_stime

    def finish(self, r: dict[str, Any], connections: int) -> None:
        """Add CPU per request, the generator's share and the load from outside the benchmark to ``r``."""
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        generator_cpu = kids.ru_utime + kids.ru_stime - self.kids0
        server_cpu = cpu_seconds(self.servers) - self.ours0
        wall = time.monotonic() - self.wall0
        busy = machine_busy_seconds() - self.busy0
        mine = server_cpu + generator_cpu + (time.process_time() - self.self0)
        ncpu = os.cpu_count() or 1
        r["cpu_us_per_request"] = server_cpu * 1e6 / max(r["requests"], 1)
        r["machine_cpu_us_per_request"] = busy * 1e6 / max(r["requests"], 1)
        r["wrk_cpu_share"] = generator_cpu / (wall * ncpu)
        r["other_load"] = max(busy - mine, 0.0) / (wall * ncpu)
        r["loadavg_1m"] = self.load1
        r["connections"] = connections


def run_wrk(load: Load, work: Path, servers: list[int]) -> dict[str, Any]:
    """One wrk run; returns its summary plus CPU per request and the load from outside the benchmark."""
    script = work / "wrk.lua"
    text = (SUPPORT / "cycle.lua").read_text()
    args = [str(load.body_file), str(load.threads), load.auth, load.content_type, load.headers]
    markers = work / "quota"
    if load.quota:
        shutil.rmtree(markers, ignore_errors=True)
        markers.mkdir()
        text += (SUPPORT / "quota.lua").read_text()
        args += [str(load.quota), str(markers)]
    elif load.gap_ms:
        text += (SUPPORT / "paced.lua").read_text()
        args += [f"{load.gap_ms:.3f}"]
    script.write_text(text)
    duration = 120 if load.quota else load.duration
    cmd = ["wrk", "-t", str(load.threads), "-c", str(load.connections), "-d", f"{duration}s", "--timeout", "5s"]
    cmd += ["-s", str(script), load.url, "--", *args]
    meter = Meter(servers)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    if load.quota:
        while proc.poll() is None and len(list(markers.iterdir())) < load.threads:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate()
    found = re.search(r"XAA-BENCH (\{.*\})", out)
    if found is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    r: dict[str, Any] = json.loads(found.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    if load.quota:
        spans = [line.split() for f in markers.iterdir() for line in [f.read_text()]]
        elapsed = (max(int(s[1]) for s in spans) - min(int(s[0]) for s in spans)) / 1e9
        r["requests"] = sum(int(s[2]) for s in spans)
        r["rps"] = r["requests"] / elapsed
    meter.finish(r, load.connections)
    r.update(load.extra)
    return r


def run_hey(load: Load, servers: list[int], requests: int = 10_000) -> dict[str, Any]:
    """``hey -n 10000 -c 100``: Hydra's published load-test arguments, one fixed body (its only mode)."""
    body = load.body_file.read_text().splitlines()[0]
    cmd = ["hey", "-n", str(requests), "-c", str(load.connections), "-m", "POST", "-T", load.content_type]
    if load.auth:
        cmd += ["-H", f"Authorization: {load.auth}"]
    cmd += ["-d", body, load.url]
    meter = Meter(servers)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)}
    if rps is None or not codes:
        raise SystemExit(f"hey printed no summary:\n{out}")
    r: dict[str, Any] = {
        "requests": sum(codes.values()),
        "rps": float(rps.group(1)),
        "non_2xx": sum(n for c, n in codes.items() if not 200 <= c < 300),
        "socket_errors": requests - sum(codes.values()),
    }
    for pct in (50, 95, 99):
        found = re.search(rf"\s{pct}% in ([\d.]+) secs", out)
        r[f"p{pct}_us"] = float(found.group(1)) * 1e6 if found else float("nan")
    meter.finish(r, load.connections)
    r.update(load.extra)
    return r


# ---------------------------------------------------------------------------------------------- runs


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.idp = Idp()
        self.auth = "Basic " + base64.b64encode(f"{CLIENT}:{SECRET}".encode()).decode()
        self.runs: list[dict[str, Any]] = []
        self.redis_pid = 0
        self.peer_python = ""
        self.results_extra: dict[str, Any] = {}

    def record(self, r: dict[str, Any]) -> None:
        self.runs.append(r)
        flag = "  (other load!)" if r["other_load"] > OTHER_LOAD_WARN else ""
        print(
            f"  w={r['workers']} {r['path']:<16} {r['rps']:8.0f} req/s  p99 {r['p99_us'] / 1000:6.1f} ms"
            f"  cpu {r['cpu_us_per_request']:5.0f} µs  non-2xx {r['non_2xx']}{flag}",
            flush=True,
        )

    def body_file(self, path: str, count: int, as_issuer: str, peer_base: str = "") -> Path:
        f = self.work / f"{path}.txt"
        f.write_text("\n".join(bodies(path, self.idp, count, as_issuer, peer_base)) + "\n")
        return f

    def count(self, workers: int) -> int:
        return 4500 * int(self.args.duration) * workers

    def broker(self, workers: int, redis_port: int) -> tuple[list[str], str, int, str]:
        port, mcp_port = free_port(), free_port()
        public = f"http://127.0.0.1:{port}"
        cfg = self.work / f"broker-{workers}.toml"
        mcp_resource = f"http://127.0.0.1:{mcp_port}/calendar/mcp"
        cfg.write_text(config(self.idp, public, f"redis://127.0.0.1:{redis_port}/0", self.work / "keys", mcp_resource))
        cmd = [sys.executable, "-m", "broker", "serve", "--config", str(cfg), "--port", str(port)]
        cmd += ["--workers", str(workers), "--log-level", os.environ.get("BENCH_BROKER_LOG_LEVEL", "info")]
        return cmd, public, mcp_port, mcp_resource

    def bench_workers(self, workers: int, redis_port: int, jwks_uri: str) -> None:
        cmd, public, mcp_port, mcp_resource = self.broker(workers, redis_port)
        as_issuer = f"{public}/as"
        best: dict[str, dict[str, Any]] = {}
        with serve(cmd, int(public.rsplit(":", 1)[1]), "broker", self.work / f"broker-{workers}.log") as pid:
            servers = [*tree(pid), self.redis_pid]
            for path in self.args.paths:
                url = public + ("/idp/token" if path.startswith("leg1") else "/as/token")
                body = self.body_file(path, self.count(workers), as_issuer)
                if path == "cache-hit":  # fill the cache first
                    run_wrk(Load(url, body, self.auth, connections=2, duration=1), self.work, servers)
                load = Load(url, body, self.auth, connections=self.args.connections, duration=self.args.duration)
                r = run_wrk(load, self.work, servers)
                r.update(path=path, workers=workers, server="broker")
                self.record(r)
                best[path] = r
                self.profile(path, workers, pid, load, servers)
            if workers == max(self.args.workers):
                if not self.args.no_extra and set(BROKER_PATHS) <= best.keys():
                    self.extra_runs(public, as_issuer, servers, best, workers)
                if not self.args.no_mcp:
                    self.mcp_runs(public, mcp_port, mcp_resource, workers)
            if not self.args.no_peer:
                with self.peer_server(workers, jwks_uri) as (peer_base, peer_pids):
                    self.run_peer(workers, peer_base, peer_pids)
                    if "leg2" in self.args.paths:
                        self.head_to_head(workers, public, servers, peer_base, peer_pids)
        if not self.args.no_noop:
            self.run_noop(workers)

    def head_to_head(self, workers: int, public: str, servers: list[int], peer_base: str, peer_pids: list[int]) -> None:
        """Leg 2 and the peer's redemption in alternation, ``--rounds`` times each, both servers up.

        One pair of runs on this machine moves by ±10 % from run to run; alternating them and taking
        the median of the per-round ratios compares the two under the same conditions.
        """
        for i in range(1, self.args.rounds + 1):
            for path, url, auth, pids, server in (
                ("leg2", f"{public}/as/token", self.auth, servers, "broker"),
                ("peer-leg2", f"{peer_base}/token", "", peer_pids, "fastmcp"),
            ):
                body = self.body_file(path, self.count(workers), f"{public}/as", peer_base)
                load = Load(url, body, auth, connections=self.args.connections, duration=self.args.duration)
                r = run_wrk(load, self.work, pids)
                r.update(path=f"{path}#{i}", workers=workers, server=server, round=i)
                self.record(r)

    def run_noop(self, workers: int) -> None:
        port = free_port()
        cmd = uvicorn_cmd(sys.executable, ["--app-dir", str(SUPPORT), "noop:app"], port, workers)
        with serve(cmd, port, "noop", self.work / f"noop-{workers}.log") as pid:
            body = self.body_file("noop", 1, "")
            load = Load(f"http://127.0.0.1:{port}/noop", body, connections=self.args.connections)
            load.duration = self.args.duration
            r = run_wrk(load, self.work, tree(pid))
            r.update(path="noop", workers=workers, server="litestar-noop")
            self.record(r)

    @contextmanager
    def peer_server(self, workers: int, jwks_uri: str) -> Iterator[tuple[str, list[int]]]:
        """FastMCP's redemption server (its own venv), trusting the bench IdP's JWKS; yields its base URL and pids."""
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(os.environ, BENCH_PEER_BASE_URL=base, BENCH_IDP_ISSUER=ISSUER, BENCH_CLIENT_ID=CLIENT)
        env.update(BENCH_IDP_JWKS_URI=jwks_uri, FASTMCP_LOG_LEVEL="WARNING", FASTMCP_HOME=str(self.work / "fastmcp"))
        cmd = uvicorn_cmd(self.peer_python, ["--app-dir", str(SUPPORT), "fastmcp_peer:app"], port, workers)
        with serve(cmd, port, "fastmcp peer", self.work / f"peer-{workers}.log", env=env) as pid:
            yield base, tree(pid)

    def run_peer(self, workers: int, base: str, pids: list[int]) -> None:
        body = self.body_file("peer-leg2", self.count(workers), "", base)
        load = Load(f"{base}/token", body, connections=self.args.connections, duration=self.args.duration)
        r = run_wrk(load, self.work, pids)
        r.update(path="peer-leg2", workers=workers, server="fastmcp")
        self.record(r)

    def extra_runs(
        self, public: str, as_issuer: str, servers: list[int], best: dict[str, dict[str, Any]], workers: int
    ) -> None:
        """Half-rate p99 for each path, then leg 2 with Hydra's arguments (10,000 requests, 100 connections)."""
        conns = 16
        for path in ("leg1", "leg2", "shortcut", "cache-hit"):
            url = public + ("/idp/token" if path.startswith("leg1") else "/as/token")
            target = best[path]["rps"] / 2
            body = self.body_file(path, self.count(workers), as_issuer)
            load = Load(url, body, self.auth, connections=conns, duration=self.args.duration)
            load.gap_ms = conns / target * 1000
            load.extra = {"target_rps": target}
            r = run_wrk(load, self.work, servers)
            r.update(path=f"{path}@half", workers=workers, server="broker")
            self.record(r)
        body = self.body_file("leg2", 12_000, as_issuer)
        load = Load(public + "/as/token", body, self.auth, connections=100, quota=10_000)
        r = run_wrk(load, self.work, servers)
        r.update(path="leg2-hydra-args", workers=workers, server="broker")
        self.record(r)
        if shutil.which("hey") is None:
            print("  (hey not installed: skipping the hey runs; Debian: apt-get install hey)")
            return
        # hey itself, with Hydra's arguments, where one fixed body is a valid request every time: leg 1
        # with the same ID token (a new ID-JAG signed per request, as client credentials mints one) and
        # the cache hit. Leg 2 cannot be driven by hey: 9,999 of its 10,000 ID-JAGs would be replays.
        for path in ("leg1-repeat", "cache-hit"):
            url = public + ("/idp/token" if path.startswith("leg1") else "/as/token")
            body = self.body_file(path, 1, as_issuer)
            r = run_hey(Load(url, body, self.auth, connections=100), servers)
            r.update(path=f"{path}-hey", workers=workers, server="broker")
            self.record(r)

    def mcp_runs(self, public: str, mcp_port: int, mcp_resource: str, workers: int) -> None:
        """An MCP tool call (whoami) with the broker's token, verified and with verification switched off."""
        import httpx

        form = {
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "subject_token": self.idp.id_token("alice"),
            "resource": mcp_resource,
            "scope": "calendar.read",
        }
        got = httpx.post(f"{public}/as/token", data=form, headers={"Authorization": self.auth}, timeout=10)
        got.raise_for_status()
        token = got.json()["access_token"]
        cfg = self.work / "mcp.toml"
        cfg.write_text(
            f'host = "127.0.0.1"\nport = {mcp_port}\nstateless = true\njson_response = true\nlog_level = "warning"\n'
            f'[broker]\nissuer = "{public}/as"\nalgorithms = ["ES256"]\n[[service]]\nname = "calendar"\n'
        )
        self.results_extra["mcp_verify_in_process_us"] = mcp_verify_in_process(token, public, cfg, mcp_resource)
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "whoami", "arguments": {}}}
        body = self.work / "mcp.txt"
        body.write_text(json.dumps(call) + "\n")
        headers = "Accept: application/json, text/event-stream;;MCP-Protocol-Version: 2025-11-25"
        env = dict(os.environ, XAA_MCP_CONFIG=str(cfg))
        apps = {
            "mcp-verified": ["--factory", "mcp_server.__main__:app_from_env"],
            "mcp-unverified": ["--app-dir", str(SUPPORT), "mcp_unverified:app"],
        }
        for name, app in apps.items():
            cmd = uvicorn_cmd(sys.executable, app, mcp_port, 1)
            with serve(cmd, mcp_port, name, self.work / f"{name}.log", env=env) as pid:
                url = mcp_resource
                load = Load(url, body, f"Bearer {token}", "application/json", headers, connections=16)
                load.duration = self.args.duration
                run_wrk(Load(url, body, f"Bearer {token}", "application/json", headers, 2, duration=1), self.work, [])
                r = run_wrk(load, self.work, tree(pid))
                r.update(path=name, workers=1, server="mcp_server")
                self.record(r)

    def profile(self, path: str, workers: int, pid: int, load: Load, servers: list[int]) -> None:
        """With --profile: a second run of ``path`` under py-spy (raw stacks of every worker), summarised."""
        if not self.args.profile or workers != 1:
            return
        spy = shutil.which("py-spy") or str(ROOT / ".venv" / "bin" / "py-spy")
        out = Path(self.args.profile) / f"{path}.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        rec = [
            spy,
            "record",
            "-p",
            str(pid),
            "--subprocesses",
            "-r",
            os.environ.get("BENCH_PYSPY_RATE", "200"),
            "-d",
            str(load.duration),
        ]
        proc = subprocess.Popen([*rec, "-f", "raw", "-o", str(out)], stdout=subprocess.DEVNULL)
        if path != "cache-hit":
            load.body_file = self.body_file(path, self.count(workers), load.url.rsplit("/", 2)[0] + "/as")
        run_wrk(load, self.work, servers)
        proc.wait()
        print(f"    profile of {path}: {out}; top frames by own time:")
        for share, frame in top_frames(out, 8):
            print(f"      {share:5.1%} {frame}")


def mcp_verify_in_process(token: str, public: str, cfg: Path, resource_url: str) -> float:
    """µs per ``check_access_token`` (the MCP servers' verification of a broker token), in this process."""
    import httpx

    from mcp_server.settings import load_settings
    from mcp_server.verifier import ServiceAccessTokenClaims, check_access_token

    trust = load_settings(cfg).broker
    keys = KeySet.import_key_set(httpx.get(f"{public}/as/jwks", timeout=10).json())
    claims = ServiceAccessTokenClaims(
        now=lambda: int(time.time()), leeway=30, issuer=trust.issuer, resource=resource_url
    )
    check_access_token(token, keys, trust=trust, claims=claims)
    n, best = 2000, float("inf")
    for _ in range(5):
        t0 = time.process_time()
        for _ in range(n):
            check_access_token(token, keys, trust=trust, claims=claims)
        best = min(best, (time.process_time() - t0) / n * 1e6)
    return best


def top_frames(raw: Path, n: int) -> list[tuple[float, str]]:
    counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, num = line.rpartition(" ")
        if not num.isdigit():
            continue
        total += int(num)
        leaf = stack.rsplit(";", 1)[-1]
        counts[leaf] = counts.get(leaf, 0) + int(num)
    return [(c / max(total, 1), f) for f, c in sorted(counts.items(), key=lambda kv: -kv[1])[:n]]


@contextmanager
def jwks_endpoint(doc: dict[str, Any]) -> Iterator[str]:
    """The bench IdP's JWKS over HTTP, for the peer (the broker has it inline)."""
    payload = json.dumps(doc).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()


def peer_python() -> str:
    """The peer's interpreter: a venv of its own (``.bench-peer``), so FastMCP never touches the project's."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != " ".join(PEER_REQUIREMENTS):
        print(f"installing the peer ({', '.join(PEER_REQUIREMENTS)}) into {PEER_VENV.name}/", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", *PEER_REQUIREMENTS]
        subprocess.run(pip, check=True, stdout=subprocess.DEVNULL)
        stamp.write_text(" ".join(PEER_REQUIREMENTS))
    return str(python)


# ---------------------------------------------------------------------------------------------- report


def by(runs: list[dict[str, Any]], workers: int) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in runs if r["workers"] == workers}


def base_path(path: str) -> str:
    """``leg2`` for ``leg2@half``, ``leg2#3``, ``leg2-hydra-args``; ``cache-hit`` for ``cache-hit-hey``."""
    return path.split("@")[0].split("#")[0].removesuffix("-hydra-args").removesuffix("-hey")


def print_table(runs: list[dict[str, Any]], floor: dict[str, float]) -> None:
    head = f"{'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'CPU µs/req':>10} {'crypto µs':>9} {'non-2xx':>8}"
    print(f"\n{'workers':>7} {'path':<16} {head} {'conns':>5} {'load1':>5} {'other':>6}")
    for r in runs:
        crypto = floor.get(base_path(r["path"]), float("nan"))
        flag = " !" if r["other_load"] > OTHER_LOAD_WARN else ""
        print(
            f"{r['workers']:>7} {r['path']:<16} {r['rps']:>8.0f} {r['p50_us'] / 1000:>7.2f} {r['p95_us'] / 1000:>7.2f}"
            f" {r['p99_us'] / 1000:>7.2f} {r['cpu_us_per_request']:>10.0f} {crypto:>9.0f} {r['non_2xx']:>8}"
            f" {r['connections']:>5} {r['loadavg_1m']:>5.2f} {r['other_load']:>6.1%}{flag}"
        )
    if any(r["other_load"] > OTHER_LOAD_WARN for r in runs):
        print(f"! = processes outside the benchmark used more than {OTHER_LOAD_WARN:.0%} of the machine: re-run")


def summarize(runs: list[dict[str, Any]], extra: dict[str, Any]) -> dict[str, Any]:
    """Ratios, derived figures and the issue's floors for the largest worker count."""
    out: dict[str, Any] = {"ratios": {}, "floors": []}
    for w in sorted({r["workers"] for r in runs if r["server"] != "mcp_server"}):
        b = by(runs, w)
        ratios: dict[str, float] = {}
        if "noop" in b:
            for p in (*BROKER_PATHS, "peer-leg2"):
                if p in b:
                    ratios[f"{p}/noop"] = b[p]["rps"] / b["noop"]["rps"]
        if "leg2" in b and "peer-leg2" in b:
            ratios["leg2/peer-leg2"] = b["leg2"]["rps"] / b["peer-leg2"]["rps"]
        rounds = sorted({r["round"] for r in runs if r["workers"] == w and "round" in r})
        if rounds:
            each = [b[f"leg2#{i}"]["rps"] / b[f"peer-leg2#{i}"]["rps"] for i in rounds]
            ratios["leg2/peer-leg2 head-to-head median"] = statistics.median(each)
            out.setdefault("head_to_head", {})[str(w)] = each
        if "leg1" in b and "leg2" in b:
            ratios["full_exchange_per_s"] = 1 / (1 / b["leg1"]["rps"] + 1 / b["leg2"]["rps"])
        out["ratios"][str(w)] = ratios
    w = max(r["workers"] for r in runs)
    b = by(runs, w)
    ratios = out["ratios"].get(str(w), {})

    def floor(name: str, value: float | None, ok: Callable[[float], bool], fmt: str) -> None:
        out["floors"].append({"floor": name, "value": value, "met": value is not None and ok(value), "fmt": fmt})

    def rps(p: str) -> float | None:
        return b[p]["rps"] if p in b else None

    floor("leg 1 >= 2,500 req/s", rps("leg1"), lambda v: v >= 2500, "{:,.0f} req/s")
    floor("leg 2 >= 1,800 req/s", rps("leg2"), lambda v: v >= 1800, "{:,.0f} req/s")
    floor(
        "full exchange (leg 1 + leg 2) >= 1,000/s", ratios.get("full_exchange_per_s"), lambda v: v >= 1000, "{:,.0f}/s"
    )
    floor("cache hit >= 3,500 req/s", rps("cache-hit"), lambda v: v >= 3500, "{:,.0f} req/s")
    floor("cache hit >= 40 % of no-op", ratios.get("cache-hit/noop"), lambda v: v >= 0.40, "{:.0%}")
    for p in ("leg1", "leg2", "shortcut", "cache-hit"):
        h = b.get(f"{p}@half")
        floor(f"{p} p99 <= 20 ms at half rate", h["p99_us"] / 1000 if h else None, lambda v: v <= 20, "{:.1f} ms")
    floor("leg 2, 10,000 req / 100 conns >= 1,000 req/s", rps("leg2-hydra-args"), lambda v: v >= 1000, "{:,.0f} req/s")
    floor(
        "leg 2 faster than FastMCP's redemption (one run each)",
        ratios.get("leg2/peer-leg2"),
        lambda v: v > 1,
        "{:.2f}x",
    )
    floor(
        "leg 2 faster than FastMCP's redemption (median of alternating rounds)",
        ratios.get("leg2/peer-leg2 head-to-head median"),
        lambda v: v > 1,
        "{:.2f}x",
    )
    mcp = by(runs, 1)
    if "mcp-verified" in mcp and "mcp-unverified" in mcp:
        added = mcp["mcp-verified"]["cpu_us_per_request"] - mcp["mcp-unverified"]["cpu_us_per_request"]
        extra["mcp_verify_added_cpu_us"] = added
    floor(
        "MCP verification < 1 ms per call (in-process)",
        extra.get("mcp_verify_in_process_us"),
        lambda v: v < 1000,
        "{:.0f} µs",
    )
    added = extra.get("mcp_verify_added_cpu_us")
    floor("MCP verification < 1 ms per call (server CPU diff)", added, lambda v: v < 1000, "{:.0f} µs")
    return out


def print_summary(summary: dict[str, Any], runs: list[dict[str, Any]]) -> None:
    for w, ratios in summary["ratios"].items():
        parts = [f"{k} {v:.0%}" if "/" in k else f"{k} {v:,.0f}" for k, v in ratios.items() if "peer-leg2" not in k]
        parts += [f"{k} {v:.2f}x" for k, v in ratios.items() if k.startswith("leg2/peer-leg2")]
        print(f"workers={w}: " + ", ".join(parts))
        if w in summary.get("head_to_head", {}):
            print("           leg2/peer-leg2 per round: " + ", ".join(f"{x:.2f}x" for x in summary["head_to_head"][w]))
    half = [r for r in runs if "@half" in r["path"]]
    if half:
        print(
            "half rate: "
            + ", ".join(f"{r['path']} target {r['target_rps']:.0f} got {r['rps']:.0f} req/s" for r in half)
        )
    hey = [r for r in runs if r["path"].endswith("-hey")]
    if hey:
        print(
            "hey -n 10000 -c 100 (Hydra's arguments; Hydra published 513 req/s for client credentials on 2 CPUs): "
            + ", ".join(f"{r['path']} {r['rps']:,.0f} req/s ({r['non_2xx']} non-2xx)" for r in hey)
        )
    print("\nfloors (issue 6; figures, not assertions):")
    for f in summary["floors"]:
        value = "n/a" if f["value"] is None else f["fmt"].format(f["value"])
        print(f"  [{'met' if f['met'] else 'MISSED' if f['value'] is not None else 'not run'}] {f['floor']}: {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", default="bench-results.json")
    parser.add_argument("--no-peer", action="store_true", help="skip FastMCP (it is installed into .bench-peer/)")
    parser.add_argument("--no-mcp", action="store_true", help="skip the MCP tool-call runs")
    parser.add_argument("--profile", metavar="DIR", help="also profile each broker path (1 worker) with py-spy")
    parser.add_argument("--paths", nargs="+", default=BROKER_PATHS, choices=BROKER_PATHS, help="broker paths to run")
    parser.add_argument("--no-extra", action="store_true", help="skip the half-rate and 10,000-request runs")
    parser.add_argument("--no-noop", action="store_true", help="skip the no-op ceiling")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating leg 2 / peer rounds after the single runs (0: none)"
    )
    args = parser.parse_args()
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (Debian: apt-get install {tool})", file=sys.stderr)
            return 2
    cpu_model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "?")  # fmt: skip
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "cpu": cpu_model, "python": sys.version.split()[0]},
        "command": " ".join(["scripts/bench", *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "loadavg_before": Path("/proc/loadavg").read_text().split()[:3],
    }
    with tempfile.TemporaryDirectory(prefix="xaa-bench-") as tmp:
        bench = Bench(args, Path(tmp))
        if not args.no_peer:
            bench.peer_python = peer_python()
        floor = crypto_floor(bench.idp)
        redis_port = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_port(redis_port, redis, "redis-server")
            bench.redis_pid = redis.pid
            with jwks_endpoint(bench.idp.jwks()) as jwks_uri:
                for workers in args.workers:
                    bench.bench_workers(workers, redis_port, jwks_uri)
        finally:
            stop(redis)
        runs = bench.runs
        extra = dict(bench.results_extra)
    print_table(runs, floor)
    summary = summarize(runs, extra)
    print_summary(summary, runs)
    if "mcp_verify_in_process_us" in extra:
        print(
            f"MCP token verification: {extra['mcp_verify_in_process_us']:.0f} µs in-process;"
            f" server CPU per call verified - unverified: {extra.get('mcp_verify_added_cpu_us', float('nan')):.0f} µs"
        )
    results.update(runs=runs, crypto_floor_us=floor, extra=extra, **summary)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
