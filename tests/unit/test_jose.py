"""The one JWT wrapper (broker.core.jose): key type follows the algorithm, structure is strict."""

from __future__ import annotations

import base64

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from broker.core.jose import TokenInvalid, normalize_typ, peek, verify_jwt


def _verify(token: str, keys: KeySet, algorithms: tuple[str, ...]) -> None:
    verify_jwt(token, keys=keys, algorithms=algorithms, typ=None, claims=JWTClaimsRegistry(), max_bytes=8192)


@pytest.mark.spec("N61")
def test_es256_header_with_an_rsa_kid_is_refused() -> None:
    """RFC 8725bis §3.1: a key is used with exactly one algorithm; alg ES256 cannot select an RSA key."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, {"sub": "x"}, ec)
    keys = KeySet.import_key_set({"keys": [rsa.as_dict(private=False)]})
    with pytest.raises(TokenInvalid):
        _verify(token, keys, ("RS256", "ES256"))


def test_peek_rejects_more_or_fewer_segments_and_bad_characters() -> None:
    for bad in ("a.b", "a.b.c.d", "a.b.c.d.e.f", "a b.c.d", "a.b.", ".b.c"):
        with pytest.raises(TokenInvalid):
            peek(bad, max_bytes=100)


@pytest.mark.parametrize(
    ("raw", "want"),
    [("OAUTH-ID-JAG+JWT", "oauth-id-jag+jwt"), ("application/at+jwt", "at+jwt"), (None, None), (5, None)],
)
def test_typ_is_normalized_as_a_media_type(raw: object, want: str | None) -> None:
    assert normalize_typ(raw) == want


def _compact(header: bytes, payload: bytes) -> str:
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64(header)}.{b64(payload)}.{b64(b'sig')}"


@pytest.mark.parametrize(
    ("header", "payload", "reason"),
    [
        (b'{"alg":"ES256","alg":"none"}', b'{"sub":"a"}', "duplicate JSON member 'alg'"),
        (b'{"alg":"ES256"}', b'{"sub":"alice","sub":"admin"}', "duplicate JSON member 'sub'"),
        (b'{"alg":"ES256"}', '{"sub":"é"}'.encode("utf-16"), "JWT payload is not base64url JSON"),
        (b'{"alg":"ES256"}', b'["sub"]', "JWT payload is not a JSON object"),
        (b'{"alg":"ES256"', b'{"sub":"a"}', "JOSE header is not base64url JSON"),
    ],
)
def test_peek_refuses_duplicate_members_non_utf8_and_non_objects(header: bytes, payload: bytes, reason: str) -> None:
    """RFC 7519 §4 and §7.2, RFC 8725bis §2.6: UTF-8 JSON objects whose member names are unique."""
    with pytest.raises(TokenInvalid) as err:
        peek(_compact(header, payload), max_bytes=8192)
    assert err.value.reason == reason


def test_peek_reads_utf8_claims() -> None:
    """RFC 7519 §7.2: the claims are UTF-8 JSON (non-ASCII names survive)."""
    got = peek(_compact(b'{"alg":"ES256","typ":"JWT"}', '{"sub":"é","n":1}'.encode()), max_bytes=8192)
    assert got.header == {"alg": "ES256", "typ": "JWT"}
    assert got.claims == {"sub": "é", "n": 1}
