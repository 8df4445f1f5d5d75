"""``python -m idp_mock serve`` under uvicorn on a real port, ``python -m idp_mock login``, and ``login()``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp_mock import (
    AGENT_APP_CLIENT_ID,
    AGENT_APP_CLIENT_SECRET,
    PUBLIC_CLI_CLIENT_ID,
    IdpSettings,
    LoginError,
    create_app,
    login,
)
from tests.idp_mock.conftest import REDIRECT_URI, asgi
from tests.idp_mock.served import ROOT, ServedIdp, free_port, serve_idp


@pytest.fixture(scope="module")
def served() -> Iterator[ServedIdp]:
    with serve_idp() as s:
        yield s


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "IDP_MOCK_CLIENT_SECRET"}
    return subprocess.run(
        [sys.executable, "-m", "idp_mock", *args], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env
    )


def _verify(issuer: str, id_token: str) -> dict[str, object]:
    keys = KeySet.import_key_set(httpx.get(f"{issuer}/jwks").json())
    claims: dict[str, object] = jwt.decode(id_token, keys, algorithms=["RS256"]).claims
    return claims


def test_cli_login_prints_only_the_id_token(served: ServedIdp) -> None:
    """For ``ID_TOKEN=$(python -m idp_mock login ...)``: stdout is exactly one JWT line."""
    done = _cli("login", "--user", "alice", "--client", "agent-app", "--issuer", served.issuer)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].count(".") == 2
    claims = _verify(served.issuer, lines[0])
    assert claims["sub"] == "alice"
    assert claims["iss"] == served.issuer
    assert claims["aud"] == AGENT_APP_CLIENT_ID
    assert done.stderr == ""


def test_cli_login_as_public_client(served: ServedIdp) -> None:
    done = _cli("login", "--user", "bob", "--client", PUBLIC_CLI_CLIENT_ID, "--public", "--issuer", served.issuer)
    assert done.returncode == 0, done.stderr
    assert _verify(served.issuer, done.stdout.strip())["aud"] == PUBLIC_CLI_CLIENT_ID


def test_cli_login_failure_goes_to_stderr_with_exit_1(served: ServedIdp) -> None:
    done = _cli("login", "--user", "alice", "--secret", "wrong", "--issuer", served.issuer)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == "error: invalid_client: Client authentication failed."
    assert "wrong" not in done.stderr


def test_cli_login_against_nothing_listening_fails_cleanly() -> None:
    done = _cli("login", "--user", "alice", "--issuer", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: cannot reach")


def test_cli_serve_refuses_a_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "idp.toml"
    bad.write_text("[[user]]\nusername = 'a'\nemail = 'e'\nname = 'n'\ngroups = 'x'\n")
    done = _cli("serve", "--config", str(bad), "--port", "1")
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {bad}: $.user[0].groups: Expected `array`, got `str`"


async def test_login_function_works_against_uvicorn(served: ServedIdp) -> None:
    body = await login(served.issuer, "carol", AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, REDIRECT_URI)
    assert body["token_type"] == "Bearer"
    assert _verify(served.issuer, body["id_token"])["groups"] == ["engineering", "admins"]


async def test_login_function_works_in_process() -> None:
    """The same flow over ``httpx.ASGITransport`` (no sockets); the real clock so its ID token check passes."""
    app = create_app(IdpSettings())
    async with httpx.AsyncClient(transport=asgi(app)) as http:
        body = await login(
            "http://127.0.0.1:9000", "bob", AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, REDIRECT_URI, http=http
        )
        assert not http.is_closed
    assert {"access_token", "id_token", "expires_in"} <= set(body)


async def test_login_function_raises_the_idps_error_code() -> None:
    app = create_app(IdpSettings())
    async with httpx.AsyncClient(transport=asgi(app)) as http:
        with pytest.raises(LoginError) as err:
            await login("http://127.0.0.1:9000", "alice", AGENT_APP_CLIENT_ID, "wrong", REDIRECT_URI, http=http)
        assert err.value.error == "invalid_client"
        with pytest.raises(LoginError) as err:
            await login("http://127.0.0.1:9000", "alice", "nobody", "x", REDIRECT_URI, http=http)
        assert err.value.error == "authorization_failed"
        assert err.value.description == "the IdP showed an error page (HTTP 400), not a redirect"
        with pytest.raises(LoginError) as err:
            await login(
                "http://127.0.0.1:9000", "zed", AGENT_APP_CLIENT_ID, AGENT_APP_CLIENT_SECRET, REDIRECT_URI, http=http
            )
        assert err.value.error == "login_required"
        with pytest.raises(LoginError) as err:
            await login("http://127.0.0.1:9001", "alice", AGENT_APP_CLIENT_ID, None, REDIRECT_URI, http=http)
        assert err.value.error == "discovery_failed"
