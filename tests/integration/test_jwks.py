"""Remote JWKS: refetch on unknown kid once per interval, bounded stale use, fetch hygiene (EMA §7.4.1).

The IdP side is a real ASGI app reached over httpx; the shared cache is a real Redis.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry
from redis.asyncio import Redis

from broker.core.jose import TokenInvalid
from broker.jwks import JwksUnavailable, RemoteJwks, keyset_from_jwks
from broker.settings import JwksSettings
from broker.stores.memory import MemoryStore
from broker.stores.redis import RedisStore
from tests.broker_env import Clock

ISSUER = "https://idp.example"
JWKS_URI = f"{ISSUER}/jwks"
SETTINGS = JwksSettings(ttl=300, min_refresh_interval=30, stale_ttl=600, timeout=0.2, max_bytes=16 * 1024)


class JwksServer:
    """An IdP's JWKS and discovery endpoints whose behaviour a test switches."""

    def __init__(self) -> None:
        self.keys: list[RSAKey] = [RSAKey.generate_key(2048, parameters={"kid": "k1"})]
        self.fetches = 0
        self.mode = "ok"
        self.cache_control: str | None = None
        self.discovery_issuer = ISSUER

    def add_key(self, kid: str) -> RSAKey:
        key = RSAKey.generate_key(2048, parameters={"kid": kid})
        self.keys.append(key)
        return key

    def document(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in self.keys]}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"]
        headers: list[tuple[bytes, bytes]] = [(b"content-type", b"application/json")]
        status = 200
        if path == "/.well-known/openid-configuration":
            body = json.dumps({"issuer": self.discovery_issuer, "jwks_uri": JWKS_URI}).encode()
        else:
            self.fetches += 1
            body = json.dumps(self.document()).encode()
            if self.cache_control:
                headers.append((b"cache-control", self.cache_control.encode()))
            if self.mode == "500":
                status, body = 500, b"{}"
            elif self.mode == "redirect":
                status, body = 302, b""
                headers.append((b"location", b"https://attacker.example/jwks"))
            elif self.mode == "huge":
                body = json.dumps({"keys": [], "pad": "x" * 20000}).encode()
            elif self.mode == "slow":
                await asyncio.sleep(1)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def sign(key: RSAKey, kid: str | None = None, alg: str = "RS256") -> str:
    now = int(time.time())
    header = {"alg": alg, "kid": kid or str(key.kid)}
    return jwt.encode(header, {"iss": ISSUER, "sub": "u1", "iat": now, "exp": now + 3600}, key, algorithms=[alg])


@pytest.fixture
def server() -> JwksServer:
    return JwksServer()


@pytest.fixture
async def http(server: JwksServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server)) as client:
        yield client


@pytest.fixture
async def store(redis_client: Redis) -> AsyncIterator[RedisStore]:
    yield RedisStore(Redis(connection_pool=redis_client.connection_pool))


async def verify(jwks: RemoteJwks, token: str, *, jwks_uri: str | None = JWKS_URI) -> dict[str, Any]:
    verified = await jwks.verify(
        token,
        issuer=ISSUER,
        jwks_uri=jwks_uri,
        inline=None,
        algorithms=("RS256",),
        typ=None,
        claims=JWTClaimsRegistry(),
        max_bytes=8192,
    )
    return dict(verified.claims)


@pytest.mark.spec("L1-31")
async def test_unknown_kid_forces_at_most_one_refetch_per_interval(server: JwksServer, http: httpx.AsyncClient) -> None:
    clock = Clock()
    jwks = RemoteJwks(http, MemoryStore(now=clock), SETTINGS, now=clock)  # the store's lock follows the test clock
    assert (await verify(jwks, sign(server.keys[0])))["sub"] == "u1"
    await verify(jwks, sign(server.keys[0]))
    assert server.fetches == 1  # cached, never fetched per request

    rotated = server.add_key("k2")
    assert (await verify(jwks, sign(rotated)))["sub"] == "u1"  # unknown kid: one refetch, then accepted
    assert server.fetches == 2

    flood = RSAKey.generate_key(2048, parameters={"kid": "attacker"})
    for _ in range(5):
        with pytest.raises(TokenInvalid, match="unknown kid"):
            await verify(jwks, sign(flood))
    assert server.fetches == 2  # the kid flood inside the interval fetched nothing

    clock.advance(SETTINGS.min_refresh_interval + 1)
    with pytest.raises(TokenInvalid, match="unknown kid"):
        await verify(jwks, sign(flood))
    assert server.fetches == 3


@pytest.mark.spec("L1-31")
async def test_replicas_share_one_refetch_through_the_store(
    server: JwksServer, http: httpx.AsyncClient, store: RedisStore
) -> None:
    clock = Clock()
    replica_a = RemoteJwks(http, store, SETTINGS, now=clock)
    replica_b = RemoteJwks(http, store, SETTINGS, now=clock)
    await verify(replica_a, sign(server.keys[0]))
    await verify(replica_b, sign(server.keys[0]))
    assert server.fetches == 1  # b took a's copy from Redis
    clock.advance(1)
    rotated = server.add_key("k2")
    await verify(replica_a, sign(rotated))
    await verify(replica_b, sign(rotated))
    assert server.fetches == 2  # b found a's newer copy instead of fetching


@pytest.mark.spec("N68")
async def test_endpoint_down_unknown_kid_is_refused_and_known_kids_keep_working(
    server: JwksServer, http: httpx.AsyncClient, store: RedisStore
) -> None:
    clock = Clock()
    jwks = RemoteJwks(http, store, SETTINGS, now=clock)
    await verify(jwks, sign(server.keys[0]))
    server.mode = "500"
    unknown = RSAKey.generate_key(2048, parameters={"kid": "k9"})
    with pytest.raises(TokenInvalid, match="unknown kid"):
        await verify(jwks, sign(unknown))
    assert (await verify(jwks, sign(server.keys[0])))["sub"] == "u1"


async def test_stale_keys_are_used_for_a_bounded_time_while_the_endpoint_is_down(
    server: JwksServer, http: httpx.AsyncClient, store: RedisStore
) -> None:
    clock = Clock()
    jwks = RemoteJwks(http, store, SETTINGS, now=clock)
    token = sign(server.keys[0])
    await verify(jwks, token)
    server.mode = "500"
    clock.advance(SETTINGS.ttl + SETTINGS.stale_ttl - 10)
    assert (await verify(jwks, token))["sub"] == "u1"
    clock.advance(20)
    with pytest.raises(JwksUnavailable) as err:
        await verify(jwks, token)
    assert err.value.status_code == 503
    assert err.value.error == "temporarily_unavailable"


@pytest.mark.parametrize(
    ("mode", "why"),
    [("redirect", "a redirect is not followed"), ("huge", "size cap"), ("slow", "timeout"), ("500", "server error")],
)
async def test_a_failed_first_fetch_fails_closed(
    server: JwksServer, http: httpx.AsyncClient, store: RedisStore, mode: str, why: str
) -> None:
    server.mode = mode
    jwks = RemoteJwks(http, store, SETTINGS, now=Clock())
    with pytest.raises(JwksUnavailable):
        await verify(jwks, sign(server.keys[0]))
    assert server.fetches == 1, why


async def test_cache_control_max_age_shortens_freshness_but_not_below_the_refresh_interval(
    server: JwksServer, http: httpx.AsyncClient, store: RedisStore
) -> None:
    clock = Clock()
    server.cache_control = "public, max-age=60"
    jwks = RemoteJwks(http, store, SETTINGS, now=clock)
    token = sign(server.keys[0])
    await verify(jwks, token)
    clock.advance(61)
    await verify(jwks, token)
    assert server.fetches == 2
    server.cache_control = "max-age=0"
    clock.advance(61)
    await verify(jwks, token)
    clock.advance(SETTINGS.min_refresh_interval - 1)
    await verify(jwks, token)
    assert server.fetches == 3


async def test_discovery_finds_the_jwks_and_checks_the_issuer(
    server: JwksServer, http: httpx.AsyncClient, store: RedisStore
) -> None:
    jwks = RemoteJwks(http, store, SETTINGS, now=Clock())
    assert (await verify(jwks, sign(server.keys[0]), jwks_uri=None))["sub"] == "u1"
    server.discovery_issuer = "https://impostor.example"
    other = RemoteJwks(http, MemoryStore(), SETTINGS)
    with pytest.raises(JwksUnavailable):
        await verify(other, sign(server.keys[0]), jwks_uri=None)


def test_symmetric_and_off_list_keys_are_never_imported() -> None:
    """HMAC-with-public-key confusion is impossible: oct keys and keys for other algorithms are dropped."""
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa", "alg": "RS256"})
    ps = RSAKey.generate_key(2048, parameters={"kid": "ps", "alg": "PS256"})
    oct_key = OctKey.generate_key(256, parameters={"kid": "oct"})
    enc = RSAKey.generate_key(2048, parameters={"kid": "enc", "use": "enc"})
    doc = {"keys": [k.as_dict(private=False) for k in (rsa, ps, enc)] + [oct_key.as_dict(), {"kty": "EC"}, "junk"]}
    keys = keyset_from_jwks(doc, ("RS256",))
    assert [k.kid for k in keys] == ["rsa"]
