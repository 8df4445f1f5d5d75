"""OAuth / OIDC errors the mock IdP answers, in one file.

Token-endpoint errors are rendered as RFC 6749 §5.2 JSON (``idp_mock.responses``). Errors at the
authorization endpoint are either redirected to the client (RFC 6749 §4.1.2.1, only once the client
and its redirect URI are verified) or shown as an HTML page (:class:`ErrorPage`), never an open redirect.

Tree::

    Exception
     ├── ConfigError                      idp_mock config refused (names the key path)
     ├── ErrorPage                        /authorize and /login errors shown to the user, never redirected
     └── OAuthError                       RFC 6749 §5.2 / §4.1.2.1 error
          ├── InvalidRequest              400 invalid_request
          ├── InvalidClient               401 invalid_client (+ WWW-Authenticate)
          ├── InvalidGrant                400 invalid_grant
          ├── UnauthorizedClient          400 unauthorized_client
          ├── UnsupportedGrantType        400 unsupported_grant_type
          ├── UnsupportedResponseType     400 unsupported_response_type (authorization endpoint)
          ├── InvalidScope                400 invalid_scope
          ├── InvalidTarget               400 invalid_target (RFC 8693 §2.2.2)
          ├── AccessDenied                403 access_denied (the user cancelled)
          ├── LoginRequired               400 login_required (OIDC Core §3.1.2.6)
          └── InvalidToken                401 invalid_token (RFC 6750 §3.1, userinfo and admin)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AccessDenied",
    "ConfigError",
    "ErrorPage",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTarget",
    "InvalidToken",
    "LoginRequired",
    "OAuthError",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
]


class ConfigError(Exception):
    """The IdP configuration was refused; the message names the offending key path."""


class ErrorPage(Exception):
    """An authorization error that must not be redirected (RFC 6749 §4.1.2.1, RFC 9700 §4.11.1).

    Args:
        message: text shown to the user (never contains a secret).
        status_code: HTTP status of the page.
    """

    def __init__(self, message: str, *, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class OAuthError(Exception):
    """Base of every OAuth error response (RFC 6749 §5.2, §4.1.2.1).

    Args:
        description: public text for ``error_description``; defaults to the class text.
    """

    error: ClassVar[str] = "invalid_request"
    status_code: ClassVar[int] = 400
    default_description: ClassVar[str] = "The request is invalid."

    def __init__(self, description: str | None = None) -> None:
        self.description = description or self.default_description
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
    """Client authentication failed (RFC 6749 §5.2): 401 with a ``Basic`` challenge."""

    error = "invalid_client"
    status_code = 401
    default_description = "Client authentication failed."

    @property
    def headers(self) -> dict[str, str]:
        """RFC 6749 §5.2: a 401 carries ``WWW-Authenticate``."""
        return {"WWW-Authenticate": 'Basic realm="idp_mock"'}


class InvalidGrant(OAuthError):
    """Code or refresh token invalid, expired, revoked, reused or bound elsewhere (RFC 6749 §5.2)."""

    error = "invalid_grant"
    default_description = "The authorization grant is invalid, expired or revoked."


class UnauthorizedClient(OAuthError):
    """The client may not use this grant or response type (RFC 6749 §5.2)."""

    error = "unauthorized_client"
    default_description = "The client is not authorized to use this grant type."


class UnsupportedGrantType(OAuthError):
    """Grant type not served; OAuth 2.1 §10 drops the password grant (RFC 6749 §5.2)."""

    error = "unsupported_grant_type"
    default_description = "The grant type is not supported."


class UnsupportedResponseType(OAuthError):
    """Only ``response_type=code`` is served; OAuth 2.1 drops the implicit grant (RFC 6749 §4.1.2.1)."""

    error = "unsupported_response_type"
    default_description = "Only response_type=code is supported."


class InvalidScope(OAuthError):
    """Unknown scope, ``openid`` missing, or wider than the original grant (RFC 6749 §5.2, §6)."""

    error = "invalid_scope"
    default_description = "The requested scope is invalid."


class InvalidTarget(OAuthError):
    """The ID-JAG audience or resource is not one this IdP issues for (RFC 8693 §2.2.2)."""

    error = "invalid_target"
    default_description = "The requested audience or resource is invalid or not allowed."


class AccessDenied(OAuthError):
    """The user cancelled sign-in (RFC 6749 §4.1.2.1)."""

    error = "access_denied"
    status_code = 403
    default_description = "The user denied the request."


class LoginRequired(OAuthError):
    """The user must sign in interactively (OIDC Core §3.1.2.6)."""

    error = "login_required"
    default_description = "The user must sign in."


class InvalidToken(OAuthError):
    """Bearer token missing its mark: unknown, expired or revoked (RFC 6750 §3.1)."""

    error = "invalid_token"
    status_code = 401
    default_description = "The access token is invalid, expired or revoked."

    @property
    def headers(self) -> dict[str, str]:
        """RFC 6750 §3: the challenge names the error."""
        challenge = f'Bearer realm="idp_mock", error="invalid_token", error_description="{self.description}"'
        return {"WWW-Authenticate": challenge}
