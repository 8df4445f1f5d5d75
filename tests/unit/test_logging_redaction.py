"""STYLE P14: a token or secret never reaches a log line (the redaction backstop)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.logging import _BASIC, RedactingFilter, redact

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize(
    "text",
    [
        f"token {JWT} here",
        f"subject_token={JWT}&x=1",
        "client_secret=hunter2hunter2",
        "Authorization: Basic YWdlbnQ6c2VjcmV0",
        "assertion=abc.def.ghi",
        "GET /as/callback?code=nf63kpwJB4AJ3RW7A9dT&state=s",  # an authorization code (interactive flow)
        "grant_type=authorization_code&code=nf63kpwJB4AJ3RW7A9dT",
        "authorization: basic\tYWdlbnQ6c2VjcmV0",
        "BEARER\nhunter2hunter2",
        "dpop  abc.def.ghi",
    ],
)
def test_credentials_are_masked(text: str) -> None:
    out = redact(text)
    for secret in (JWT, "hunter2hunter2", "YWdlbnQ6c2VjcmV0", "abc.def.ghi", "nf63kpwJB4AJ3RW7A9dT"):
        assert secret not in out


_PIECES = st.sampled_from(["Basic", "bearer", "DPoP", "jwt_bearer", " ", "\t", "\n", "YWdlbnQ6c2VjcmV0", "x", '"', ":"])


@given(st.lists(_PIECES, max_size=12).map("".join))
def test_the_scheme_precheck_never_skips_a_credential(text: str) -> None:
    """The cheap check before the Authorization-value pattern changes nothing but the cost."""
    assert redact(text) == _BASIC.sub(r"\1[redacted]", text)


def test_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("xaa.test.redaction")
    log.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="xaa.test.redaction"):
        log.info("got %s", JWT)
    assert JWT not in caplog.text
    assert "[redacted-jwt]" in caplog.text


def test_the_broker_app_keeps_the_redacting_handler_and_level(tmp_path: Path) -> None:
    """Regression: Litestar's default logging config replaced the root handlers at start-up, dropping the filter."""
    from litestar.testing import TestClient

    from broker.logging import configure_logging
    from broker.stores.memory import MemoryStore
    from tests.broker_env import make_env

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_flags = logging.logThreads, logging.logProcesses, logging.logMultiprocessing
    try:
        configure_logging("WARNING")
        with TestClient(make_env(MemoryStore(), tmp_path).app):
            assert root.level == logging.WARNING
            assert any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters)
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logging.logThreads, logging.logProcesses, logging.logMultiprocessing = saved_flags


def test_redaction_skips_no_pattern_it_needs() -> None:
    """The literal pre-checks are exact: mixed-case schemes and JWTs inside JSON are still masked."""
    assert redact(f'{{"x": "{JWT}"}}') == '{"x": "[redacted-jwt]"}'
    assert "YWdlbnQ6c2VjcmV0" not in redact("authorization: bAsIc YWdlbnQ6c2VjcmV0")
    assert "hunter2hunter2" not in redact("CLIENT_SECRET=hunter2hunter2")
    assert (
        redact('{"event":"access_token.issued","client_id":"a"}') == '{"event":"access_token.issued","client_id":"a"}'
    )
