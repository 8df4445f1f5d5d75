"""Authorization endpoint (OIDC Core §3.1.2, RFC 6749 §4.1, RFC 7636) and the sign-in form it shows.

Errors are redirected to the client (RFC 6749 §4.1.2.1) only once ``client_id`` is known and
``redirect_uri`` exactly matches one it registered; before that they are an HTML page, so the
endpoint can never be used as an open redirector (RFC 9700 §4.11.1).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from litestar import MediaType, Request, Response, get, post
from litestar.datastructures import Cookie

from idp_mock.context import IdpContext, context_of
from idp_mock.errors import (
    AccessDenied,
    ErrorPage,
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    OAuthError,
    UnsupportedResponseType,
)
from idp_mock.login_page import error_page, login_page
from idp_mock.params import Params
from idp_mock.pkce import check_challenge
from idp_mock.state import (
    Authentication,
    AuthorizationCode,
    AuthorizationRequest,
    Grant,
    PendingLogin,
    new_secret,
)

__all__ = ["SCOPES_SUPPORTED", "authorize_get", "authorize_post", "login_submit"]

SCOPES_SUPPORTED: Final = ("openid", "profile", "email", "groups", "offline_access")
_COOKIE_PREFIX: Final = "idp_mock_login_"


@dataclass
class _Redirect(Exception):
    error: OAuthError
    redirect_uri: str
    state: str | None


def redirect_to(uri: str, params: dict[str, str | None], *, status_code: int = 302) -> Response[bytes]:
    """A redirect to ``uri`` with ``params`` added to its query (RFC 6749 §4.1.2: keep the URI's own query)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    headers = {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return Response(b"", status_code=status_code, media_type=MediaType.TEXT, headers=headers)


def _error_redirect(ctx: IdpContext, r: _Redirect, *, status_code: int = 302) -> Response[bytes]:
    params = {"error": r.error.error, "error_description": r.error.description, "state": r.state, "iss": ctx.issuer}
    return redirect_to(r.redirect_uri, params, status_code=status_code)


def _verified_client(ctx: IdpContext, params: Params) -> tuple[str, str]:
    """``client_id`` and exact ``redirect_uri`` (OAuth 2.1 §2.3.1, OIDC Core §3.1.2.1), else an error page."""
    try:
        client_id = params.one("client_id")
        redirect_uri = params.one("redirect_uri")
    except InvalidRequest as exc:
        raise ErrorPage(exc.description) from None
    if client_id is None:
        raise ErrorPage("The request has no client_id.")
    client = ctx.clients.get(client_id)
    if client is None:
        raise ErrorPage("The application (client_id) is not registered with this identity provider.")
    if redirect_uri is None:
        raise ErrorPage("The request has no redirect_uri.")
    if redirect_uri not in client.redirect_uris:
        raise ErrorPage("The redirect_uri is not registered for this application.")
    return client_id, redirect_uri


def parse_authorization_request(ctx: IdpContext, params: Params) -> tuple[AuthorizationRequest, str | None]:
    """Validate an authorization request; returns it with the ``login_hint``.

    Raises:
        ErrorPage: client or redirect URI not verified.
        _Redirect: any other error, delivered to the verified redirect URI.
    """
    client_id, redirect_uri = _verified_client(ctx, params)
    state = params.first("state")
    try:
        request, hint, prompt = _parse_rest(client_id, redirect_uri, params)
        if "none" in prompt:
            raise LoginRequired("prompt=none: this identity provider keeps no session to sign in silently.")
    except OAuthError as exc:
        raise _Redirect(exc, redirect_uri, state) from None
    return request, hint


def _parse_rest(
    client_id: str, redirect_uri: str, params: Params
) -> tuple[AuthorizationRequest, str | None, tuple[str, ...]]:
    for name in ("response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method", "prompt"):
        params.one(name)  # RFC 6749 §3.1: no repeats
    response_type = params.one("response_type")
    if response_type is None:
        raise InvalidRequest("The response_type parameter is required.")
    if response_type != "code":
        # OAuth 2.1 §4.1 / RFC 9700 §2.1.2: no implicit or hybrid flows.
        raise UnsupportedResponseType()
    mode = params.one("response_mode")
    if mode not in (None, "query"):
        raise InvalidRequest("Only response_mode=query is supported.")
    scope = tuple((params.one("scope") or "").split())
    if "openid" not in scope:
        raise InvalidScope("The scope must include openid (OIDC Core §3.1.2.1).")
    unknown = [s for s in scope if s not in SCOPES_SUPPORTED]
    if unknown:
        raise InvalidScope(f"Unknown scope: {unknown[0][:64]}.")
    problem = check_challenge(params.one("code_challenge"), params.one("code_challenge_method"))
    if problem is not None:
        raise InvalidRequest(problem)
    request = AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=tuple(dict.fromkeys(scope)),
        state=params.one("state"),
        nonce=params.one("nonce"),
        code_challenge=params.require("code_challenge"),
    )
    return request, params.one("login_hint"), tuple((params.one("prompt") or "").split())


def _issue_code(ctx: IdpContext, request: AuthorizationRequest, username: str, *, status_code: int) -> Response[bytes]:
    """Sign the user in and send the code back (RFC 6749 §4.1.2, RFC 9207 ``iss``)."""
    user = ctx.users[username]
    auth = Authentication(user=user, auth_time=ctx.now_int(), sid=new_secret())
    grant = Grant(id=new_secret(), client_id=request.client_id, scope=request.scope, auth=auth)
    code = ctx.state.add_code(
        AuthorizationCode(request=request, grant=grant, expires_at=ctx.now() + ctx.settings.code_ttl)
    )
    return redirect_to(
        request.redirect_uri, {"code": code, "state": request.state, "iss": ctx.issuer}, status_code=status_code
    )


async def _authorize(request: Request[Any, Any, Any], params: Params) -> Response[Any]:
    ctx = context_of(request.app.state)
    try:
        auth_request, hint = parse_authorization_request(ctx, params)
        if hint is not None:
            username = _user_for_hint(ctx, hint)
            if username is None:
                error = LoginRequired("login_hint names no user here.")
                raise _Redirect(error, auth_request.redirect_uri, auth_request.state)
            return _issue_code(ctx, auth_request, username, status_code=302)
    except ErrorPage as exc:
        return error_page(exc.message, status_code=exc.status_code)
    except _Redirect as r:
        return _error_redirect(ctx, r)
    return _show_login(ctx, auth_request)


def _user_for_hint(ctx: IdpContext, hint: str) -> str | None:
    """``login_hint`` is a username or a user's e-mail address (OIDC Core §3.1.2.1: "e-mail address")."""
    if hint in ctx.users:
        return hint
    return next((u.username for u in ctx.users.values() if u.email is not None and u.email == hint), None)


def _show_login(ctx: IdpContext, auth_request: AuthorizationRequest) -> Response[str]:
    pending = PendingLogin(
        request=auth_request,
        csrf_token=new_secret(),
        browser_binding=new_secret(),
        expires_at=ctx.now() + ctx.settings.login_ttl,
    )
    login_id = ctx.state.add_login(pending)
    response = _login_form(ctx, login_id, pending)
    # The CSRF token is also bound to this browser: SameSite=Lax keeps a cross-site POST from carrying it.
    response.set_cookie(
        Cookie(
            key=_COOKIE_PREFIX + login_id[:16],
            value=pending.browser_binding,
            path=_login_path(ctx),
            max_age=ctx.settings.login_ttl,
            httponly=True,
            samesite="lax",
            secure=ctx.issuer.startswith("https://"),
        )
    )
    return response


def _login_path(ctx: IdpContext) -> str:
    return urlsplit(ctx.endpoint("login")).path


def _login_form(
    ctx: IdpContext, login_id: str, pending: PendingLogin, *, error: str | None = None, status_code: int = 200
) -> Response[str]:
    return login_page(
        action=_login_path(ctx),
        client_id=pending.request.client_id,
        redirect_uri=pending.request.redirect_uri,
        users=list(ctx.users.values()),
        login_id=login_id,
        csrf_token=pending.csrf_token,
        error=error,
        status_code=status_code,
    )


@get("/authorize")
async def authorize_get(request: Request[Any, Any, Any]) -> Response[Any]:
    """``GET /authorize`` (OIDC Core §3.1.2.1)."""
    return await _authorize(request, Params(request.query_params.multi_items()))


@post("/authorize", status_code=200)
async def authorize_post(request: Request[Any, Any, Any]) -> Response[Any]:
    """``POST /authorize`` with a form body (OIDC Core §3.1.2.1: both methods MUST be supported)."""
    form = await request.form()
    return await _authorize(request, Params(form.multi_items()))


@post("/login", status_code=200)
async def login_submit(request: Request[Any, Any, Any]) -> Response[Any]:
    """The sign-in form's POST: check CSRF token and browser binding, then finish the authorization."""
    ctx = context_of(request.app.state)
    form = await request.form()
    fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
    login_id = fields.get("login_id", "")
    pending = ctx.state.peek_login(login_id) if login_id else None
    if pending is None:
        return error_page("This sign-in page has expired or was already used.")
    cookie = request.cookies.get(_COOKIE_PREFIX + login_id[:16], "")
    token_ok = hmac.compare_digest(fields.get("csrf_token", "").encode(), pending.csrf_token.encode())
    binding_ok = hmac.compare_digest(cookie.encode(), pending.browser_binding.encode())
    if not (token_ok and binding_ok):
        return error_page("The sign-in form could not be verified (CSRF check failed). Start again.", status_code=403)
    if fields.get("action") == "cancel":
        ctx.state.take_login(login_id)
        r = _Redirect(AccessDenied("The user cancelled sign-in."), pending.request.redirect_uri, pending.request.state)
        return _clear(_error_redirect(ctx, r, status_code=303), ctx, login_id)
    username = fields.get("username", "")
    if username not in ctx.users:
        return _login_form(ctx, login_id, pending, error="Choose a user to sign in as.", status_code=400)
    ctx.state.take_login(login_id)
    # RFC 9700 §4.12: 303 after a POST so the browser does not re-post the form to the client.
    return _clear(_issue_code(ctx, pending.request, username, status_code=303), ctx, login_id)


def _clear(response: Response[bytes], ctx: IdpContext, login_id: str) -> Response[bytes]:
    response.delete_cookie(_COOKIE_PREFIX + login_id[:16], path=_login_path(ctx))
    return response
