"""Fail closed in the interactive flow: with Redis down no sign-in starts and no code or token is issued."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.interactive.browser import Browser
from tests.interactive.conftest import CLIENT_REDIRECT, EXTRA
from tests.interactive.test_authorization_code import authorize_url, redeem, sign_in
from tests.live import live_stack
from tests.redis_server import RedisServer


@pytest.mark.spec("OQ-18")
async def test_redis_down_means_503_and_no_code_or_token(outage_redis: RedisServer, tmp_path: Path) -> None:
    async with live_stack(tmp_path, redis_url=outage_redis.url, extra_config=EXTRA) as stack:
        browser = Browser(CLIENT_REDIRECT)
        try:
            code, verifier = await sign_in(browser, stack)
            outage_redis.stop()
            r = await redeem(stack, code, verifier)
            assert r.status_code == 503
            assert r.json() == {
                "error": "temporarily_unavailable",
                "error_description": "Token state is temporarily unavailable; no token was issued. Retry later.",
            }
            assert r.headers["retry-after"] == "1"
            assert "eyJ" not in r.text and "refresh_token" not in r.text
            started = await browser.http.get(authorize_url(stack, secrets.token_urlsafe(48)))
            assert started.status_code == 503
            assert "location" not in started.headers
        finally:
            await browser.aclose()
