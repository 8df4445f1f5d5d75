"""Fail closed: when replay state cannot be checked, no token is issued (STYLE P8, checklist L2-42, OQ-18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.settings import parse_settings
from broker.stores.redis import build_redis_store
from tests.broker_env import FILES, SECRETS, BrokerEnv, assert_error, basic, make_env
from tests.redis_server import RedisServer

UNAVAILABLE = "Token state is temporarily unavailable; no token was issued. Retry later."


async def _env_on(server: RedisServer, tmp_path: Path) -> BrokerEnv:
    """A broker whose store is built exactly as in production (fail-fast timeouts) on a server we can kill."""
    settings = parse_settings(f'public_url = "http://127.0.0.1:8000"\nredis_url = "{server.url}"\n').settings
    return make_env(build_redis_store(settings), tmp_path)


@pytest.mark.spec("N92", "L2-42", "OQ-18")
async def test_redis_down_during_replay_check_is_503_without_token(outage_redis: RedisServer, tmp_path: Path) -> None:
    env = await _env_on(outage_redis, tmp_path)
    try:
        jag = await env.id_jag()  # leg 1 needs no shared state
        ok = await env.leg2(jag)
        assert ok.status_code == 200, ok.text
        outage_redis.stop()
        r = await env.leg2(await env.id_jag())
        assert_error(r, 503, "temporarily_unavailable", UNAVAILABLE)
        assert r.headers["retry-after"] == "1"
        assert "eyJ" not in r.text
        shortcut = await env.http.post(
            "/as/token",
            data={
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "requested_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "subject_token": env.acme.id_token(),
                "resource": FILES,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            },
            headers=basic("agent-app"),
        )
        assert_error(shortcut, 503, "temporarily_unavailable", UNAVAILABLE)
        intro = await env.http.post(
            "/as/introspect", data={"token": ok.json()["access_token"]}, headers=basic("rs-app", SECRETS["rs-app"])
        )
        assert_error(intro, 503, "temporarily_unavailable", UNAVAILABLE)
        assert (await env.http.get("/readyz")).status_code == 503
        outage_redis.start()
        again = await env.leg2(await env.id_jag())
        assert again.status_code == 200, again.text
    finally:
        await env.http.aclose()
        await env.store.close()
