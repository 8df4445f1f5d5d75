"""Audit log: one structured line per token decision (ID-JAG §9.2: record audience, resource, scope, client).

Never carries a token, assertion or secret: only identifiers and the private reason of a refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import msgspec

__all__ = ["Audit"]

_encoder = msgspec.json.Encoder()


class Audit:
    """Writes audit events as JSON to the ``xaa.audit`` logger."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger("xaa.audit")

    def event(self, event: str, outcome: str, **fields: Any) -> None:
        """Record one decision; ``fields`` must be identifiers, never credentials."""
        if not self._log.isEnabledFor(logging.INFO):
            return
        record: dict[str, Any] = {"event": event, "outcome": outcome}
        for k, v in fields.items():
            if v is None:
                continue
            record[k] = sorted(v) if isinstance(v, frozenset | set) else v
        self._log.info(_encoder.encode(record).decode())

    @staticmethod
    def scopes(values: Iterable[str] | None) -> str | None:
        """Render a scope set for the log."""
        return None if values is None else " ".join(sorted(values))
