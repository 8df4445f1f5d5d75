"""RFC 8707 resource indicators: syntax and single-value rules, in one place."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from broker.errors import InvalidTarget

__all__ = ["check_resource_syntax", "single_value"]


def check_resource_syntax(value: str) -> str:
    """Return ``value`` if it is an absolute URI without a fragment (RFC 8707 §2).

    Raises:
        InvalidTarget: relative URI or fragment present.
    """
    try:
        parts = urlsplit(value)
    except ValueError:
        raise InvalidTarget("The resource parameter is not a valid URI (RFC 8707 §2).") from None
    if not parts.scheme or not parts.netloc:
        raise InvalidTarget("The resource parameter must be an absolute URI (RFC 8707 §2).")
    if "#" in value:
        raise InvalidTarget("The resource parameter must not include a fragment (RFC 8707 §2).")
    return value


def single_value(values: Sequence[str], name: str) -> str | None:
    """One ``audience``/``resource`` per request: one ID-JAG or token per target (RFC 8693 §2.1.1, DESIGN OQ-6/7).

    Raises:
        InvalidTarget: more than one value.
    """
    present = [v for v in values if v != ""]
    if len(present) > 1:
        raise InvalidTarget(f"Only one {name} value is supported per request.")
    return present[0] if present else None
