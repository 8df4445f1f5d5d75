"""JSON and error responses: RFC 6749 §5.1 ``no-store`` on everything that may carry a token or an error."""

from __future__ import annotations

import logging
from typing import Any, Final

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException

from idp_mock.errors import OAuthError

__all__ = ["NO_STORE", "http_exception_handler", "json_response", "oauth_error_response", "unexpected_error_handler"]

NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""RFC 6749 §5.1: responses with tokens (and, by every example, errors) must not be cached."""

_log = logging.getLogger("idp_mock")
_encode = msgspec.json.Encoder().encode


def json_response(body: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[bytes]:
    """A JSON response with the no-store headers."""
    return Response(
        _encode(body), status_code=status_code, media_type=MediaType.JSON, headers={**NO_STORE, **(headers or {})}
    )


def oauth_error_response(exc: OAuthError) -> Response[bytes]:
    """RFC 6749 §5.2 error body: ``error`` and ``error_description``."""
    _log.info("oauth error %s: %s", exc.error, exc.description)
    return json_response({"error": exc.error, "error_description": exc.description}, exc.status_code, exc.headers)


def http_exception_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Framework errors (404, 405, 413, malformed bodies) as an OAuth-shaped body; 5xx as ``server_error``."""
    assert isinstance(exc, HTTPException)  # noqa: S101 - registered for HTTPException only
    if exc.status_code >= 500:
        return json_response({"error": "server_error", "error_description": "Internal error."}, 500)
    body = {"error": "invalid_request", "error_description": str(exc.detail)}
    return json_response(body, exc.status_code, dict(exc.headers or {}))


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Anything else: generic ``server_error``; the exception type goes to the log, never to the client."""
    _log.error("unexpected error on %s: %s", request.url.path, type(exc).__name__, exc_info=exc)
    return json_response({"error": "server_error", "error_description": "Internal error."}, 500)
