"""Issue 5: the one-command demo runs the whole flow, shows a denial, exits 0 and leaves nothing behind."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

from broker.client.demo import Ports, moved_ports, side_by_side
from tests.broker_env import decode_unverified
from tests.live import ROOT


def test_the_demo_traces_both_legs_per_service_and_a_denial_then_stops_everything() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "broker.client.demo", "--ports", "auto"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for service in ("calendar", "documents", "tickets"):
        assert re.search(rf"━━ {service}: http://127\.0\.0\.1:\d+/{service}/mcp", out)
        assert f"MCP resources/read ui://{service}/view.html → text/html;profile=mcp-app" in out
    assert out.count("leg 1  POST") == 3 and out.count("leg 2  POST") == 3
    assert out.count("│ ID-JAG") == 3 and "oauth-id-jag+jwt" in out and "at+jwt" in out
    assert "the agent got HTTP 400 invalid_grant" in out
    assert "the agent got HTTP 400 invalid_scope" in out
    assert "the operator sees (broker audit log): not grantable: tickets.write" in out
    assert "all child processes stopped" in out
    ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+) +[.]* *ready", out)]
    assert len(ports) == 3
    for port in ports:  # nobody listens any more: every child is gone
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0


def test_example_configs_move_to_other_ports_consistently() -> None:
    text = 'issuer = "http://127.0.0.1:9000"\npublic_url = "http://127.0.0.1:8000"\nport = 8101\n'
    text += 'resource = "http://127.0.0.1:8101/calendar/mcp"\n'
    moved = moved_ports(text, Ports(1, 2, 3))
    assert moved == (
        'issuer = "http://127.0.0.1:1"\npublic_url = "http://127.0.0.1:2"\nport = 3\n'
        'resource = "http://127.0.0.1:3/calendar/mcp"\n'
    )


def test_side_by_side_shows_each_tokens_claims_in_its_column() -> None:
    from tests.broker_env import b64json

    a = f"{b64json({'alg': 'ES256', 'typ': 'at+jwt'})}.{b64json({'iss': 'https://a', 'scope': 's1'})}.c2ln"
    b = f"{b64json({'alg': 'ES256', 'typ': 'JWT'})}.{b64json({'iss': 'https://b', 'groups': ['g1', 'g2']})}.c2ln"
    assert decode_unverified(a)[1]["iss"] == "https://a"
    rows = side_by_side([("first", a), ("second", b)], now=0)
    iss = next(r for r in rows if r.strip().startswith("iss"))
    assert "https://a" in iss and "https://b" in iss and iss.index("https://a") < iss.index("https://b")
    assert "g1 g2" in next(r for r in rows if r.strip().startswith("groups"))
