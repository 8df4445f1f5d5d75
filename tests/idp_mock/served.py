"""Run ``python -m idp_mock serve`` as a real process on a free loopback port (uvicorn, real sockets)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_STARTUP_DEADLINE = 30.0


@dataclass(frozen=True)
class ServedIdp:
    issuer: str
    port: int


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_idp(*extra: str) -> Iterator[ServedIdp]:
    """Start the CLI server; yield once its port accepts connections (a readiness wait, not a timing check)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "idp_mock", "serve", "--port", str(port), "--log-level", "warning", *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        _wait_connectable(proc, port)
        yield ServedIdp(issuer=f"http://127.0.0.1:{port}", port=port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _wait_connectable(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + _STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"idp_mock serve exited with {proc.returncode}:\n{err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("idp_mock serve did not start listening")
