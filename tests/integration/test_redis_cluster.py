"""The broker on a real three-master Redis Cluster (``[redis] mode = "cluster"``), built as in production."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import ClusterNode, RedisCluster

from broker.settings import parse_settings
from broker.stores.redis import build_redis_store
from tests.broker_env import FILES, BrokerEnv, assert_error, basic, make_env
from tests.redis_server import RedisClusterNodes, redis_cli, spawn_redis_cluster

UNAVAILABLE = "Token state is temporarily unavailable; no token was issued. Retry later."
SHORTCUT = {
    "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
    "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
    "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    "resource": FILES,
}


def _env_on(cluster: RedisClusterNodes, tmp_path: Path) -> BrokerEnv:
    toml = f'public_url = "http://127.0.0.1:8000"\nredis_url = "{cluster.url}"\n[redis]\nmode = "cluster"\n'
    return make_env(build_redis_store(parse_settings(toml).settings), tmp_path)


@pytest.fixture
async def cluster_broker(redis_cluster: RedisClusterNodes, tmp_path: Path) -> AsyncIterator[BrokerEnv]:
    nodes = RedisCluster.from_url(redis_cluster.url)
    await nodes.flushall(target_nodes=RedisCluster.PRIMARIES)
    await nodes.aclose()
    env = _env_on(redis_cluster, tmp_path)
    try:
        yield env
    finally:
        await env.http.aclose()
        await env.store.close()


@pytest.mark.spec("L2-40")
async def test_an_id_jag_is_redeemed_once_on_a_redis_cluster(
    cluster_broker: BrokerEnv, redis_cluster: RedisClusterNodes
) -> None:
    """Replay state lives on whichever master owns the jti's slot; the cache entry may live on another."""
    for _ in range(6):  # several jtis and users, so that more than one master's slots are used
        jag = await cluster_broker.id_jag()
        first = await cluster_broker.leg2(jag)
        assert first.status_code == 200, first.text
        replay = await cluster_broker.leg2(jag)
        assert_error(replay, 400, "invalid_grant", "The ID-JAG has already been used.")
    keys_per_master = [redis_cli(node.port, "dbsize") for node in redis_cluster.nodes]
    assert sum(1 for n in keys_per_master if int(n) > 0) >= 2, keys_per_master


async def test_the_token_cache_is_shared_through_a_redis_cluster(cluster_broker: BrokerEnv) -> None:
    id_token = cluster_broker.acme.id_token()
    form = {**SHORTCUT, "subject_token": id_token}
    first = await cluster_broker.http.post("/as/token", data=form, headers=basic("agent-app"))
    again = await cluster_broker.http.post("/as/token", data=form, headers=basic("agent-app"))
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json()["access_token"] == first.json()["access_token"]


def _cluster_state(port: int) -> str:
    info = redis_cli(port, "cluster", "info")
    return next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("cluster_state:")), "")


@pytest.mark.spec("N92", "L2-42", "OQ-18")
async def test_a_lost_cluster_master_fails_closed(tmp_path: Path) -> None:
    """A master down: its slots cannot record a jti, so the broker answers 503 and never issues a token."""
    cluster = spawn_redis_cluster()
    env = _env_on(cluster, tmp_path)
    try:
        ok = await env.leg2(await env.id_jag())
        assert ok.status_code == 200, ok.text
        cluster.nodes[1].stop()
        deadline = time.monotonic() + 20  # the survivors mark the cluster failed after the node timeout (2 s)
        while _cluster_state(cluster.nodes[0].port) != "fail" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _cluster_state(cluster.nodes[0].port) == "fail"
        for _ in range(3):
            r = await env.leg2(await env.id_jag())
            assert_error(r, 503, "temporarily_unavailable", UNAVAILABLE)
            assert r.headers["retry-after"] == "1"
            assert "eyJ" not in r.text
        shortcut = await env.http.post(
            "/as/token", data={**SHORTCUT, "subject_token": env.acme.id_token()}, headers=basic("agent-app")
        )
        assert_error(shortcut, 503, "temporarily_unavailable", UNAVAILABLE)
    finally:
        await env.http.aclose()
        await env.store.close()
        await _disconnect_stray_cluster_nodes()
        cluster.stop()


async def _disconnect_stray_cluster_nodes() -> None:
    """Close what redis-py leaves open after a topology refresh, now rather than in a later ``__del__``.

    redis-py 8.1's asyncio ``RedisCluster`` builds new ``ClusterNode`` objects on each refresh (here:
    after the lost master) and keeps some with open connections outside the node cache that
    ``aclose()`` closes; they would otherwise warn (``Unclosed ClusterNode object``) whenever the
    collector reaches them, in whichever test runs then.
    """
    for obj in gc.get_objects():
        if isinstance(obj, ClusterNode):
            await obj.disconnect()
