"""``broker check-config`` prints how each client authenticates and whether the interactive fallback is on."""

from __future__ import annotations

from pathlib import Path

from broker.__main__ import trust_summary
from broker.settings import load_settings, parse_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "broker.toml"


def test_the_summary_names_public_clients_and_the_interactive_fallback_and_never_a_secret() -> None:
    text = trust_summary(load_settings(EXAMPLE, env={}))
    assert "mcp-desktop: public (PKCE only)" in text
    assert "consent page" in text
    assert "Interactive fallback: on at http://127.0.0.1:8000/as/authorize" in text
    assert "sign-in through the broker as xaa-broker (domains: acme.example)" in text
    assert "b74a4732cfbf9e3dae5fec1fbe95fceff8c4bc155a2937ee4b5407de425dc1ab" not in text  # a secret's digest


def test_the_summary_says_where_the_audit_log_goes() -> None:
    assert "audit log: stderr, one JSON line each" in trust_summary(load_settings(EXAMPLE, env={}))
    logging_toml = EXAMPLE.read_text() + '\n[audit]\noutput = "logging"\n'
    assert "audit log: the xaa.audit logger" in trust_summary(parse_settings(logging_toml, env={}))
