"""PKCE S256 (RFC 7636) and redirect URI matching (OAuth 2.1 §2.3.1, RFC 8252 §7.3): pure rules."""

from __future__ import annotations

import pytest

from broker.core.pkce import is_challenge, s256, verifier_matches
from broker.core.redirects import redirect_uri_matches

VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"


def test_s256_matches_the_rfc_7636_appendix_b_example() -> None:
    assert s256(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_right_verifier_matches_its_challenge() -> None:
    assert verifier_matches(VERIFIER, s256(VERIFIER))


@pytest.mark.parametrize(
    "verifier",
    [
        VERIFIER[:-1] + "Y",  # another verifier
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",  # the challenge itself: a 'plain' downgrade
        "short",  # under 43 characters (RFC 7636 §4.1)
        "a" * 129,  # over 128 characters
        VERIFIER[:-1] + "!",  # outside the unreserved set
    ],
)
def test_a_wrong_or_malformed_verifier_never_matches(verifier: str) -> None:
    assert not verifier_matches(verifier, s256(VERIFIER))


def test_only_s256_shaped_challenges_are_accepted() -> None:
    assert is_challenge(s256(VERIFIER))
    assert not is_challenge(VERIFIER + "x")  # a plain verifier is not a 43-character S256 value
    assert not is_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=")


@pytest.mark.parametrize(
    ("registered", "presented"),
    [
        ("https://app.example/cb", "https://app.example/cb"),
        ("http://127.0.0.1/callback", "http://127.0.0.1:53121/callback"),  # RFC 8252 §7.3: any port
        ("http://localhost:3000/callback", "http://localhost:4711/callback"),
        ("http://[::1]/cb", "http://[::1]:8080/cb"),
    ],
)
def test_registered_redirect_uris_match(registered: str, presented: str) -> None:
    assert redirect_uri_matches([registered], presented)


@pytest.mark.parametrize(
    ("registered", "presented"),
    [
        ("https://app.example/cb", "https://app.example/cb/"),  # trailing slash: exact comparison
        ("https://app.example/cb", "https://app.example/cb?next=https://evil.example"),
        ("https://app.example/cb", "https://app.example/cb#frag"),
        ("https://app.example/cb", "https://APP.example/cb"),
        ("https://app.example/cb", "https://app.example.evil.example/cb"),
        ("https://app.example:443/cb", "https://app.example:8443/cb"),  # port freedom is loopback only
        ("http://127.0.0.1/callback", "http://127.0.0.1.evil.example/callback"),
        ("http://127.0.0.1/callback", "http://user@127.0.0.1/callback"),
        ("http://127.0.0.1/callback", "http://127.0.0.1:80/other"),
        ("http://127.0.0.1/callback", "https://127.0.0.1/callback"),
    ],
)
def test_anything_else_is_an_open_redirect_and_does_not_match(registered: str, presented: str) -> None:
    assert not redirect_uri_matches([registered], presented)
