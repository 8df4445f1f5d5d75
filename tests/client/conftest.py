"""A live stack (IdP, broker, MCP deployment on real sockets) shared by the module's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.live import Stack, live_stack


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> AsyncIterator[Stack]:
    """The example configs, ports moved, broker state in the session's real Redis."""
    path: Path = tmp_path_factory.mktemp("stack")
    async with live_stack(path, redis_url=redis_url) as running:
        yield running
