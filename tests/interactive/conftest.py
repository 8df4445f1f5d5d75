"""A live stack with the interactive fallback on, shared by the module's tests, and a scripted browser."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.interactive.browser import Browser
from tests.live import Stack, free_port, live_stack

CLIENT_REDIRECT = f"http://127.0.0.1:{free_port()}/callback"
"""The public client's loopback redirect URI (registered without a port: RFC 8252 §7.3); never served."""
CIMD_PORT = free_port()
CIMD_CLIENT_ID = f"http://127.0.0.1:{CIMD_PORT}/oauth/client.json"
"""A client identified by its metadata document (served by the test that uses it)."""

EXTRA = f"""allow_insecure_metadata_documents = true   # loopback http documents, tests only

[[idp]]                          # a second IdP users may sign in at: the chooser page appears without a hint
name = "globex"
issuer = "https://login.globex.example"
jwks_uri = "https://login.globex.example/jwks"
[idp.login]
client_id = "xaa-at-globex"
domains = ["globex.example"]
display_name = "Globex"
authorization_endpoint = "https://login.globex.example/authorize"
token_endpoint = "https://login.globex.example/token"

[[policy]]
idp = "acme"
clients = ["{CIMD_CLIENT_ID}"]
resources = ["http://127.0.0.1:8101/tickets/mcp"]
scopes = ["tickets.read"]
"""


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> AsyncIterator[Stack]:
    """The example configs (interactive fallback on), ports moved, broker state in the session's Redis."""
    path: Path = tmp_path_factory.mktemp("stack")
    async with live_stack(path, redis_url=redis_url, extra_config=EXTRA) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """A fresh browser (cookie jar) that stops at redirects to the loopback client callback."""
    b = Browser(CLIENT_REDIRECT)
    yield b
    await b.aclose()
