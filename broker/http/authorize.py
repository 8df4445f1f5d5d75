"""Routes of the interactive fallback at leg 2: authorize, IdP chooser, IdP callback, consent."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import State

from broker.errors import UnsupportedResponseType
from broker.http.token import Services
from broker.interactive.flow import InteractiveFlow

__all__ = ["build_interactive_routes"]


def _flow(state: State) -> InteractiveFlow:
    """The interactive flow, or the honest error DESIGN OQ-17 asks for while it is off (never a redirect)."""
    services: Services = state.services
    if services.flow is None:
        raise UnsupportedResponseType(
            "Interactive authorization is not enabled on this broker; use the SEP-990 ID-JAG flow."
        )
    return services.flow


def build_interactive_routes(as_path: str) -> list[Any]:
    """Routes under the leg-2 issuer path; all answer ``unsupported_response_type`` while disabled."""

    @get(f"{as_path}/authorize")
    async def as_authorize(request: Request[Any, Any, State], state: State) -> Response[Any]:
        """OAuth 2.1 §4.1.1 authorization endpoint."""
        flow = _flow(state)
        return await flow.authorize(request.query_params.multi_items())

    @get(f"{as_path}/login")
    async def as_login(request: Request[Any, Any, State], state: State) -> Response[Any]:
        """The IdP chooser's choice."""
        flow = _flow(state)
        return await flow.choose(request.query_params.multi_items(), request.cookies)

    @get(f"{as_path}/callback")
    async def as_callback(request: Request[Any, Any, State], state: State) -> Response[Any]:
        """The enterprise IdP's authorization response (the broker as relying party)."""
        flow = _flow(state)
        return await flow.callback(request.query_params.multi_items(), request.cookies)

    @post(f"{as_path}/consent", status_code=200)
    async def as_consent(request: Request[Any, Any, State], state: State) -> Response[Any]:
        """The consent form's decision."""
        flow = _flow(state)
        form = await request.form()
        return await flow.consent(form.multi_items(), request.cookies)

    return [as_authorize, as_login, as_callback, as_consent]
