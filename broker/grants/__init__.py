"""Grant handlers, one module per grant type, registered in one table per role (STYLE P2).

Adding a grant means one new module and one line here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from broker.grants import access_token_exchange, authorization_code, jwt_bearer, refresh_token, token_exchange
from broker.grants.base import AuthenticatedClient, GrantContext, TokenResponse

__all__ = ["GRANT_HANDLERS", "GrantHandler", "Role"]

Role = Literal["idp", "as"]


@dataclass(frozen=True, slots=True)
class GrantHandler:
    """A grant type's request Struct, its multi-valued parameters and its handler."""

    request_type: type[Any]
    multi_valued: frozenset[str]
    handle: Callable[[Any, AuthenticatedClient, GrantContext], Awaitable[TokenResponse]]


GRANT_HANDLERS: Final[Mapping[Role, Mapping[str, GrantHandler]]] = {
    "idp": {
        token_exchange.GRANT_TYPE: GrantHandler(
            token_exchange.Request, token_exchange.MULTI_VALUED, token_exchange.handle
        ),
    },
    "as": {
        jwt_bearer.GRANT_TYPE: GrantHandler(jwt_bearer.Request, jwt_bearer.MULTI_VALUED, jwt_bearer.handle),
        access_token_exchange.GRANT_TYPE: GrantHandler(
            access_token_exchange.Request, access_token_exchange.MULTI_VALUED, access_token_exchange.handle
        ),
        authorization_code.GRANT_TYPE: GrantHandler(
            authorization_code.Request, authorization_code.MULTI_VALUED, authorization_code.handle
        ),
        refresh_token.GRANT_TYPE: GrantHandler(refresh_token.Request, refresh_token.MULTI_VALUED, refresh_token.handle),
    },
}
"""Role -> grant_type -> handler. Leg 1 serves token exchange to ID-JAGs; leg 2 serves the jwt-bearer
grant and the one-call token exchange to access tokens, and the interactive fallback's authorization
code and refresh token grants (clients must be allowed them, which needs ``[interactive]``)."""
