"""STYLE P14: a token or secret never reaches a log line (the redaction backstop)."""

from __future__ import annotations

import logging

import pytest

from broker.logging import RedactingFilter, redact

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


@pytest.mark.parametrize(
    "text",
    [
        f"token {JWT} here",
        f"subject_token={JWT}&x=1",
        "client_secret=hunter2hunter2",
        "Authorization: Basic YWdlbnQ6c2VjcmV0",
        "assertion=abc.def.ghi",
    ],
)
def test_credentials_are_masked(text: str) -> None:
    out = redact(text)
    for secret in (JWT, "hunter2hunter2", "YWdlbnQ6c2VjcmV0", "abc.def.ghi"):
        assert secret not in out


def test_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("xaa.test.redaction")
    log.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="xaa.test.redaction"):
        log.info("got %s", JWT)
    assert JWT not in caplog.text
    assert "[redacted-jwt]" in caplog.text
