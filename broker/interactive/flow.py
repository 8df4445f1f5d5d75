"""The authorization endpoint and the sign-in around it (OAuth 2.1 §4.1, RFC 6749 §4.1, RFC 9207).

``/authorize`` validates the client's request; ``/login`` takes the IdP chosen on the chooser page;
``/callback`` receives the IdP's answer; ``/consent`` takes the user's decision.

Errors follow RFC 6749 §4.1.2.1: until the client is known and the ``redirect_uri`` is verified
against its registration, an error is an HTML page, never a redirect (no open redirector, RFC 9700
§4.11.1); after that, errors go back to the client with ``state`` and ``iss``. Every step after the
first is bound to the browser that started it by a random cookie (login CSRF, RFC 9700 §4.7), and
the consent form also carries a CSRF token; both compare in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from hashlib import sha256
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from litestar import MediaType, Response

from broker.cimd import ClientMetadataError
from broker.clients import ClientRegistry
from broker.constants import GRANT_AUTHORIZATION_CODE
from broker.core.jose import TokenInvalid
from broker.core.pkce import is_challenge
from broker.core.redirects import redirect_uri_matches
from broker.core.scopes import parse_scope
from broker.errors import (
    AccessDenied,
    InvalidRequest,
    InvalidScope,
    InvalidTarget,
    LoginRequired,
    OAuthError,
    TemporarilyUnavailable,
    UnsupportedResponseType,
)
from broker.grants._identity import authorize_identity, groups_of, verify_id_token_of
from broker.grants.base import AuthenticatedClient, GrantContext
from broker.interactive.federation import Federation, FederationError
from broker.interactive.pages import PAGE_HEADERS, chooser_page, consent_page, error_page
from broker.interactive.records import (
    CodeRecord,
    GrantRecord,
    SignIn,
    code_key,
    decode,
    encode,
    new_secret,
    sign_in_key,
)
from broker.settings import ClientConfig, IdpTrust

__all__ = ["InteractiveFlow"]

_COOKIE_PREFIX: Final = "xaa_signin_"
_MAX_PARAM: Final = 2048
Params = Mapping[str, list[str]]


class _Page(Exception):
    """Show an error page: the redirect URI is not (yet) verified."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class _Redirect(Exception):
    """Send an OAuth error back to the client's verified redirect URI."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.error)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state


def _params(items: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in items:
        if isinstance(v, str) and v != "":  # RFC 6749 §3.1: empty values are treated as omitted
            out.setdefault(k, []).append(v)
    return out


def _one(params: Params, name: str, *, on_error: _Redirect | None = None) -> str | None:
    """A single-valued parameter (RFC 6749 §3.1: none may repeat), bounded in length."""
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1 or len(values[0]) > _MAX_PARAM:
        problem = f"The {name} parameter must appear once and be at most {_MAX_PARAM} characters."
        if on_error is None:
            raise _Page(problem)
        raise _Redirect(InvalidRequest(problem), on_error.redirect_uri, on_error.state)
    return values[0]


def _cookie_name(handle: str) -> str:
    return _COOKIE_PREFIX + sha256(handle.encode()).hexdigest()[:16]


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and hmac.compare_digest(a.encode(), b.encode())


def _redirect(uri: str, params: Mapping[str, str | None], *, status_code: int) -> Response[bytes]:
    """A redirect to ``uri`` with ``params`` added to its query (RFC 6749 §4.1.2: keep the URI's own query)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return Response(
        b"",
        status_code=status_code,
        media_type=MediaType.TEXT,
        headers={**PAGE_HEADERS, "Location": location},
    )


class InteractiveFlow:
    """Serves the interactive flow's browser-facing endpoints; one instance per app."""

    def __init__(self, ctx: GrantContext, registry: ClientRegistry, federation: Federation, as_path: str) -> None:
        self._ctx = ctx
        self._registry = registry
        self._federation = federation
        self._as_path = as_path
        self._login_idps = [i for i in ctx.settings.idp if i.login is not None]
        self._by_domain = {d: i for i in self._login_idps for d in (i.login.domains if i.login else ())}

    # -- /authorize ---------------------------------------------------------------------------

    async def authorize(self, items: Iterable[tuple[str, Any]]) -> Response[Any]:
        """``GET /as/authorize``: validate, remember the request, send the user to an IdP (or the chooser)."""
        try:
            signin, client = await self._parse(_params(items))
            handle = new_secret()
            idp = self._pick_idp(signin.login_hint)
            if idp is None:
                await self._save(handle, signin)
                action = f"{self._as_path}/login"
                choices = [(i.name, (i.login.display_name if i.login else None) or i.name) for i in self._login_idps]
                response: Response[Any] = chooser_page(action, handle, choices)
            else:
                response = await self._to_idp(handle, signin, idp)
        except _Page as p:
            return error_page(p.message, status_code=p.status_code)
        except _Redirect as r:
            return self._error_redirect(r, status_code=302)
        self._ctx.audit.event("authorize.started", "pending", client_id=client.client_id, resource=signin.resource)
        return self._bind(response, handle, signin.binding)

    async def _parse(self, params: Params) -> tuple[SignIn, ClientConfig]:
        client_id = _one(params, "client_id")
        if client_id is None:
            raise _Page("The request has no client_id.")
        try:
            client = await self._registry.find(client_id)
        except ClientMetadataError as exc:
            raise _Page(f"The client's metadata document cannot be used: {exc.reason}.") from None
        if client is None:
            raise _Page("The client is not known to this authorization server.")
        if GRANT_AUTHORIZATION_CODE not in client.grant_types:
            raise _Page("This client is not allowed to use the authorization code flow.")
        redirect_uri = _one(params, "redirect_uri")
        if redirect_uri is None or not redirect_uri_matches(client.redirect_uris, redirect_uri):
            raise _Page("The redirect_uri is missing or not registered for this client.")
        # The redirect URI is verified: from here on, errors go back to the client.
        state = _one(params, "state")
        back = _Redirect(InvalidRequest(), redirect_uri, state)
        try:
            return self._validated(params, client, redirect_uri, state, back), client
        except OAuthError as exc:
            raise _Redirect(exc, redirect_uri, state) from None

    def _validated(
        self, params: Params, client: ClientConfig, redirect_uri: str, state: str | None, back: _Redirect
    ) -> SignIn:
        response_type = _one(params, "response_type", on_error=back)
        if response_type != "code":
            raise UnsupportedResponseType("Only response_type=code is supported (OAuth 2.1 §4.1).")
        if "request" in params or "request_uri" in params:
            raise InvalidRequest("Request objects are not supported.")
        challenge = _one(params, "code_challenge", on_error=back)
        method = _one(params, "code_challenge_method", on_error=back)
        if challenge is None:
            raise InvalidRequest("PKCE is required: send code_challenge with code_challenge_method=S256.")
        if method != "S256":
            raise InvalidRequest("code_challenge_method must be S256 (plain is not supported).")
        if not is_challenge(challenge):
            raise InvalidRequest("The code_challenge is not a base64url S256 value.")
        resources = params.get("resource") or []
        if not resources:
            raise InvalidTarget("The resource parameter is required (RFC 8707): name the MCP server.")
        if len(resources) > 1:
            raise InvalidTarget("Request access to one resource per authorization.")
        resource = self._ctx.trust.resources.get(resources[0])
        if resource is None:
            raise InvalidTarget("The resource is not governed by this authorization server.")
        scope = _one(params, "scope", on_error=back)
        requested = parse_scope(scope)
        if requested is not None and not requested <= set(resource.scopes):
            extra = " ".join(sorted(requested - set(resource.scopes)))
            raise InvalidScope("The requested scope is not offered by the resource.", detail=f"unknown: {extra}")
        prompt = _one(params, "prompt", on_error=back)
        if prompt is not None and "none" in prompt.split():
            raise LoginRequired()
        return SignIn(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            state=state,
            code_challenge=challenge,
            resource=resource.resource,
            scope=scope,
            binding=new_secret(),
            login_hint=_one(params, "login_hint", on_error=back),
        )

    def _pick_idp(self, login_hint: str | None) -> IdpTrust | None:
        """The IdP for this sign-in: by the hint's e-mail domain, the only one, or None (chooser)."""
        if login_hint is not None and "@" in login_hint:
            idp = self._by_domain.get(login_hint.rsplit("@", 1)[1].lower())
            if idp is not None:
                return idp
        return self._login_idps[0] if len(self._login_idps) == 1 else None

    async def _to_idp(self, handle: str, signin: SignIn, idp: IdpTrust) -> Response[Any]:
        """Remember the sign-in and redirect to the IdP (auth code + PKCE + nonce)."""
        try:
            endpoints = await self._federation.endpoints(idp)
        except FederationError as exc:
            self._ctx.audit.event("authorize.refused", TemporarilyUnavailable.error, idp=idp.name, reason=str(exc))
            raise _Redirect(
                TemporarilyUnavailable("The identity provider cannot be reached; try again later."),
                signin.redirect_uri,
                signin.state,
            ) from None
        signin.idp = idp.name
        signin.nonce = new_secret()
        signin.idp_verifier = new_secret()
        await self._save(handle, signin)
        url = self._federation.authorization_url(
            idp, endpoints, state=handle, nonce=signin.nonce, verifier=signin.idp_verifier, login_hint=signin.login_hint
        )
        return _redirect(url, {}, status_code=302)

    # -- /login (chooser) -------------------------------------------------------------------------

    async def choose(self, items: Iterable[tuple[str, Any]], cookies: Mapping[str, str]) -> Response[Any]:
        """``GET /as/login?signin=...&idp=...``: continue with the IdP picked on the chooser page."""
        try:
            params = _params(items)
            handle, signin = await self._bound(_one(params, "signin"), cookies)
            name = _one(params, "idp")
            idp = self._ctx.trust.idp_by_name.get(name or "")
            if idp is None or idp.login is None:
                raise _Page("Choose one of the listed organisations.")
            return await self._to_idp(handle, signin, idp)
        except _Page as p:
            return error_page(p.message, status_code=p.status_code)
        except _Redirect as r:
            return self._error_redirect(r, status_code=302)

    # -- /callback --------------------------------------------------------------------------------

    async def callback(self, items: Iterable[tuple[str, Any]], cookies: Mapping[str, str]) -> Response[Any]:
        """``GET /as/callback``: the IdP's answer; verify, apply policy, then consent or a code."""
        params = _params(items)
        try:
            handle, signin = await self._bound(_one(params, "state"), cookies)
        except _Page as p:
            return error_page(p.message, status_code=p.status_code)
        await self._ctx.store.state_take(sign_in_key(handle))  # one answer per sign-in
        try:
            return await self._answered(params, handle, signin)
        except _Page as p:
            return self._unbind(error_page(p.message, status_code=p.status_code), handle)
        except _Redirect as r:
            return self._unbind(self._error_redirect(r, status_code=302), handle)

    async def _answered(self, params: Params, handle: str, signin: SignIn) -> Response[Any]:
        ctx = self._ctx
        idp = ctx.trust.idp_by_name.get(signin.idp or "")
        if idp is None or idp.login is None or signin.nonce is None or signin.idp_verifier is None:
            raise _Page("This sign-in did not go to an identity provider.")
        iss = _one(params, "iss")
        if iss is not None and iss != idp.issuer:
            # RFC 9207 §2.4: a response from another issuer is a mix-up attack; stop here.
            ctx.audit.event("authorize.refused", "mix_up", idp=idp.name, reason="iss differs from the chosen IdP")
            raise _Page("The sign-in answer came from an unexpected identity provider.", 403)

        def back(error: OAuthError) -> _Redirect:
            return _Redirect(error, signin.redirect_uri, signin.state)

        idp_error = _one(params, "error")
        code = _one(params, "code")
        if idp_error is not None or code is None:
            ctx.audit.event("authorize.refused", AccessDenied.error, idp=idp.name, reason=f"idp error {idp_error}")
            raise back(AccessDenied("Sign-in at the identity provider did not complete."))
        try:
            id_token = await self._federation.redeem(idp, code, signin.idp_verifier)
            claims = await verify_id_token_of(idp, id_token, ctx, audience=idp.login.client_id, nonce=signin.nonce)
        except FederationError as exc:
            ctx.audit.event("authorize.refused", TemporarilyUnavailable.error, idp=idp.name, reason=str(exc))
            raise back(TemporarilyUnavailable("The identity provider cannot be reached; try again later.")) from None
        except TokenInvalid as exc:
            ctx.audit.event("authorize.refused", AccessDenied.error, idp=idp.name, reason=f"id token: {exc.reason}")
            raise back(AccessDenied("The identity provider's answer could not be verified.")) from None
        except TemporarilyUnavailable as exc:
            raise back(exc) from None
        client = await self._client(signin.client_id)
        try:
            grant = authorize_identity(
                idp,
                claims,
                AuthenticatedClient(client, "redirect_uri"),
                ctx,
                audience=ctx.settings.as_issuer,
                resource=signin.resource,
                scope=signin.scope,
            )
        except OAuthError as exc:
            ctx.audit.event(
                "authorize.refused",
                exc.error,
                idp=idp.name,
                client_id=client.client_id,
                sub=ctx.trust.subject_for(idp, str(claims.get("sub"))),
                resource=signin.resource,
                reason=exc.detail or exc.description,
            )
            if isinstance(exc, InvalidScope):
                raise back(InvalidScope("The requested scope is not allowed for this user.")) from None
            raise back(AccessDenied("You are not allowed to give this client access to the resource.")) from None
        record = GrantRecord.of(grant, groups_of(claims, idp.groups_claim))
        if not client.consent:
            return self._unbind(await self._issue_code(signin, record, client, status_code=302), handle)
        signin.grant = record
        signin.csrf = new_secret()
        await self._save(handle, signin)
        email = claims.get("email")
        resource = ctx.trust.resources[record.resource]
        return consent_page(
            action=f"{self._as_path}/consent",
            handle=handle,
            csrf=signin.csrf,
            client_name=client.name or client.client_id,
            client_id=client.client_id,
            redirect_host=urlsplit(signin.redirect_uri).netloc or urlsplit(signin.redirect_uri).scheme,
            resource_name=resource.name or resource.resource,
            resource=resource.resource,
            scopes=record.scopes,
            user=email if isinstance(email, str) else record.subject,
        )

    # -- /consent ---------------------------------------------------------------------------------

    async def consent(self, items: Iterable[tuple[str, Any]], cookies: Mapping[str, str]) -> Response[Any]:
        """``POST /as/consent``: the user's decision, checked against the cookie and the form's CSRF token."""
        try:
            params = _params(items)
            handle, signin = await self._bound(_one(params, "signin"), cookies)
            if signin.grant is None or not _same(_one(params, "csrf_token"), signin.csrf):
                self._ctx.audit.event("authorize.refused", "csrf", client_id=signin.client_id)
                raise _Page("The consent form could not be verified. Start again from the application.", 403)
            if await self._ctx.store.state_take(sign_in_key(handle)) is None:
                raise _Page("This consent form was already answered.")
            client = await self._client(signin.client_id)
            if _one(params, "decision") != "allow":
                self._ctx.audit.event(
                    "authorize.refused", AccessDenied.error, client_id=client.client_id, reason="user"
                )
                raise _Redirect(AccessDenied("The user denied access."), signin.redirect_uri, signin.state)
            return self._unbind(await self._issue_code(signin, signin.grant, client, status_code=303), handle)
        except _Page as p:
            return error_page(p.message, status_code=p.status_code)
        except _Redirect as r:
            return self._error_redirect(r, status_code=303)

    # -- shared -----------------------------------------------------------------------------------

    async def _issue_code(
        self, signin: SignIn, record: GrantRecord, client: ClientConfig, *, status_code: int
    ) -> Response[Any]:
        """Issue a code bound to client, redirect URI, PKCE challenge and grant (RFC 6749 §4.1.2)."""
        ctx = self._ctx
        code = new_secret()
        stored = CodeRecord(
            client_id=client.client_id,
            redirect_uri=signin.redirect_uri,
            code_challenge=signin.code_challenge,
            grant=record,
            family=new_secret(),
        )
        await ctx.store.state_put(code_key(code), encode(stored), ctx.settings.interactive.code_ttl)
        ctx.audit.event(
            "authorize.code_issued",
            "granted",
            idp=record.idp,
            client_id=client.client_id,
            sub=record.subject,
            resource=record.resource,
            scope=" ".join(record.scopes),
        )
        params = {"code": code, "state": signin.state, "iss": ctx.settings.as_issuer}
        return _redirect(signin.redirect_uri, params, status_code=status_code)

    def _error_redirect(self, r: _Redirect, *, status_code: int) -> Response[bytes]:
        params = {
            "error": r.error.error,
            "error_description": r.error.description,
            "state": r.state,
            "iss": self._ctx.settings.as_issuer,  # RFC 9207 §2: also on error responses
        }
        return _redirect(r.redirect_uri, params, status_code=status_code)

    async def _client(self, client_id: str) -> ClientConfig:
        try:
            client = await self._registry.find(client_id)
        except ClientMetadataError as exc:
            raise _Page(f"The client's metadata document cannot be used: {exc.reason}.") from None
        if client is None:
            raise _Page("The client is no longer known to this authorization server.")
        return client

    async def _save(self, handle: str, signin: SignIn) -> None:
        await self._ctx.store.state_put(sign_in_key(handle), encode(signin), self._ctx.settings.interactive.login_ttl)

    async def _bound(self, handle: str | None, cookies: Mapping[str, str]) -> tuple[str, SignIn]:
        """The sign-in named by ``handle``, if this browser started it (cookie binding)."""
        raw = await self._ctx.store.state_get(sign_in_key(handle)) if handle else None
        if handle is None or raw is None:
            raise _Page("This sign-in has expired or was already completed. Start again from the application.")
        signin: SignIn = decode(raw, SignIn)
        if not _same(cookies.get(_cookie_name(handle)), signin.binding):
            self._ctx.audit.event("authorize.refused", "browser_binding", client_id=signin.client_id)
            raise _Page("This sign-in was started in another browser. Start again from the application.", 403)
        return handle, signin

    def _bind(self, response: Response[Any], handle: str, binding: str) -> Response[Any]:
        response.set_cookie(
            key=_cookie_name(handle),
            value=binding,
            path=self._as_path,
            max_age=self._ctx.settings.interactive.login_ttl,
            httponly=True,
            samesite="lax",  # sent on the IdP's top-level redirect back, not on cross-site POSTs
            secure=self._ctx.settings.public_url.startswith("https://"),
        )
        return response

    def _unbind(self, response: Response[Any], handle: str) -> Response[Any]:
        response.delete_cookie(_cookie_name(handle), path=self._as_path)
        return response
