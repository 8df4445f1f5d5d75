"""Audit log: one JSON line per token decision (ID-JAG §9.2: record audience, resource, scope, client).

Never carries a token, assertion or secret: only identifiers and the private reason of a refusal;
the redaction of :mod:`broker.logging` runs on every line as a backstop.

Every token request writes a line, so the default sink writes it straight to standard error (or
out) with one ``write`` call, outside the ``logging`` machinery: building a ``LogRecord``, running
handlers and formatting cost 15-25 µs a request under load, a tenth or more of a cache hit. One
``write`` per line keeps lines whole when several workers share the stream (a pipe writes up to
``PIPE_BUF`` bytes atomically) and, as with ``logging``'s stream handler, nothing waits in a buffer
for a crash to lose. The ``logging`` sink sends the same JSON to the ``xaa.audit`` logger at INFO,
for programs that embed the broker and route its logs themselves.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, Final

import msgspec

from broker.logging import redact
from broker.settings import AuditOutput

__all__ = ["Audit", "LoggerSink", "StreamSink", "sink_for"]

_encoder: Final = msgspec.json.Encoder()
_log = logging.getLogger("xaa.broker")

Sink = Callable[[dict[str, Any]], None]


class LoggerSink:
    """Each event as a JSON message to a logger at INFO (its handlers, filters and level apply)."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("xaa.audit")

    def __call__(self, record: dict[str, Any]) -> None:
        """Log ``record`` unless the logger is disabled for INFO."""
        if self._log.isEnabledFor(logging.INFO):
            self._log.info(_encoder.encode(record).decode())


class StreamSink:
    """Each event as one JSON line, ``ts`` (UTC, ms) first, in a single ``write`` to a file descriptor.

    A failed write does not fail the request (as with ``logging``); the first failure in a row is
    reported once on the ``xaa.broker`` logger.

    Args:
        fd: where to write (2 for standard error).
        clock: time source for ``ts``.
    """

    def __init__(self, fd: int, clock: Callable[[], float] = time.time) -> None:
        self._fd = fd
        self._clock = clock
        self._second = -1
        self._prefix = ""
        self._failing = False

    def _timestamp(self) -> str:
        now = self._clock()
        second = int(now)
        if second != self._second:  # strftime once a second, not once a line
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1000):03d}Z"

    def __call__(self, record: dict[str, Any]) -> None:
        """Write ``record`` as one line."""
        line = redact(_encoder.encode({"ts": self._timestamp(), **record}).decode()).encode() + b"\n"
        try:
            while line:
                line = line[os.write(self._fd, line) :]
        except OSError as exc:
            if not self._failing:
                self._failing = True
                _log.error("audit log write failed: %s", exc.strerror or type(exc).__name__)
            return
        self._failing = False


def sink_for(output: AuditOutput) -> Sink:
    """The sink an ``[audit] output`` setting names."""
    if output == "logging":
        return LoggerSink()
    return StreamSink(1 if output == "stdout" else 2)


class Audit:
    """Records audit events through a sink (default: the ``xaa.audit`` logger)."""

    def __init__(self, sink: Sink | None = None) -> None:
        self._sink = sink if sink is not None else LoggerSink()

    def event(self, event: str, outcome: str, **fields: Any) -> None:
        """Record one decision; ``fields`` must be identifiers, never credentials (None values are left out)."""
        record: dict[str, Any] = {"event": event, "outcome": outcome}
        for k, v in fields.items():
            if v is None:
                continue
            record[k] = sorted(v) if isinstance(v, frozenset | set) else v
        self._sink(record)

    @staticmethod
    def scopes(values: Iterable[str] | None) -> str | None:
        """Render a scope set for the log."""
        return None if values is None else " ".join(sorted(values))
