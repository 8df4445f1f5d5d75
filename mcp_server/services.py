"""One sample MCP service (calendar, documents or tickets) on the official SDK's ``MCPServer``.

Each service is an OAuth protected resource (RFC 9728) whose every request needs its read scope;
tools that change data also need its write scope (checked here and, for an HTTP 403 step-up
challenge before the call, by :mod:`mcp_server.scope_gate`). Everything a user sees comes from the
verified token's (iss, sub): ``whoami``, the items, the MCP Resources and the ``ui://`` app view.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from mcp.server import MCPServer
from mcp.server.apps import APP_MIME_TYPE, Apps
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.server.mcpserver.resources import FunctionResource
from mcp.types import Resource as MCPResource
from mcp.types import ToolAnnotations

from mcp_server.data import KINDS, Item, UserData
from mcp_server.settings import ResolvedService
from mcp_server.verifier import BrokerTokenVerifier

__all__ = ["Caller", "ServiceServer", "build_service", "current_caller"]

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
_WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, from the verified access token (RFC 9068 §2.2)."""

    issuer: str
    subject: str
    client_id: str
    scopes: tuple[str, ...]
    claims: dict[str, Any]


def current_caller() -> Caller | None:
    """The verified caller of the current request, or None outside an authenticated request."""
    at = get_access_token()
    if at is None or at.subject is None or at.claims is None:
        return None
    return Caller(
        issuer=str(at.claims.get("iss", "")),
        subject=at.subject,
        client_id=at.client_id,
        scopes=tuple(at.scopes),
        claims=dict(at.claims),
    )


def _require_caller() -> Caller:
    caller = current_caller()
    if caller is None:
        raise ToolError("not authenticated")
    return caller


class ServiceServer(MCPServer[Any]):
    """``MCPServer`` whose ``resources/list`` adds the caller's own items (and nobody else's)."""

    def __init__(self, service: ResolvedService, data: UserData, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.data = data

    def item_uri(self, item: Item) -> str:
        """``{service}://{plural}/{id}``: the MCP Resource URI of an item."""
        return f"{self.service.name}://{self.data.kind.plural}/{item.id}"

    async def list_resources(self) -> list[MCPResource]:
        """The static resources (the app view) and the caller's items."""
        listed = await super().list_resources()
        caller = current_caller()
        if caller is None:
            return listed
        return listed + [
            MCPResource(name=item.title, uri=self.item_uri(item), mime_type="application/json", description=item.detail)
            for item in self.data.list(caller.issuer, caller.subject)
        ]


def _render_view(service: ResolvedService, caller: Caller, items: list[Item]) -> str:
    rows = "".join(
        f"<li><strong>{html.escape(i.title)}</strong> <span>{html.escape(i.detail)}</span></li>" for i in items
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(service.title)}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:1rem}li{margin:.3rem 0}span{color:#555}</style>"
        f"</head><body><h1>{html.escape(service.title)}</h1>"
        f"<p>Signed in as <code>{html.escape(caller.subject)}</code> via <code>{html.escape(caller.client_id)}</code>"
        f" with scopes <code>{html.escape(' '.join(caller.scopes))}</code>.</p>"
        f"<ul>{rows}</ul></body></html>"
    )


def build_service(
    service: ResolvedService, verifier: BrokerTokenVerifier, *, authorization_server: str
) -> ServiceServer:
    """Build the ``MCPServer`` of one service: tools, resources, templates and the ``ui://`` view."""
    kind = KINDS[service.kind]
    data = UserData(kind)
    apps = Apps()
    view_uri = f"ui://{service.name}/view.html"

    async def show_view() -> str:
        c = _require_caller()
        return f"{len(data.list(c.issuer, c.subject))} {kind.plural} for {c.subject}; open {view_uri} to see them."

    async def render_view() -> str:
        c = current_caller()
        if c is None:
            raise ResourceError("not authenticated")
        return _render_view(service, c, data.list(c.issuer, c.subject))

    apps.tool(
        resource_uri=view_uri,
        name=f"show_{kind.plural}",
        description=f"Show the signed-in user's {kind.plural} as an app view.",
        annotations=_READ_ONLY,
    )(show_view)
    apps.add_resource(
        FunctionResource(
            uri=view_uri,
            name=f"{service.name}-view",
            title=f"{service.title}: my {kind.plural}",
            mime_type=APP_MIME_TYPE,
            fn=render_view,
        )
    )
    srv = ServiceServer(
        service,
        data,
        name=service.name,
        title=service.title,
        token_verifier=verifier,
        log_level="WARNING",
        extensions=[apps],
        auth=AuthSettings(
            issuer_url=authorization_server,  # type: ignore[arg-type]  # pydantic coerces str to AnyHttpUrl
            resource_server_url=service.resource,  # type: ignore[arg-type]
            required_scopes=[service.read_scope],
            validate_token_resource=True,
        ),
    )

    async def whoami() -> dict[str, Any]:
        """Who the access token says is calling: subject, client, scopes, issuer and audience."""
        c = _require_caller()
        return {
            "service": service.name,
            "sub": c.subject,
            "client_id": c.client_id,
            "scopes": list(c.scopes),
            "iss": c.issuer,
            "aud": c.claims.get("aud"),
            "exp": c.claims.get("exp"),
        }

    async def list_items() -> list[dict[str, str]]:
        c = _require_caller()
        return [i.as_dict() | {"uri": srv.item_uri(i)} for i in data.list(c.issuer, c.subject)]

    async def create_item(title: str, detail: str = "") -> dict[str, str]:
        c = _require_caller()
        if service.write_scope not in c.scopes:
            raise ToolError(f"insufficient_scope: this tool requires the scope {service.write_scope}")
        if not title.strip() or len(title) > 200 or len(detail) > 2000:
            raise ToolError("title must be 1-200 characters and detail at most 2000")
        item = data.add(c.issuer, c.subject, title.strip(), detail)
        return item.as_dict() | {"uri": srv.item_uri(item)}

    async def read_item(item_id: str) -> str:
        c = current_caller()
        item = data.get(c.issuer, c.subject, item_id) if c else None
        if item is None:
            raise ResourceError(f"no such {kind.noun}")  # another user's item looks exactly like a missing one
        return json.dumps(item.as_dict())

    srv.add_tool(whoami, name="whoami", annotations=_READ_ONLY)
    srv.add_tool(
        list_items,
        name=f"list_{kind.plural}",
        description=f"List the signed-in user's {kind.plural}.",
        annotations=_READ_ONLY,
    )
    srv.add_tool(
        create_item,
        name=f"create_{kind.noun}",
        description=f"Create a {kind.noun} for the signed-in user (needs the {service.write_scope} scope).",
        annotations=_WRITE,
    )
    srv.resource(
        f"{service.name}://{kind.plural}/{{item_id}}",
        name=f"{kind.noun}",
        description=f"One of the signed-in user's {kind.plural}.",
        mime_type="application/json",
    )(read_item)
    return srv


WRITE_TOOLS_BY_KIND = {k: frozenset({f"create_{v.noun}"}) for k, v in KINDS.items()}
"""Tools that need the write scope, per kind (read by the scope gate)."""
