"""Grant handlers, one module per grant type, registered in one table per role (STYLE P2).

Adding a grant means one new module and one line here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from broker.grants import access_token_exchange, jwt_bearer, token_exchange
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
    },
}
"""Role -> grant_type -> handler. Leg 1 serves token exchange to ID-JAGs; leg 2 serves the jwt-bearer
grant and the one-call token exchange to access tokens."""
