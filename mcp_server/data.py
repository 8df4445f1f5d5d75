"""Per-user sample data behind the services: each signed-in user sees only their own items.

Items are keyed by the token's (issuer, subject) pair, never by a name the client sends, so no
request can reach another user's data. The store is in memory: a sample, not a product.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Final

from mcp_server.settings import ServiceKind

__all__ = ["KINDS", "Item", "Kind", "UserData"]


@dataclass(frozen=True, slots=True)
class Kind:
    """What one sample service holds, and the words its tools use."""

    noun: str
    plural: str
    seed: tuple[tuple[str, str], ...]
    """(title, detail) of the items every user starts with."""


KINDS: Final[dict[ServiceKind, Kind]] = {
    "calendar": Kind(
        noun="event",
        plural="events",
        seed=(("Team stand-up", "Mondays 09:30, room Ada"), ("1:1 with manager", "Thursdays 15:00")),
    ),
    "documents": Kind(
        noun="document",
        plural="documents",
        seed=(("Onboarding notes", "Where things live and who to ask"), ("Q3 plan", "Goals, owners, dates")),
    ),
    "tickets": Kind(
        noun="ticket",
        plural="tickets",
        seed=(("VPN drops on hotel Wi-Fi", "Status: open"), ("New laptop request", "Status: waiting for approval")),
    ),
}


@dataclass(frozen=True, slots=True)
class Item:
    """One calendar event, document or ticket."""

    id: str
    title: str
    detail: str
    owner: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"id": self.id, "title": self.title, "detail": self.detail, "owner": self.owner}


@dataclass
class UserData:
    """The items of one service, per user; seeded on a user's first visit."""

    kind: Kind
    _items: dict[tuple[str, str], dict[str, Item]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _bucket(self, issuer: str, subject: str) -> dict[str, Item]:
        key = (issuer, subject)
        bucket = self._items.get(key)
        if bucket is None:
            bucket = {}
            for title, detail in self.kind.seed:
                item = self._new(title, detail, subject)
                bucket[item.id] = item
            self._items[key] = bucket
        return bucket

    def _new(self, title: str, detail: str, owner: str) -> Item:
        return Item(id=f"{self.kind.noun[0]}{next(self._ids)}", title=title, detail=detail, owner=owner)

    def list(self, issuer: str, subject: str) -> list[Item]:
        """This user's items, oldest first."""
        return list(self._bucket(issuer, subject).values())

    def get(self, issuer: str, subject: str, item_id: str) -> Item | None:
        """One of this user's items; None for another user's item as for a missing one."""
        return self._bucket(issuer, subject).get(item_id)

    def add(self, issuer: str, subject: str, title: str, detail: str) -> Item:
        """Create an item owned by this user."""
        item = self._new(title, detail, subject)
        self._bucket(issuer, subject)[item.id] = item
        return item
