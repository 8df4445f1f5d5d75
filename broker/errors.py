"""OAuth errors: one small hierarchy, mapped to RFC codes in this one file.

Every protocol failure the broker answers is an :class:`OAuthError`. Each carries a **public**
``description`` (sent as ``error_description``) and a **private** ``detail`` that goes to the
audit log only and never leaves the process. The HTTP layer renders them in one place
(``broker.http.responses``) as RFC 6749 §5.2 JSON with ``Cache-Control: no-store``.

Tree::

    Exception
     ├── ConfigError                      operator config refused at start-up (names the key path)
     └── OAuthError                       RFC 6749 §5.2 error response
          ├── InvalidRequest              400 invalid_request
          ├── InvalidClient               401 invalid_client (+ WWW-Authenticate)
          ├── InvalidGrant                400 invalid_grant
          ├── UnauthorizedClient          400 unauthorized_client
          ├── UnsupportedGrantType        400 unsupported_grant_type
          ├── UnsupportedTokenType        400 unsupported_token_type (RFC 7009 §2.2.1)
          ├── InvalidScope                400 invalid_scope
          ├── InvalidTarget               400 invalid_target (RFC 8707 §2, RFC 8693 §2.2.2)
          ├── UnsupportedResponseType     400 unsupported_response_type (RFC 6749 §4.1.2.1)
          ├── AccessDenied                403 access_denied (interactive flows)
          ├── ServerError                 500 server_error
          └── TemporarilyUnavailable      503 temporarily_unavailable (+ Retry-After)
               └── StoreUnavailable       replay/cache state unreachable: fail closed
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

__all__ = [
    "ERROR_CODES",
    "AccessDenied",
    "ConfigError",
    "ErrorCode",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "LoginRequired",
    "OAuthError",
    "ServerError",
    "StoreUnavailable",
    "TemporarilyUnavailable",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
    "UnsupportedTokenType",
]

ErrorCode = Literal[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_token_type",
    "unsupported_response_type",
    "invalid_scope",
    "invalid_target",
    "access_denied",
    "login_required",
    "server_error",
    "temporarily_unavailable",
]

ERROR_CODES: Final[frozenset[str]] = frozenset(ErrorCode.__args__)  # type: ignore[attr-defined]


class ConfigError(Exception):
    """The operator configuration was refused; the message names the offending key path."""


class OAuthError(Exception):
    """Base of every OAuth error response (RFC 6749 §5.2).

    Args:
        description: public text for ``error_description``; defaults to the class text.
        detail: private reason, logged for operators and never sent to the client.
    """

    error: ClassVar[ErrorCode] = "invalid_request"
    status_code: ClassVar[int] = 400
    default_description: ClassVar[str] = "The request is invalid."

    def __init__(self, description: str | None = None, *, detail: str | None = None) -> None:
        self.description = description or self.default_description
        self.detail = detail or self.description
        super().__init__(self.description)

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers this error requires."""
        return {}


class InvalidRequest(OAuthError):
    """Missing, repeated or malformed parameter (RFC 6749 §5.2)."""

    error = "invalid_request"
    default_description = "The request is missing a parameter or is malformed."


class InvalidClient(OAuthError):
    """Client authentication failed (RFC 6749 §5.2): 401 with a ``WWW-Authenticate`` challenge.

    Args:
        description: public text.
        detail: private reason.
        scheme: the authentication scheme the client attempted (``Basic`` when it used the header).
    """

    error = "invalid_client"
    status_code = 401
    default_description = "Client authentication failed."

    def __init__(self, description: str | None = None, *, detail: str | None = None, scheme: str = "Basic") -> None:
        super().__init__(description, detail=detail)
        self.scheme = scheme

    @property
    def headers(self) -> dict[str, str]:
        """RFC 6749 §5.2: a 401 carries ``WWW-Authenticate`` matching the scheme the client used."""
        return {"WWW-Authenticate": f'{self.scheme} realm="xaa-broker"'}


class InvalidGrant(OAuthError):
    """The grant or assertion is invalid, expired, replayed or not for us (RFC 6749 §5.2, RFC 7523 §3.1)."""

    error = "invalid_grant"
    default_description = "The authorization grant is invalid."


class UnauthorizedClient(OAuthError):
    """The authenticated client may not use this grant type (RFC 6749 §5.2)."""

    error = "unauthorized_client"
    default_description = "The client is not authorized to use this grant type."


class UnsupportedGrantType(OAuthError):
    """The grant type is not served here (RFC 6749 §5.2)."""

    error = "unsupported_grant_type"
    default_description = "The grant type is not supported."


class UnsupportedTokenType(OAuthError):
    """Revocation of this token type is not supported (RFC 7009 §2.2.1)."""

    error = "unsupported_token_type"
    default_description = "The token type is not supported."


class UnsupportedResponseType(OAuthError):
    """The authorization endpoint does not serve this response type (RFC 6749 §4.1.2.1)."""

    error = "unsupported_response_type"
    default_description = "The response type is not supported."


class InvalidScope(OAuthError):
    """The requested scope is invalid, unknown or exceeds what may be granted (RFC 6749 §5.2)."""

    error = "invalid_scope"
    default_description = "The requested scope is invalid or not allowed."


class InvalidTarget(OAuthError):
    """The requested audience or resource is invalid or not allowed (RFC 8707 §2, RFC 8693 §2.2.2)."""

    error = "invalid_target"
    default_description = "The requested audience or resource is invalid or not allowed."


class AccessDenied(OAuthError):
    """The resource owner or policy denied the request (RFC 6749 §4.1.2.1)."""

    error = "access_denied"
    status_code = 403
    default_description = "Access denied."


class LoginRequired(OAuthError):
    """``prompt=none`` but the user must sign in: the broker keeps no sessions (OIDC Core §3.1.2.6)."""

    error = "login_required"
    default_description = "The user must sign in; prompt=none cannot be honoured."


class ServerError(OAuthError):
    """Unexpected condition; the detail is logged, the client sees a generic text."""

    error = "server_error"
    status_code = 500
    default_description = "The server encountered an unexpected condition."


class TemporarilyUnavailable(OAuthError):
    """A dependency is down; retry later (RFC 6749 §4.1.2.1 code, served as 503).

    Args:
        description: public text.
        detail: private reason.
        retry_after: seconds for the ``Retry-After`` header.
    """

    error = "temporarily_unavailable"
    status_code = 503
    default_description = "The service is temporarily unavailable; retry later."

    def __init__(self, description: str | None = None, *, detail: str | None = None, retry_after: int = 1) -> None:
        super().__init__(description, detail=detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        """RFC 9110 §10.2.3 ``Retry-After`` in seconds."""
        return {"Retry-After": str(self.retry_after)}


class StoreUnavailable(TemporarilyUnavailable):
    """Shared state (replay, cache, revocation) could not be read or written: fail closed."""

    default_description = "Token state is temporarily unavailable; no token was issued. Retry later."
