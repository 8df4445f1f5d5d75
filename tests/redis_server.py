"""A real ``redis-server`` on a free loopback port, owned by the test session (no mocks, STYLE P11).

Order of preference: ``XAA_TEST_REDIS_URL`` (an external server), else spawn ``redis-server`` from
PATH. testcontainers is not used here because CI machines have no Docker engine (LIBRARIES §4.4).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path


def free_port() -> int:
    """Ask the kernel for a free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    """A redis-server process we started; ``stop``/``start`` simulate an outage."""

    port: int
    workdir: Path
    extra_args: tuple[str, ...] = ()
    config_file: Path | None = None
    """A config file to load first (a Sentinel's, which Sentinel also rewrites)."""
    proc: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        """Connection URL for db 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or restart) the server on the same port and wait until it answers PING."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found on PATH (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                exe,
                *([str(self.config_file)] if self.config_file is not None else []),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--protected-mode",
                "yes",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill the server (an outage the broker must fail closed on)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None


def spawn_redis() -> RedisServer:
    """Start a fresh redis-server on a free port in a temporary directory."""
    server = RedisServer(port=free_port(), workdir=Path(tempfile.mkdtemp(prefix="xaa-redis-")))
    server.start()
    return server


@dataclass
class RedisClusterNodes:
    """A Redis Cluster of masters on loopback, each a ``redis-server`` we started (no replicas)."""

    nodes: list[RedisServer]

    @property
    def url(self) -> str:
        """A seed node's URL (a Cluster client discovers the others)."""
        return self.nodes[0].url

    def stop(self) -> None:
        """Kill every node."""
        for node in self.nodes:
            node.stop()


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


def spawn_redis_cluster(masters: int = 3) -> RedisClusterNodes:
    """Start ``masters`` cluster-enabled servers, join them with ``redis-cli --cluster create``, wait for ``ok``."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("redis-cli not found on PATH (Debian package redis-tools)")
    cluster_args = ("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000")
    nodes = [
        RedisServer(
            port=_cluster_port(), workdir=Path(tempfile.mkdtemp(prefix="xaa-redis-cluster-")), extra_args=cluster_args
        )
        for _ in range(masters)
    ]
    cluster = RedisClusterNodes(nodes)
    try:
        for node in nodes:
            node.start()
        addresses = [f"127.0.0.1:{n.port}" for n in nodes]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for port in (n.port for n in nodes):
            _wait_until(partial(_cluster_ok, port), f"cluster_state:ok on port {port}")
    except BaseException:
        cluster.stop()
        raise
    return cluster


@dataclass
class RedisSentinelSet:
    """A primary, one replica and one Sentinel watching them as ``service``, all on loopback."""

    primary: RedisServer
    replica: RedisServer
    sentinel: RedisServer
    service: str = "mymaster"

    def stop(self) -> None:
        """Kill the three processes."""
        for server in (self.sentinel, self.replica, self.primary):
            server.stop()

    def primary_port(self) -> int:
        """The primary's port as the Sentinel reports it now."""
        answer = redis_cli(self.sentinel.port, "sentinel", "get-master-addr-by-name", self.service).split()
        return int(answer[1]) if len(answer) == 2 else 0


def spawn_redis_sentinel() -> RedisSentinelSet:
    """Start a primary, a replica of it and a Sentinel (quorum 1, 1 s down-after), and wait until all are linked."""

    def server(**kw: object) -> RedisServer:
        return RedisServer(port=free_port(), workdir=Path(tempfile.mkdtemp(prefix="xaa-redis-sentinel-")), **kw)  # type: ignore[arg-type]

    primary = server(extra_args=("--repl-diskless-sync-delay", "0"))  # no 5 s wait before the first sync
    replica = server(extra_args=("--replicaof", "127.0.0.1", str(primary.port)))
    sentinel = server(extra_args=("--sentinel",))
    conf = sentinel.workdir / "sentinel.conf"
    conf.write_text(
        f"sentinel monitor mymaster 127.0.0.1 {primary.port} 1\n"
        "sentinel down-after-milliseconds mymaster 1000\n"
        "sentinel failover-timeout mymaster 10000\n"
    )
    sentinel.config_file = conf
    group = RedisSentinelSet(primary, replica, sentinel)
    try:
        primary.start()
        replica.start()
        _wait_until(lambda: "master_link_status:up" in redis_cli(replica.port, "info", "replication"), "replica link")
        sentinel.start()  # after the link is up: the Sentinel's first INFO of the primary names the replica
        _wait_until(
            lambda: str(replica.port) in redis_cli(sentinel.port, "sentinel", "replicas", group.service),
            "the Sentinel's view of the replica",
        )
        return group
    except BaseException:
        group.stop()
        raise


def _cluster_ok(port: int) -> bool:
    return "cluster_state:ok" in redis_cli(port, "cluster", "info")


def redis_cli(port: int, *command: str) -> str:
    """``redis-cli -p port command...`` (its output, stripped; empty if the server does not answer)."""
    return subprocess.run(
        ["redis-cli", "-p", str(port), *command], capture_output=True, text=True, timeout=5, check=False
    ).stdout.strip()


def _wait_until(ready: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)
