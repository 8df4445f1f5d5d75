"""SignatureCache: a repeated ID token skips only the signature arithmetic, never a check that can change."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from joserfc.jwt import JWTClaimsRegistry

from broker.core.jose import SignatureCache, TokenInvalid, UnknownKeyId, verify_jwt

NOW = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.t = NOW

    def __call__(self) -> int:
        return self.t


def _setup() -> tuple[ECKey, KeySet, Clock, SignatureCache]:
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    keys = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    clock = Clock()
    return key, keys, clock, SignatureCache(clock, max_entries=4)


def _token(key: ECKey, **claims: Any) -> str:
    body = {"iss": "https://idp.example", "aud": "app", "sub": "alice", "exp": NOW + 60, **claims}
    return jwt.encode({"alg": "ES256", "kid": "k1"}, body, key)


def _verify(
    token: str,
    keys: KeySet,
    clock: Clock,
    cache: SignatureCache,
    *,
    aud: str = "app",
    algs: tuple[str, ...] = ("ES256",),
) -> None:
    claims = JWTClaimsRegistry(now=clock, leeway=0, aud={"essential": True, "value": aud}, exp={"essential": True})
    verify_jwt(token, keys=keys, algorithms=algs, typ=None, claims=claims, max_bytes=8192, cache=cache)


def _digest(token: str) -> bytes:
    from hashlib import sha256

    return sha256(token.encode()).digest()


def test_a_verified_token_is_remembered_for_the_same_key_set_only() -> None:
    key, keys, clock, cache = _setup()
    token = _token(key)
    _verify(token, keys, clock, cache)
    assert cache.verified(_digest(token), keys)
    rotated = KeySet.import_key_set({"keys": [key.as_dict(private=False)]})
    assert not cache.verified(_digest(token), rotated)


def test_a_rotated_key_set_without_the_key_rejects_a_remembered_token() -> None:
    """A refetched JWKS is a new object: the signature is checked again, so a withdrawn key stops working."""
    key, keys, clock, cache = _setup()
    token = _token(key)
    _verify(token, keys, clock, cache)
    other = ECKey.generate_key("P-256", parameters={"kid": "k2"})
    with pytest.raises(UnknownKeyId):
        _verify(token, KeySet.import_key_set({"keys": [other.as_dict(private=False)]}), clock, cache)


def test_claims_are_checked_on_every_use_of_a_remembered_token() -> None:
    """Expiry at the current time and the audience of the current caller are never cached."""
    key, keys, clock, cache = _setup()
    token = _token(key)
    _verify(token, keys, clock, cache)
    with pytest.raises(TokenInvalid):
        _verify(token, keys, clock, cache, aud="another-app")
    clock.t = NOW + 61
    with pytest.raises(TokenInvalid):
        _verify(token, keys, clock, cache)


def test_header_rules_are_checked_on_every_use_of_a_remembered_token() -> None:
    key, keys, clock, cache = _setup()
    token = _token(key)
    _verify(token, keys, clock, cache)
    with pytest.raises(TokenInvalid, match="algorithm"):
        _verify(token, keys, clock, cache, algs=("RS256",))


def test_a_tampered_copy_of_a_remembered_token_is_not_a_hit() -> None:
    key, keys, clock, cache = _setup()
    token = _token(key)
    _verify(token, keys, clock, cache)
    head, _payload, sig = token.split(".")
    forged_payload = jwt.encode({"alg": "ES256", "kid": "k1"}, {"sub": "mallory"}, key).split(".")[1]
    with pytest.raises(TokenInvalid):
        _verify(f"{head}.{forged_payload}.{sig}", keys, clock, cache)


def test_the_cache_is_bounded_and_drops_expired_entries_first() -> None:
    key, keys, clock, cache = _setup()
    short = _token(key, exp=NOW + 1, jti="short")
    _verify(short, keys, clock, cache)
    clock.t = NOW + 2
    tokens = [_token(key, jti=str(i)) for i in range(6)]
    for t in tokens:
        _verify(t, keys, clock, cache)
    assert len(cache) <= 4
    assert not cache.verified(_digest(short), keys)
    assert cache.verified(_digest(tokens[-1]), keys)
    assert not cache.verified(_digest(tokens[0]), keys)


def test_a_token_without_numeric_exp_is_not_remembered() -> None:
    key, keys, clock, cache = _setup()
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, {"aud": "app", "exp": "soon"}, key)
    with pytest.raises(TokenInvalid):
        _verify(token, keys, clock, cache)
    assert len(cache) == 0
