"""Signing keys per role (``idp`` for ID-JAGs, ``as`` for access tokens): current, next and retired.

Layout under ``keys_dir/<role>/``: one private JWK per key (``<kid>.jwk``, mode 0600) and ``ring.json``
naming the current key, the next key (published before it signs, so caches already hold it when a
rotation happens) and retired keys with the time until which they stay published (their tokens'
lifetime). Generated on first start; ``python -m broker rotate-keys`` promotes next to current.

Writers take an exclusive ``flock`` so several workers starting together generate one ring, and files
are replaced atomically. Different roles never share a key (RFC 8725bis §3.12, DESIGN OQ-2).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from broker.core.jose import PrivateKey
from broker.errors import ConfigError

__all__ = ["KeyRing", "load_keyring", "rotate_keys"]

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _generate(alg: str) -> PrivateKey:
    """A fresh private key for ``alg`` (RFC 7518 §3; RFC 9864 for Ed25519)."""
    key: PrivateKey
    if alg == "ES256":
        key = ECKey.generate_key("P-256", private=True)
    elif alg == "ES384":
        key = ECKey.generate_key("P-384", private=True)
    elif alg in ("RS256", "PS256"):
        key = RSAKey.generate_key(3072, private=True)
    elif alg == "Ed25519":
        key = OKPKey.generate_key("Ed25519", private=True)
    else:
        raise ConfigError(f"$.signing_alg: cannot generate keys for {alg!r}")
    return key


def _import(data: dict[str, Any]) -> PrivateKey:
    kty = data.get("kty")
    if kty == "EC":
        return ECKey.import_key(data)
    if kty == "RSA":
        return RSAKey.import_key(data)
    if kty == "OKP":
        return OKPKey.import_key(data)
    raise ConfigError(f"unsupported key type {kty!r} in keys_dir")


def _public(key: PrivateKey, kid: str, alg: str) -> dict[str, Any]:
    jwk = {k: v for k, v in key.as_dict(private=False).items() if k not in _PRIVATE_MEMBERS}
    jwk.update(kid=kid, alg=alg, use="sig")
    return jwk


@dataclass(frozen=True)
class KeyRing:
    """One role's keys, loaded once: sign with ``signing_key``; publish ``public_jwks()``."""

    role: str
    alg: str
    kid: str
    signing_key: PrivateKey
    published: tuple[tuple[str, str, PrivateKey], ...]
    """(kid, alg, key) of current, next and retired keys, in that order."""
    _jwks: dict[str, Any] = field(init=False, repr=False, compare=False)
    _verifier: KeySet = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        public = [_public(key, kid, alg) for kid, alg, key in self.published]
        object.__setattr__(self, "_jwks", {"keys": public})
        object.__setattr__(self, "_verifier", KeySet.import_key_set({"keys": public}))

    def public_jwks(self) -> dict[str, Any]:
        """RFC 7517 JWK Set of the public keys (never a private member)."""
        return self._jwks

    def verification_keys(self) -> KeySet:
        """Public keys that verify tokens this role issued (current, next, retired); built once."""
        return self._verifier


@contextmanager
def _locked(role_dir: Path) -> Iterator[None]:
    role_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (role_dir / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)


def _new_key(role_dir: Path, alg: str) -> str:
    key = _generate(alg)
    kid = key.thumbprint()  # RFC 7638: stable, content-derived key id
    data = key.as_dict(private=True)
    data.update(kid=kid, alg=alg)
    _write_private(role_dir / f"{kid}.jwk", json.dumps(data).encode())
    return kid


def _read_ring(role_dir: Path) -> dict[str, Any] | None:
    try:
        ring = json.loads((role_dir / "ring.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"keys_dir: unreadable {role_dir / 'ring.json'}: {exc}") from None
    if not isinstance(ring, dict) or not isinstance(ring.get("current"), str):
        raise ConfigError(f"keys_dir: malformed {role_dir / 'ring.json'}")
    return ring


def _write_ring(role_dir: Path, ring: dict[str, Any]) -> None:
    _write_private(role_dir / "ring.json", json.dumps(ring, indent=2, sort_keys=True).encode())


def _load_key(role_dir: Path, kid: str) -> tuple[str, PrivateKey]:
    path = role_dir / f"{kid}.jwk"
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"keys_dir: unreadable key {path}: {exc}") from None
    return str(data.get("alg", "")), _import(data)


def _ring(role_dir: Path, role: str, alg: str, now: float) -> KeyRing:
    ring = _read_ring(role_dir)
    if ring is None:
        ring = {"current": _new_key(role_dir, alg), "next": _new_key(role_dir, alg), "retired": {}}
        _write_ring(role_dir, ring)
    retired = {kid: until for kid, until in dict(ring.get("retired", {})).items() if until > now}
    kids = [ring["current"], *([ring["next"]] if ring.get("next") else []), *retired]
    published = []
    for kid in kids:
        key_alg, key = _load_key(role_dir, kid)
        published.append((kid, key_alg, key))
    cur_kid, cur_alg, cur_key = published[0]
    if cur_alg != alg:
        raise ConfigError(
            f"$.signing_alg: keys_dir/{role} signs with {cur_alg}, config says {alg}; "
            "run `python -m broker rotate-keys` to switch"
        )
    return KeyRing(role, alg, cur_kid, cur_key, tuple(published))


def load_keyring(keys_dir: Path, role: str, alg: str, *, now: Callable[[], float] = time.time) -> KeyRing:
    """Load (or create on first start) the key ring of ``role``."""
    role_dir = Path(keys_dir) / role
    with _locked(role_dir):
        return _ring(role_dir, role, alg, now())


def rotate_keys(
    keys_dir: Path, role: str, alg: str, *, retire_after: int, now: Callable[[], float] = time.time
) -> KeyRing:
    """Promote the next key to current, publish a new next key, keep the old current for ``retire_after`` s.

    The old key stays in JWKS until every token it signed has expired; running brokers keep signing
    with the old key until restarted, and already publish the new one (it was "next"), so verifiers
    never meet an unknown ``kid``. If ``alg`` changed, the new current key is generated for it.
    """
    role_dir = Path(keys_dir) / role
    with _locked(role_dir):
        t = now()
        ring = _read_ring(role_dir)
        if ring is None:
            _ring(role_dir, role, alg, t)
            ring = _read_ring(role_dir)
            assert ring is not None  # noqa: S101 - just written
        retired = {kid: until for kid, until in dict(ring.get("retired", {})).items() if until > t}
        retired[ring["current"]] = t + retire_after
        nxt = ring.get("next")
        if not nxt or _load_key(role_dir, nxt)[0] != alg:
            if nxt:
                retired[nxt] = t + retire_after
            nxt = _new_key(role_dir, alg)
        for kid in [k for k in dict(ring.get("retired", {})) if k not in retired]:
            (role_dir / f"{kid}.jwk").unlink(missing_ok=True)
        _write_ring(role_dir, {"current": nxt, "next": _new_key(role_dir, alg), "retired": retired})
        return _ring(role_dir, role, alg, t)
