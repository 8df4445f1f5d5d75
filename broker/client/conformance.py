"""The client the MCP conformance suite drives (``scripts/conformance``).

The runner calls ``python -m broker.client.conformance <server-url>`` with the scenario's context in
``MCP_CONFORMANCE_CONTEXT``: the user's ID token and the IdP's token endpoint, the agent's client id
at the IdP, and its credentials at the MCP authorization server. The client discovers that server
from the MCP server (RFC 9728), runs leg 1 at the IdP and leg 2 through the SDK, then lists tools.
Exit status 0 when the session worked.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import httpx2

from broker.client.agent import BrokerClient, Credentials
from broker.client.errors import BrokerError
from broker.client.mcp import discover, open_session

__all__ = ["main", "run"]


async def run(server_url: str, context: dict[str, str]) -> list[str]:
    """Connect to ``server_url`` as the scenario describes; return the names of the server's tools."""
    async with httpx2.AsyncClient(timeout=10) as http:
        protected = await discover(server_url, http)
    issuer = protected.authorization_servers[0]
    broker = BrokerClient(
        idp_issuer=context["idp_issuer"],
        idp_token_endpoint=context["idp_token_endpoint"],
        idp_credentials=Credentials(context["idp_client_id"], "", "none"),
        as_issuer=issuer,
        credentials=Credentials(context["client_id"], context["client_secret"]),
    )
    async with (
        broker,
        open_session(
            server_url,
            issuer=issuer,
            client_id=context["client_id"],
            client_secret=context["client_secret"],
            assertion_provider=broker.assertion_provider(context["idp_id_token"]),
        ) as session,
    ):
        return [t.name for t in (await session.list_tools()).tools]


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m broker.client.conformance <server-url>``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or "MCP_CONFORMANCE_CONTEXT" not in os.environ:
        print(
            "usage: MCP_CONFORMANCE_CONTEXT='{...}' python -m broker.client.conformance <server-url>", file=sys.stderr
        )
        return 2
    context = json.loads(os.environ["MCP_CONFORMANCE_CONTEXT"])
    try:
        tools = asyncio.run(run(args[0], context))
    except BrokerError as exc:
        print(f"conformance client failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"connected; tools: {', '.join(tools) or '(none)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
