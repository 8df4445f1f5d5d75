"""A minimal Chrome DevTools Protocol driver for headless Chromium (Debian's ``chromium``), over ``websockets``.

Only what the login-page test needs: navigate, evaluate, click at an element's centre, intercept a
request, read the accessibility tree, take a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
_GUARD = 30.0  # seconds: a hang guard only, nothing is asserted about time


class Page:
    """One page target driven over its CDP websocket."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._next_id = 0
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = json.loads(raw)
            if "id" in msg and msg["id"] in self._pending:
                self._pending.pop(msg["id"]).set_result(msg)
            elif "method" in msg:
                await self._events.put(msg)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a CDP method and return its ``result``."""
        self._next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = fut
        await self._ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        msg = await asyncio.wait_for(fut, _GUARD)
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        result: dict[str, Any] = msg.get("result", {})
        return result

    async def event(self, method: str) -> dict[str, Any]:
        """Wait for the next event named ``method`` (others are dropped)."""
        while True:
            msg = await asyncio.wait_for(self._events.get(), _GUARD)
            if msg["method"] == method:
                params: dict[str, Any] = msg["params"]
                return params

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (as a person would, not ``element.click()``)."""
        rect = await self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        x, y = rect
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    async def answer_intercepted(self, text: str) -> dict[str, Any]:
        """Wait for the next request paused by ``Fetch.enable`` and answer it with ``text``; return the request."""
        paused = await self.event("Fetch.requestPaused")
        await self.send(
            "Fetch.fulfillRequest",
            requestId=paused["requestId"],
            responseCode=200,
            responseHeaders=[{"name": "Content-Type", "value": "text/plain"}],
            body=base64.b64encode(text.encode()).decode(),
        )
        request: dict[str, Any] = paused["request"]
        return request

    async def screenshot(self, path: Path) -> None:
        data = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))

    async def close(self) -> None:
        self._reader.cancel()
        await self._ws.close()


@asynccontextmanager
async def chromium_page() -> AsyncIterator[Page]:
    """Launch headless Chromium with an empty profile and attach to its first page."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory(prefix="idp-mock-chromium-") as profile:
        proc = subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "--window-size=900,1000",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = await _devtools_port(Path(profile), proc)
            async with httpx.AsyncClient() as http:
                targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
            ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
            async with connect(ws_url, max_size=None) as ws:
                page = Page(ws)
                try:
                    yield page
                finally:
                    await page.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _devtools_port(profile: Path, proc: subprocess.Popen[bytes]) -> int:
    """Chromium writes the port it picked to ``DevToolsActivePort`` in the profile (readiness wait)."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + _GUARD
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"chromium exited with {proc.returncode}")
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().splitlines()[0])
        await asyncio.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port")
