"""Request parameters as a multi-map, with the OAuth rules for repeats and blanks in one place."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from idp_mock.errors import InvalidRequest

__all__ = ["Params"]


class Params:
    """Query or form parameters.

    RFC 6749 §3.1/§3.2: parameters sent without a value are treated as omitted, and a parameter
    must not be repeated (RFC 8693 §2.1 allows repeated ``resource``/``audience``: use :meth:`all`).
    """

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in items:
            if value != "":
                self._values.setdefault(name, []).append(value)

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Params:
        """Build from a plain mapping (tests, the login form)."""
        return cls(values.items())

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def all(self, name: str) -> list[str]:
        """Every value of a parameter that may repeat."""
        return list(self._values.get(name, ()))

    def one(self, name: str) -> str | None:
        """The single value of a parameter, or None when absent.

        Raises:
            InvalidRequest: the parameter is repeated (RFC 6749 §3.1).
        """
        values = self._values.get(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidRequest(f"The {name} parameter is repeated.")
        return values[0]

    def first(self, name: str) -> str | None:
        """The first value, repeats tolerated (used only to echo ``state`` on an error redirect)."""
        values = self._values.get(name)
        return values[0] if values else None

    def require(self, name: str) -> str:
        """The single value of a required parameter.

        Raises:
            InvalidRequest: absent or repeated.
        """
        value = self.one(name)
        if value is None:
            raise InvalidRequest(f"The {name} parameter is required.")
        return value
