"""The one place OAuth errors become HTTP responses (RFC 6749 §5.2 JSON, ``Cache-Control: no-store``)."""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException

from broker.errors import InvalidRequest, OAuthError, ServerError

__all__ = [
    "NO_STORE",
    "http_exception_handler",
    "json_response",
    "oauth_error_handler",
    "unexpected_error_handler",
]

NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""RFC 6749 §5.1: token responses (and, by every spec example, errors) are not cached."""

_log = logging.getLogger("xaa.broker")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """RFC 6749 §5.2 error body."""

    error: str
    error_description: str | None = None


_encode = msgspec.json.Encoder().encode


def json_response(body: object, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    """A JSON response with the no-store headers."""
    return Response(
        _encode(body),
        status_code=status_code,
        media_type=MediaType.JSON,
        headers={**NO_STORE, **(headers or {})},
    )


def oauth_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Render an :class:`OAuthError`; its private ``detail`` is logged, never sent."""
    assert isinstance(exc, OAuthError)  # noqa: S101 - registered for OAuthError only
    level = logging.WARNING if exc.status_code >= 500 else logging.INFO
    _log.log(level, "oauth error %s on %s: %s", exc.error, request.url.path, exc.detail)
    return json_response(ErrorBody(exc.error, exc.description), exc.status_code, exc.headers)


def http_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Framework errors (404, 405, 413, ...) keep their status; 5xx become a generic ``server_error``."""
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    if exc.status_code >= 500:
        return unexpected_error_handler(request, exc)
    return json_response(ErrorBody(InvalidRequest.error, str(exc.detail)), exc.status_code, dict(exc.headers or {}))


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Anything else: a generic ``server_error``; the exception goes to the log only (never a token in it)."""
    _log.error("unexpected error on %s: %s", request.url.path, type(exc).__name__, exc_info=exc)
    err = ServerError()
    return json_response(ErrorBody(err.error, err.description), err.status_code)
