"""Scope grammar (RFC 6749 §3.3) and the narrowing rule (DESIGN OQ-9), with property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.core.policy import TrustIndex
from broker.core.scopes import format_scope, parse_scope
from broker.errors import InvalidRequest, InvalidScope

scope_token = st.text(
    alphabet=st.characters(min_codepoint=0x23, max_codepoint=0x7E, exclude_characters="\\"), min_size=1, max_size=12
)


@given(st.sets(scope_token, min_size=1, max_size=8))
def test_parse_inverts_format(scopes: set[str]) -> None:
    assert parse_scope(format_scope(scopes)) == frozenset(scopes)


@pytest.mark.parametrize("bad", ['a"b', "a\\b", "a  b", " a", "é"])
def test_scope_outside_the_grammar_is_invalid_request(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_scope(bad)


def test_empty_scope_means_omitted() -> None:
    """RFC 6749 §3.1: a parameter without a value is treated as omitted."""
    assert parse_scope("") is None


@given(st.sets(scope_token, max_size=6), st.sets(scope_token, min_size=1, max_size=6))
def test_narrowing_never_grants_beyond_allowed(requested: set[str], allowed: set[str]) -> None:
    try:
        granted = TrustIndex.narrow(frozenset(requested) or None, frozenset(allowed), ceiling="policy")
    except InvalidScope:
        assert requested - allowed
        return
    assert granted <= allowed
    if requested:
        assert granted == requested


def test_omitted_scope_with_nothing_allowed_is_invalid_scope() -> None:
    with pytest.raises(InvalidScope):
        TrustIndex.narrow(None, frozenset(), ceiling="policy")
