"""Issue 5: the official MCP conformance scenario for SEP-990 passes against the agent client.

Runs ``scripts/conformance`` (``@modelcontextprotocol/conformance@0.1.16``, client mode,
``auth/cross-app-access-complete-flow``): the suite's own IdP, authorization server and MCP server
check every request of both legs. Skipped only when npm or the npm registry is not available to
install the suite; once installed, any failing check fails this test.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.live import ROOT

CONF = ROOT / ".conformance"
PACKAGES = ("node@22", "@modelcontextprotocol/conformance@0.1.16")


def _installed() -> bool:
    return (CONF / "node_modules" / ".bin" / "node").exists() and (
        CONF / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
    ).exists()


def test_the_cross_app_access_complete_flow_scenario_passes() -> None:
    if not _installed():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed (Debian: apt-get install npm)")
        install = subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(CONF), *PACKAGES],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if install.returncode != 0 or not _installed():
            pytest.skip(f"cannot install the conformance suite from the npm registry: {install.stderr[-300:]}")
    run = subprocess.run(
        [str(ROOT / "scripts" / "conformance")], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "OVERALL: PASSED" in output
    assert "0 failed" in output
