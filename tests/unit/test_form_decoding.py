"""The token endpoints' form decoder: the same answers as ``urllib.parse.parse_qs`` (RFC 6749 §3.2, §3.1)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from broker.errors import InvalidRequest
from broker.http.token import decode_urlencoded, parse_form_body

FORM = "application/x-www-form-urlencoded"

# Mostly the characters that mean something in a form, so that the interesting cases come up often.
_form_text = st.text(alphabet=st.sampled_from("&=%+ aZ09_-.~:/\u00e9\u20ac\ud7ff0123456789abcdefABCDEF"), max_size=200)


@given(_form_text)
@example("a=1&&b=&=c&d&e=%&f=%zz&g=%C3%A9+x&h=%ff&a=2")
@example("")
def test_decoding_agrees_with_parse_qs_on_any_input(text: str) -> None:
    try:
        expected = parse_qs(text, keep_blank_values=False, strict_parsing=False, max_num_fields=32)
    except ValueError:
        with pytest.raises(ValueError):
            decode_urlencoded(text)
        return
    assert decode_urlencoded(text) == expected


@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=300), max_size=10))
def test_what_urlencode_writes_decodes_back(fields: dict[str, str]) -> None:
    decoded = decode_urlencoded(urlencode(fields))
    assert decoded == {k: [v] for k, v in fields.items() if v}  # blank values are omitted (RFC 6749 §3.1)


def test_long_values_decode_like_short_ones() -> None:
    """Values past the memoised length (tokens) take the same decoding path."""
    token = "eyJ" + "a%2Bb+" * 200
    assert decode_urlencoded(f"subject_token={token}&x=a%2Bb+") == {
        "subject_token": ["eyJ" + "a+b " * 200],
        "x": ["a+b "],
    }


def test_more_than_32_fields_are_refused() -> None:
    """A cap on fields bounds the work an oversized form can cause."""
    assert len(decode_urlencoded("&".join(f"f{i}=v" for i in range(32)))) == 32
    with pytest.raises(InvalidRequest, match="not valid form encoding"):
        parse_form_body(FORM, "&".join(f"f{i}=v" for i in range(33)).encode())


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="not valid form encoding"):
        parse_form_body(FORM, b"grant_type=\xff\xfe")


@pytest.mark.parametrize("content_type", [None, "application/json", "multipart/form-data; boundary=x", "text/plain"])
def test_another_content_type_is_refused(content_type: str | None) -> None:
    with pytest.raises(InvalidRequest, match="must be application/x-www-form-urlencoded"):
        parse_form_body(content_type, b"a=1")


def test_content_type_parameters_and_case_are_accepted() -> None:
    assert parse_form_body("Application/X-WWW-Form-Urlencoded; charset=UTF-8", b"a=1") == {"a": ["1"]}
