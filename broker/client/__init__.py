"""The agent-side client: leg 1, leg 2 or the shortcut against the broker, cached, with typed errors.

Example::

    async with BrokerClient.for_broker("http://127.0.0.1:8000", "agent-app", secret) as broker:
        token = await broker.access_token(id_token, resource="http://127.0.0.1:8101/calendar/mcp")

    # or let the MCP SDK drive leg 2 and call back for leg 1:
    auth = IdentityAssertionOAuthProvider(..., issuer=broker.as_issuer,
                                          assertion_provider=broker.assertion_provider(id_token))
"""

from broker.client.agent import AuthMethod, BrokerClient, Credentials, IdTokenSource, IssuedToken
from broker.client.errors import (
    BadBrokerResponse,
    BrokerError,
    BrokerUnreachable,
    InvalidClientError,
    InvalidGrantError,
    InvalidScopeError,
    InvalidTargetError,
    TemporarilyUnavailableError,
    TokenRequestError,
    UnauthorizedClientError,
)

__all__ = [
    "AuthMethod",
    "BadBrokerResponse",
    "BrokerClient",
    "BrokerError",
    "BrokerUnreachable",
    "Credentials",
    "IdTokenSource",
    "InvalidClientError",
    "InvalidGrantError",
    "InvalidScopeError",
    "InvalidTargetError",
    "IssuedToken",
    "TemporarilyUnavailableError",
    "TokenRequestError",
    "UnauthorizedClientError",
]
