"""What the agent client raises: one small hierarchy, the OAuth ``error`` code on every refusal.

Tree::

    BrokerError                         anything that kept the client from getting a token
     ├── BrokerUnreachable              transport failure (connect, timeout): retry later
     ├── BadBrokerResponse              the broker answered something that is not RFC 6749 §5.1/§5.2
     └── TokenRequestError              an RFC 6749 §5.2 error response (``error``, ``error_description``)
          ├── InvalidClientError        invalid_client: the agent's own credentials are wrong
          ├── InvalidGrantError         invalid_grant: ID token / ID-JAG refused (expired, replayed, untrusted, policy)
          ├── InvalidScopeError         invalid_scope: the scope is outside what policy or the ID-JAG grants
          ├── InvalidTargetError        invalid_target: audience or resource not allowed (RFC 8707 §2)
          ├── UnauthorizedClientError   unauthorized_client: this client may not use the grant
          └── TemporarilyUnavailableError  503: the broker fails closed; ``retry_after`` seconds
"""

from __future__ import annotations

from typing import ClassVar, Final

__all__ = [
    "BadBrokerResponse",
    "BrokerError",
    "BrokerUnreachable",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidScopeError",
    "InvalidTargetError",
    "TemporarilyUnavailableError",
    "TokenRequestError",
    "UnauthorizedClientError",
    "error_from_response",
]


class BrokerError(Exception):
    """Base of every client failure."""


class BrokerUnreachable(BrokerError):
    """The broker could not be reached (connection refused, timeout)."""


class BadBrokerResponse(BrokerError):
    """The broker's answer is neither a token response (RFC 6749 §5.1) nor an error (§5.2)."""


class TokenRequestError(BrokerError):
    """The broker refused the request (RFC 6749 §5.2).

    Attributes:
        error: the OAuth ``error`` code, e.g. ``invalid_grant``.
        description: the broker's ``error_description`` (the precise reason is in the broker's audit log).
        status: the HTTP status.
    """

    code: ClassVar[str | None] = None

    def __init__(self, error: str, description: str | None, status: int) -> None:
        self.error = error
        self.description = description
        self.status = status
        super().__init__(f"{error}: {description}" if description else error)


class InvalidClientError(TokenRequestError):
    """``invalid_client``: fix the client id, secret or key; retrying will not help."""

    code = "invalid_client"


class InvalidGrantError(TokenRequestError):
    """``invalid_grant``: get a fresh ID token (sign in again) or a fresh ID-JAG."""

    code = "invalid_grant"


class InvalidScopeError(TokenRequestError):
    """``invalid_scope``: ask for less; policy or the ID-JAG does not grant it."""

    code = "invalid_scope"


class InvalidTargetError(TokenRequestError):
    """``invalid_target``: this audience or resource is not allowed for the client or user."""

    code = "invalid_target"


class UnauthorizedClientError(TokenRequestError):
    """``unauthorized_client``: the client is not registered for this grant type."""

    code = "unauthorized_client"


class TemporarilyUnavailableError(TokenRequestError):
    """``temporarily_unavailable`` (HTTP 503): retry after ``retry_after`` seconds."""

    code = "temporarily_unavailable"

    def __init__(self, error: str, description: str | None, status: int, retry_after: float | None = None) -> None:
        super().__init__(error, description, status)
        self.retry_after = retry_after


_BY_CODE: Final[dict[str, type[TokenRequestError]]] = {
    cls.code: cls
    for cls in (
        InvalidClientError,
        InvalidGrantError,
        InvalidScopeError,
        InvalidTargetError,
        UnauthorizedClientError,
        TemporarilyUnavailableError,
    )
    if cls.code is not None
}


def error_from_response(
    error: str, description: str | None, status: int, retry_after: str | None = None
) -> TokenRequestError:
    """The typed exception for an RFC 6749 §5.2 error body; unknown codes give the base class."""
    cls = _BY_CODE.get(error, TokenRequestError)
    if cls is TemporarilyUnavailableError:
        seconds: float | None
        try:
            seconds = float(retry_after) if retry_after is not None else None
        except ValueError:
            seconds = None  # an HTTP-date; callers fall back to their own backoff
        return TemporarilyUnavailableError(error, description, status, seconds)
    return cls(error, description, status)
