"""The one-command demo (``scripts/demo``): the whole SEP-990 flow against real processes, traced.

1. starts the mock IdP, the broker (in-process store unless ``--redis-url``) and the three sample MCP
   services as child processes, from ``examples/*.toml`` (ports moved with ``--ports auto``);
2. signs alice in at the IdP with the real authorization-code + PKCE flow;
3. for each MCP service runs leg 1 and leg 2 at the broker, then calls a tool and reads a resource
   with the access token, and prints the ID token, ID-JAG and access token claims side by side;
4. shows what a user outside policy meets: bob (sales) asking for the calendar, and asking for a
   scope policy does not grant: the agent's error and the broker's audit reason for the operator;
5. stops every child process on exit, error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextResourceContents

from broker.client.agent import BrokerClient, IssuedToken
from broker.client.errors import BrokerError, TokenRequestError
from broker.core.jose import peek
from idp_mock import AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, AGENT_APP_REDIRECT_URIS, login

__all__ = ["Ports", "main", "moved_ports", "side_by_side"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DEFAULT_PORTS = (9000, 8000, 8101)
INTROSPECTION_SECRET = "mcp-servers-secret"  # the demo value in examples/mcp.toml and examples/broker.toml
SERVICES = (("calendar", "events", "event"), ("documents", "documents", "document"), ("tickets", "tickets", "ticket"))
_START_DEADLINE = 60.0


@dataclass(frozen=True, slots=True)
class Ports:
    """Where the three servers listen."""

    idp: int
    broker: int
    mcp: int


def moved_ports(text: str, ports: Ports) -> str:
    """An example config with its default ports (9000, 8000, 8101) replaced by ``ports``."""
    return (
        text.replace("127.0.0.1:9000", f"127.0.0.1:{ports.idp}")
        .replace("127.0.0.1:8000", f"127.0.0.1:{ports.broker}")
        .replace("127.0.0.1:8101", f"127.0.0.1:{ports.mcp}")
        .replace("port = 8101", f"port = {ports.mcp}")
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- output -------------------------------------------------------------------------------------


class Out:
    """Plain text trace; bold and colour only on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty() and not os.environ.get("NO_COLOR")

    def _style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.tty else text

    def line(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def heading(self, text: str) -> None:
        self.line()
        self.line(self._style(f"━━ {text}", "1"))

    def ok(self, text: str) -> None:
        self.line(f"  {self._style('✔', '32')} {text}")

    def bad(self, text: str) -> None:
        self.line(f"  {self._style('✘', '31')} {text}")

    def progress(self, text: str) -> None:
        print(f"  {text}", end="", file=self.stream, flush=True)

    def tick(self) -> None:
        print(".", end="", file=self.stream, flush=True)


_ROWS = ("typ", "iss", "sub", "aud", "resource", "client_id", "scope", "groups", "email", "exp", "jti")


def _cell(key: str, header: Mapping[str, Any], claims: Mapping[str, Any], now: float) -> str:
    if key == "typ":
        value: Any = header.get("typ", "")
    elif key == "exp":
        exp = claims.get("exp")
        return f"+{int(exp - now)} s" if isinstance(exp, int | float) else ""
    else:
        value = claims.get(key, "")
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 40 else text[:18] + "…" + text[-21:]


def side_by_side(tokens: Sequence[tuple[str, str]], now: float) -> list[str]:
    """Rows of decoded claims (not verified here: the broker and MCP server verify) of several JWTs."""
    decoded = [(title, peek(token, max_bytes=64 * 1024)) for title, token in tokens]
    cols = [[_cell(k, jwt.header, jwt.claims, now) for k in _ROWS] for _, jwt in decoded]
    widths = [max(len(title), *(len(c) for c in col)) for (title, _), col in zip(decoded, cols, strict=True)]
    lines = ["    " + " " * 10 + " │ ".join(t.ljust(w) for (t, _), w in zip(decoded, widths, strict=True))]
    lines.append("    " + "─" * 10 + "─┼─".join("─" * w for w in widths))
    for i, key in enumerate(_ROWS):
        lines.append("    " + key.ljust(10) + " │ ".join(col[i].ljust(w) for col, w in zip(cols, widths, strict=True)))
    return lines


# -- processes ----------------------------------------------------------------------------------


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float


@contextlib.contextmanager
def _children() -> Iterator[list[Child]]:
    """Every child started inside the block is terminated (then killed) when it exits, however it exits."""
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            if child.proc.poll() is None:
                child.proc.terminate()
        for child in reversed(started):
            try:
                child.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()


def _spawn(children: list[Child], name: str, args: list[str], workdir: Path, env: Mapping[str, str]) -> Child:
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # Ctrl-C reaches only the demo, which then stops the children in order
        )
    child = Child(name, proc, log, time.monotonic())
    children.append(child)
    return child


async def _wait_ready(out: Out, child: Child, url: str) -> None:
    started = child.started
    async with httpx.AsyncClient(timeout=1.0) as http:
        while time.monotonic() - started < _START_DEADLINE:
            if child.proc.poll() is not None:
                out.line(" failed")
                raise RuntimeError(
                    f"{child.name} exited with {child.proc.returncode}:\n{child.log.read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(url)).status_code < 500:
                    out.line(f" ready {time.monotonic() - started:.1f} s after start")
                    return
            out.tick()
            await asyncio.sleep(0.25)
    raise RuntimeError(f"{child.name} did not become ready within {_START_DEADLINE:.0f} s; log: {child.log}")


# -- the flow -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _mcp_session(url: str, token: str) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def _use_service(out: Out, url: str, service: str, plural: str, token: IssuedToken) -> None:
    async with _mcp_session(url, token.token) as session:
        result = await session.call_tool(f"list_{plural}", {})
        items = (result.structured_content or {}).get("result", [])
        out.ok(f"MCP tools/call list_{plural} → {len(items)} {plural}: " + ", ".join(i["title"] for i in items))
        if items:
            read = await session.read_resource(items[0]["uri"])
            body = read.contents[0]
            text = body.text if isinstance(body, TextResourceContents) else "(binary)"
            out.ok(f"MCP resources/read {items[0]['uri']} → {text}")
        view = await session.read_resource(f"ui://{service}/view.html")
        mime = view.contents[0].mime_type
        out.ok(f"MCP resources/read ui://{service}/view.html → {mime} app view")


def _last_refusal(broker_log: Path) -> dict[str, Any] | None:
    """The broker's latest ``token.refused`` audit event (what an operator would read)."""
    for line in reversed(broker_log.read_text(errors="replace").splitlines()):
        if '"event":"token.refused"' in line:
            with contextlib.suppress(ValueError):
                event: dict[str, Any] = json.loads(line[line.index("{") :])
                return event
    return None


async def _denial(out: Out, client: BrokerClient, broker_log: Path, what: str, **kw: Any) -> None:
    out.line(f"  {what}")
    try:
        await client.request_id_jag(**kw)
    except TokenRequestError as exc:
        out.bad(f"the agent got HTTP {exc.status} {exc.error}: {exc.description}")
        await asyncio.sleep(0.2)  # let the broker's log line reach the file
        event = _last_refusal(broker_log)
        if event is not None:
            out.line(f"    the operator sees (broker audit log): {event.get('reason')}")
        return
    raise RuntimeError(f"policy should have refused: {what}")


async def run(out: Out, ports: Ports, workdir: Path, redis_url: str | None) -> None:
    """Start everything, run the flow, print the trace (children are stopped by the caller's block)."""
    broker_toml = moved_ports((EXAMPLES / "broker.toml").read_text(), ports)
    broker_toml = broker_toml.replace('keys_dir = "var/keys"', f"keys_dir = {json.dumps(str(workdir / 'keys'))}")
    if redis_url:
        broker_toml = f"redis_url = {json.dumps(redis_url)}\n" + broker_toml
    (workdir / "broker.toml").write_text(broker_toml)
    (workdir / "mcp.toml").write_text(moved_ports((EXAMPLES / "mcp.toml").read_text(), ports))
    idp_url, broker_url, mcp_url = (f"http://127.0.0.1:{p}" for p in (ports.idp, ports.broker, ports.mcp))
    env = {"MCP_INTROSPECTION_SECRET": INTROSPECTION_SECRET}

    out.heading(f"Starting the services (state: {'Redis ' + redis_url if redis_url else 'in-process store'})")
    with _children() as children:
        steps = [
            (
                "mock IdP",
                ["idp_mock", "serve", "--port", str(ports.idp)],
                f"{idp_url}/.well-known/openid-configuration",
            ),
            (
                "broker",
                ["broker", "serve", "--config", str(workdir / "broker.toml"), "--port", str(ports.broker)],
                f"{broker_url}/healthz",
            ),
            ("MCP services", ["mcp_server", "serve", "--config", str(workdir / "mcp.toml")], f"{mcp_url}/healthz"),
        ]
        spawned = {}
        for name, args, _ in steps:
            spawned[name] = _spawn(children, name.split()[-1].lower(), args, workdir, env)
        for name, _, ready in steps:
            out.progress(f"{name:<13} {ready.split('/')[2]:<16}")
            await _wait_ready(out, spawned[name], ready)
        await _flow(out, idp_url, broker_url, mcp_url, spawned["broker"].log)
        out.heading("Stopping the services")
    out.ok("all child processes stopped")


async def _flow(out: Out, idp_url: str, broker_url: str, mcp_url: str, broker_log: Path) -> None:
    out.heading("alice signs in to the agent app at the enterprise IdP (OIDC code + PKCE S256)")
    tokens = await login(idp_url, "alice", AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, AGENT_APP_REDIRECT_URIS[0])
    id_token: str = tokens["id_token"]
    out.ok(f"ID token from {idp_url} (aud {AGENT_APP_CLIENT_ID}, groups in the token)")

    async with BrokerClient.for_broker(broker_url, AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET) as client:
        for service, plural, _ in SERVICES:
            resource = f"{mcp_url}/{service}/mcp"
            out.heading(f"{service}: {resource}")
            jag = await client.request_id_jag(id_token, resource=resource)
            out.ok(f"leg 1  POST {client.idp_issuer}/token  (RFC 8693)  → ID-JAG, scope {' '.join(jag.scopes)}")
            at = await client.redeem_id_jag(jag.token, resource=resource)
            out.ok(f"leg 2  POST {client.as_issuer}/token   (RFC 7523)  → at+jwt, scope {' '.join(at.scopes)}")
            out.line()
            for row in side_by_side(
                [("ID token", id_token), ("ID-JAG", jag.token), ("access token", at.token)], time.time()
            ):
                out.line(row)
            out.line()
            await _use_service(out, resource, service, plural, at)

        out.heading("What policy refuses: bob is in sales, not engineering")
        bob = (await login(idp_url, "bob", AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, AGENT_APP_REDIRECT_URIS[0]))[
            "id_token"
        ]
        calendar, tickets = f"{mcp_url}/calendar/mcp", f"{mcp_url}/tickets/mcp"
        await _denial(
            out, client, broker_log, "bob asks for the calendar (engineering only):", id_token=bob, resource=calendar
        )
        await _denial(
            out,
            client,
            broker_log,
            "bob asks to write tickets (policy grants everyone tickets.read only):",
            id_token=bob,
            resource=tickets,
            scopes=["tickets.write"],
        )
        allowed = await client.access_token(bob, resource=tickets)
        out.ok(f"bob may read tickets: access token with scope {' '.join(allowed.scopes)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=os.environ.get("XAA_REDIS_URL"), help="broker state in Redis")
    parser.add_argument("--ports", choices=["default", "auto"], default="default", help="auto: free ports")
    args = parser.parse_args(argv)
    out = Out(sys.stdout)
    ports = Ports(*DEFAULT_PORTS) if args.ports == "default" else Ports(_free_port(), _free_port(), _free_port())
    busy = [p for p in (ports.idp, ports.broker, ports.mcp) if _port_taken(p)]
    if busy:
        print(f"error: port(s) {busy} already in use; stop what listens there or use --ports auto", file=sys.stderr)
        return 1
    # SIGTERM behaves like Ctrl-C: unwind, so the children are stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with tempfile.TemporaryDirectory(prefix="xaa-demo-") as tmp:
        try:
            asyncio.run(run(out, ports, Path(tmp), args.redis_url))
        except KeyboardInterrupt:
            out.line("\ninterrupted: all child processes stopped")
            return 130
        except (BrokerError, RuntimeError, httpx.HTTPError) as exc:
            print(f"\ndemo failed: {exc}", file=sys.stderr)
            return 1
    out.line("\nDone: one sign-in, three MCP servers, no consent screen; every token bound to one server.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
