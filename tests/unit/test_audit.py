"""The audit log (ID-JAG §9.2): one JSON line per decision, never a credential, on the configured sink."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from broker.audit import Audit, LoggerSink, StreamSink, sink_for
from broker.errors import ConfigError
from broker.settings import parse_settings

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVl"


def lines_of(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_event_is_one_json_line_with_a_utc_timestamp_first(tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    clock = iter([1_700_000_000.0071, 1_700_000_000.9999, 1_700_000_001.5])
    try:
        audit = Audit(StreamSink(fd, clock=lambda: next(clock)))
        audit.event("id_jag.issued", "granted", client_id="agent", scope=None, groups={"b", "a"})
        audit.event("token.refused", "invalid_grant", reason="expired")
        audit.event("token.refused", "invalid_scope")
    finally:
        os.close(fd)
    raw = out.read_text().splitlines()
    assert all(line.startswith('{"ts":') for line in raw)
    assert lines_of(out) == [
        {"ts": "2023-11-14T22:13:20.007Z", "event": "id_jag.issued", "outcome": "granted", "client_id": "agent",
         "groups": ["a", "b"]},
        {"ts": "2023-11-14T22:13:20.999Z", "event": "token.refused", "outcome": "invalid_grant", "reason": "expired"},
        {"ts": "2023-11-14T22:13:21.500Z", "event": "token.refused", "outcome": "invalid_scope"},
    ]  # fmt: skip


def test_a_credential_that_slips_into_an_event_is_redacted(tmp_path: Path) -> None:
    """STYLE P14 backstop: the redaction filter of the logs runs on audit lines too."""
    out = tmp_path / "audit.jsonl"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT)
    try:
        Audit(StreamSink(fd)).event("token.refused", "invalid_grant", reason=f"bad token {JWT}")
    finally:
        os.close(fd)
    assert JWT not in out.read_text()
    assert lines_of(out)[0]["reason"] == "bad token [redacted-jwt]"


def test_the_stream_sink_writes_whatever_the_log_level(capfd: pytest.CaptureFixture[str]) -> None:
    """Quieting the logs (--log-level warning) does not switch the audit trail off."""
    audit_logger = logging.getLogger("xaa.audit")
    saved = audit_logger.level
    audit_logger.setLevel(logging.ERROR)
    try:
        sink_for("stderr")({"event": "access_token.issued", "outcome": "granted"})
    finally:
        audit_logger.setLevel(saved)
    err = capfd.readouterr().err.splitlines()
    assert json.loads(err[-1])["event"] == "access_token.issued"


def test_stdout_is_a_sink_too(capfd: pytest.CaptureFixture[str]) -> None:
    sink_for("stdout")({"event": "e", "outcome": "o"})
    assert json.loads(capfd.readouterr().out)["outcome"] == "o"


def test_a_failed_write_does_not_fail_the_request_and_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fd = os.open(tmp_path / "gone", os.O_WRONLY | os.O_CREAT)
    os.close(fd)  # every write now fails with EBADF
    audit = Audit(StreamSink(fd))
    with caplog.at_level(logging.ERROR, logger="xaa.broker"):
        audit.event("token.refused", "invalid_grant")
        audit.event("token.refused", "invalid_grant")
    failures = [r for r in caplog.records if "audit log write failed" in r.getMessage()]
    assert len(failures) == 1


def test_the_logging_sink_follows_the_logger_level(caplog: pytest.LogCaptureFixture) -> None:
    audit = Audit(LoggerSink(logging.getLogger("xaa.audit")))
    with caplog.at_level(logging.INFO, logger="xaa.audit"):
        audit.event("id_jag.issued", "granted", client_id="agent")
    with caplog.at_level(logging.WARNING, logger="xaa.audit"):
        audit.event("id_jag.issued", "granted", client_id="other")
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "xaa.audit"]
    assert events == [{"event": "id_jag.issued", "outcome": "granted", "client_id": "agent"}]


def test_the_audit_output_is_configured_and_an_unknown_one_is_refused() -> None:
    base = 'public_url = "http://127.0.0.1:8000"\n'
    assert parse_settings(base).settings.audit.output == "stderr"
    assert parse_settings(base + '[audit]\noutput = "logging"\n').settings.audit.output == "logging"
    with pytest.raises(ConfigError, match=r"\$\.audit\.output: Invalid enum value .syslog."):
        parse_settings(base + '[audit]\noutput = "syslog"\n')
