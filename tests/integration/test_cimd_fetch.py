"""Client ID Metadata Documents fetched over real HTTP: document rules, fetch hygiene, caching (CIMD-02 §3-§4.1).

The client's host is a real uvicorn server on a loopback port, so redirects, chunked bodies and
timeouts behave as they do on the wire; ``allow_insecure_metadata_documents`` admits its http URL.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
import pytest

from broker.cimd import ClientMetadataError, MetadataDocuments, client_from_document
from broker.settings import ClientConfig, InteractiveSettings
from tests.broker_env import Clock
from tests.live import free_port, serving

SETTINGS = InteractiveSettings(
    client_id_metadata_documents=True,
    allow_insecure_metadata_documents=True,
    metadata_document_ttl=300,
    metadata_document_max_bytes=5120,
)
TIMEOUT = 0.3


@dataclass
class Reply:
    """What the client's host answers on one path."""

    body: bytes
    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=lambda: [(b"content-type", b"application/json")])
    chunks: int = 1
    """Send the body in this many pieces without Content-Length (chunked transfer encoding)."""
    gate: asyncio.Event | None = None
    """Hold the response until this is set."""


class ClientHost:
    """The web server hosting client metadata documents; a test sets what each path returns."""

    def __init__(self) -> None:
        self.replies: dict[str, Reply] = {}
        self.hits: Counter[str] = Counter()
        self.arrived = asyncio.Event()
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path

    def serve(self, path: str, doc: Any, *, cache_control: str | None = None) -> str:
        reply = Reply(json.dumps(doc).encode())
        if cache_control is not None:
            reply.headers.append((b"cache-control", cache_control.encode()))
        self.replies[path] = reply
        return self.url(path)

    def document(self, path: str, **members: Any) -> dict[str, Any]:
        """A valid public-client document for ``path``, with ``members`` replacing or adding fields."""
        doc: dict[str, Any] = {
            "client_id": self.url(path),
            "client_name": "Example Agent",
            "redirect_uris": ["http://127.0.0.1:33418/callback", "https://agent.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
        doc.update(members)
        return {k: v for k, v in doc.items() if v is not None}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        self.hits[path] += 1
        self.arrived.set()
        reply = self.replies.get(path, Reply(b"{}", status=404))
        if reply.gate is not None:
            await reply.gate.wait()
        await send({"type": "http.response.start", "status": reply.status, "headers": reply.headers})
        size = -(-len(reply.body) // reply.chunks)
        for i in range(reply.chunks):
            piece = reply.body[i * size : (i + 1) * size]
            await send({"type": "http.response.body", "body": piece, "more_body": i < reply.chunks - 1})


@pytest.fixture(scope="module")
async def running_host() -> AsyncIterator[ClientHost]:
    server = ClientHost()
    async with serving(server, free_port()) as base:
        server.base = base
        yield server


@pytest.fixture
async def host(running_host: ClientHost) -> AsyncIterator[ClientHost]:
    """The module's server, with no documents and no hits."""
    running_host.replies, running_host.hits, running_host.arrived = {}, Counter(), asyncio.Event()
    try:
        yield running_host
    finally:
        for reply in running_host.replies.values():  # let held responses finish so uvicorn can stop
            if reply.gate is not None:
                reply.gate.set()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


def documents(
    http: httpx.AsyncClient, clock: Clock | None = None, settings: InteractiveSettings = SETTINGS, **kw: Any
) -> MetadataDocuments:
    return MetadataDocuments(http, settings, timeout=TIMEOUT, now=clock or Clock(), **kw)


async def refused(docs: MetadataDocuments, url: str) -> str:
    with pytest.raises(ClientMetadataError) as info:
        await docs.resolve(url)
    return info.value.reason


async def test_a_document_resolves_to_a_public_client(host: ClientHost, http: httpx.AsyncClient) -> None:
    url = host.serve("/client.json", host.document("/client.json"))
    client = await documents(http).resolve(url)
    assert client == ClientConfig(
        client_id=url,
        public=True,
        redirect_uris=("http://127.0.0.1:33418/callback", "https://agent.example/cb"),
        grant_types=("authorization_code", "refresh_token"),
        consent=True,
        name="Example Agent",
    )


async def test_absent_grant_types_mean_authorization_code_only(host: ClientHost, http: httpx.AsyncClient) -> None:
    """RFC 7591 §2: the default ``grant_types`` is ``authorization_code``; no refresh tokens unless listed."""
    url = host.serve("/c", host.document("/c", grant_types=None, token_endpoint_auth_method=None))
    client = await documents(http).resolve(url)
    assert client.grant_types == ("authorization_code",)
    assert client.public


async def test_private_key_jwt_client_carries_its_keys(host: ClientHost, http: httpx.AsyncClient) -> None:
    jwks = {"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]}
    url = host.serve("/pkj", host.document("/pkj", token_endpoint_auth_method="private_key_jwt", jwks=jwks))
    client = await documents(http).resolve(url)
    assert (client.public, client.jwks, client.jwks_uri) == (False, jwks, None)
    by_uri = host.serve(
        "/pku", host.document("/pku", token_endpoint_auth_method="private_key_jwt", jwks_uri=host.url("/jwks"))
    )
    client = await documents(http).resolve(by_uri)
    assert (client.public, client.jwks, client.jwks_uri) == (False, None, host.url("/jwks"))


async def test_client_name_is_cleaned_and_truncated(host: ClientHost, http: httpx.AsyncClient) -> None:
    url = host.serve("/n", host.document("/n", client_name="Agent\u202e\n" + "x" * 200))
    name = (await documents(http).resolve(url)).name
    assert name is not None
    assert len(name) == 100
    assert name.startswith("Agentxxx")


async def test_client_id_other_than_the_documents_url_is_refused(host: ClientHost, http: httpx.AsyncClient) -> None:
    """CIMD-02 §4.1: a document copied from another client (or hosted elsewhere) cannot impersonate it."""
    url = host.serve("/c", host.document("/c", client_id="https://trusted.example/client.json"))
    assert "not its own URL" in await refused(documents(http), url)
    trailing = host.serve("/d", host.document("/d", client_id=host.url("/d/")))
    assert "not its own URL" in await refused(documents(http), trailing)


@pytest.mark.spec("L1-18")
async def test_client_secret_in_the_document_is_refused(host: ClientHost, http: httpx.AsyncClient) -> None:
    """CIMD-02 §4.1: no shared secret can be established with a document client; a published one is no secret."""
    url = host.serve("/c", host.document("/c", client_secret="s3cr3t-value"))
    reason = await refused(documents(http), url)
    assert "client_secret" in reason
    assert "s3cr3t-value" not in reason
    expires = host.serve("/e", host.document("/e", client_secret_expires_at=0))
    assert "client_secret" in await refused(documents(http), expires)


@pytest.mark.spec("L1-18")
@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post", "client_secret_jwt"])
async def test_shared_secret_auth_methods_are_refused(host: ClientHost, http: httpx.AsyncClient, method: str) -> None:
    """CIMD-02 §4.1: ``token_endpoint_auth_method`` must not be a ``client_secret_*`` method."""
    url = host.serve("/c", host.document("/c", token_endpoint_auth_method=method))
    assert "shared secret" in await refused(documents(http), url)


async def test_unknown_auth_method_is_refused(host: ClientHost, http: httpx.AsyncClient) -> None:
    url = host.serve("/c", host.document("/c", token_endpoint_auth_method="tls_client_auth"))
    assert "'none' or 'private_key_jwt'" in await refused(documents(http), url)


async def test_private_key_jwt_without_usable_keys_is_refused(host: ClientHost, http: httpx.AsyncClient) -> None:
    docs = documents(http)
    pkj = {"token_endpoint_auth_method": "private_key_jwt"}
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "/none": ({}, "needs jwks or jwks_uri"),
        "/both": ({"jwks": {"keys": []}, "jwks_uri": "https://agent.example/jwks"}, "not give both"),
        "/set": ({"jwks": {"kty": "EC"}}, "JWK Set"),
        "/http": ({"jwks_uri": "http://agent.example/jwks"}, "jwks_uri must use https"),
    }
    for path, (members, reason) in cases.items():
        url = host.serve(path, host.document(path, **pkj, **members))
        assert reason in await refused(docs, url), path
    internal = host.document("/x", **pkj, jwks_uri="https://169.254.169.254/keys")
    with pytest.raises(ClientMetadataError, match="jwks_uri points at a loopback, private or reserved address"):
        client_from_document(host.url("/x"), internal, InteractiveSettings(client_id_metadata_documents=True))


@pytest.mark.parametrize(
    ("redirect_uris", "reason"),
    [
        (None, "non-empty list"),
        ([], "non-empty list"),
        ("https://agent.example/cb", "non-empty list"),
        ([42], "non-empty list"),
        (["http://agent.example/cb"], "a redirect URI must be"),
        (["https://agent.example/cb#frag"], "a redirect URI must be"),
        (["javascript:alert(1)"], "a redirect URI must be"),
    ],
)
async def test_missing_or_bad_redirect_uris_are_refused(
    host: ClientHost, http: httpx.AsyncClient, redirect_uris: Any, reason: str
) -> None:
    """OAuth 2.1 §2.3.1 / RFC 8252 §7: the same redirect URI rules as for a configured client."""
    url = host.serve("/c", host.document("/c", redirect_uris=redirect_uris))
    assert reason in await refused(documents(http), url)


async def test_grant_types_without_authorization_code_are_refused(host: ClientHost, http: httpx.AsyncClient) -> None:
    url = host.serve("/c", host.document("/c", grant_types=["refresh_token"]))
    assert "authorization_code" in await refused(documents(http), url)
    bad = host.serve("/d", host.document("/d", grant_types="authorization_code"))
    assert "list of strings" in await refused(documents(http), bad)


async def test_oversized_document_is_refused(host: ClientHost, http: httpx.AsyncClient) -> None:
    """Size cap, by declared Content-Length and while streaming a chunked body (CIMD-02: 5 KB is ample)."""
    url = host.serve("/big", host.document("/big", padding="x" * 6000))
    assert "larger than 5120 bytes" in await refused(documents(http), url)
    host.replies["/chunked"] = Reply(json.dumps(host.document("/chunked", padding="x" * 6000)).encode(), chunks=8)
    assert "larger than 5120 bytes" in await refused(documents(http), host.url("/chunked"))


async def test_redirect_is_not_followed(host: ClientHost, http: httpx.AsyncClient) -> None:
    """A redirect could send us to an internal host the URL check never saw; only 200 is accepted."""
    host.serve("/moved", host.document("/moved"))
    host.replies["/c"] = Reply(b"", status=302, headers=[(b"location", host.url("/moved").encode())])
    assert "HTTP 302" in await refused(documents(http), host.url("/c"))
    assert host.hits["/moved"] == 0


@pytest.mark.parametrize(("body", "reason"), [(b"<html>hi</html>", "not JSON"), (b"[1, 2]", "not a JSON object")])
async def test_non_json_document_is_refused(
    host: ClientHost, http: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    host.replies["/c"] = Reply(body)
    assert reason in await refused(documents(http), host.url("/c"))


async def test_slow_host_times_out(host: ClientHost, http: httpx.AsyncClient) -> None:
    """A host that never answers costs one bounded wait, not a stuck request."""
    host.replies["/c"] = Reply(b"{}", gate=asyncio.Event())
    assert "timed out" in await refused(documents(http), host.url("/c"))


async def test_a_good_document_is_cached_for_the_configured_ttl(host: ClientHost, http: httpx.AsyncClient) -> None:
    clock = Clock()
    docs = documents(http, clock)
    url = host.serve("/c", host.document("/c"))
    first = await docs.resolve(url)
    assert await docs.resolve(url) is first
    assert host.hits["/c"] == 1
    clock.advance(SETTINGS.metadata_document_ttl + 1)
    await docs.resolve(url)
    assert host.hits["/c"] == 2


async def test_cache_control_shortens_but_never_extends_the_cache(host: ClientHost, http: httpx.AsyncClient) -> None:
    """CIMD-02 caching: honour the host's ``max-age``, capped by ``metadata_document_ttl``; no-store is not kept."""
    clock = Clock()
    docs = documents(http, clock)
    short = host.serve("/short", host.document("/short"), cache_control="public, max-age=60")
    await docs.resolve(short)
    clock.advance(59)
    await docs.resolve(short)
    assert host.hits["/short"] == 1
    clock.advance(2)
    await docs.resolve(short)
    assert host.hits["/short"] == 2

    long = host.serve("/long", host.document("/long"), cache_control="max-age=86400")
    await docs.resolve(long)
    clock.advance(SETTINGS.metadata_document_ttl + 1)
    await docs.resolve(long)
    assert host.hits["/long"] == 2

    none = host.serve("/nostore", host.document("/nostore"), cache_control="no-store")
    assert (await docs.resolve(none)).client_id == none  # usable for the call that fetched it
    await docs.resolve(none)
    assert host.hits["/nostore"] == 2


async def test_concurrent_resolves_of_one_url_fetch_once(host: ClientHost, http: httpx.AsyncClient) -> None:
    docs = documents(http)
    url = host.serve("/c", host.document("/c"))
    gate = asyncio.Event()
    host.replies["/c"].gate = gate

    async def release() -> None:
        await host.arrived.wait()
        gate.set()

    results = await asyncio.gather(*(docs.resolve(url) for _ in range(5)), release())
    assert all(r is results[0] for r in results[:5])
    assert host.hits["/c"] == 1


async def test_a_failure_is_remembered_for_ten_seconds(host: ClientHost, http: httpx.AsyncClient) -> None:
    """Negative cache: one bad client id cannot make us hammer its host, nor a host be hammered through us."""
    clock = Clock()
    docs = documents(http, clock)
    host.replies["/c"] = Reply(b"{}", status=500)
    assert "HTTP 500" in await refused(docs, host.url("/c"))
    host.serve("/c", host.document("/c"))
    clock.advance(9)
    assert "HTTP 500" in await refused(docs, host.url("/c"))
    assert host.hits["/c"] == 1
    clock.advance(2)
    assert (await docs.resolve(host.url("/c"))).public
    assert host.hits["/c"] == 2


async def test_a_refused_document_is_remembered_too(host: ClientHost, http: httpx.AsyncClient) -> None:
    clock = Clock()
    docs = documents(http, clock)
    url = host.serve("/c", host.document("/c", client_secret="x"))
    await refused(docs, url)
    await refused(docs, url)
    assert host.hits["/c"] == 1


async def test_the_cache_drops_its_oldest_entry_beyond_its_size(host: ClientHost, http: httpx.AsyncClient) -> None:
    docs = documents(http, max_entries=2)
    urls = [host.serve(p, host.document(p)) for p in ("/a", "/b", "/c")]
    for url in urls:
        await docs.resolve(url)
    await docs.resolve(urls[2])
    await docs.resolve(urls[1])
    assert (host.hits["/a"], host.hits["/b"], host.hits["/c"]) == (1, 1, 1)
    await docs.resolve(urls[0])
    assert host.hits["/a"] == 2


async def test_documents_are_refused_when_the_setting_is_off(host: ClientHost, http: httpx.AsyncClient) -> None:
    """Off by default: a URL client id is then an unknown client, and nothing is fetched."""
    url = host.serve("/c", host.document("/c"))
    docs = documents(http, settings=InteractiveSettings())
    assert await refused(docs, url) == "client metadata documents are not accepted here"
    assert host.hits["/c"] == 0


async def test_http_document_is_refused_without_the_development_switch(
    host: ClientHost, http: httpx.AsyncClient
) -> None:
    url = host.serve("/c", host.document("/c"))
    docs = documents(http, settings=InteractiveSettings(client_id_metadata_documents=True))
    assert "must use https" in await refused(docs, url)
    assert host.hits["/c"] == 0


SECURE = msgspec.structs.replace(SETTINGS, allow_insecure_metadata_documents=False)


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "169.254.169.254", "fd00::1", "::ffff:192.168.1.1"])
async def test_a_host_name_resolving_to_an_internal_address_is_not_fetched(
    host: ClientHost, http: httpx.AsyncClient, address: str
) -> None:
    """SSRF: ``https://metadata.evil.example/c.json`` whose name points inside the network is never fetched."""
    asked: list[str] = []

    async def resolver(name: str) -> list[str]:
        asked.append(name)
        return ["93.184.215.14", address]

    docs = documents(http, settings=SECURE, resolver=resolver)
    reason = await refused(docs, "https://metadata.evil.example/c.json")
    assert "resolves to a loopback, private or reserved address" in reason
    assert asked == ["metadata.evil.example"]
    assert sum(host.hits.values()) == 0


async def test_a_host_name_that_does_not_resolve_is_refused(http: httpx.AsyncClient) -> None:
    async def resolver(name: str) -> list[str]:
        raise OSError("no such host")

    docs = documents(http, settings=SECURE, resolver=resolver)
    assert "does not resolve" in await refused(docs, "https://nowhere.example/c.json")


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "169.254.169.254"])
async def test_a_jwks_uri_whose_host_resolves_inside_the_network_is_refused(host: ClientHost, address: str) -> None:
    """SSRF: a document on a public host cannot point the broker's key fetch at an internal one."""
    asked: list[str] = []

    async def resolver(name: str) -> list[str]:
        asked.append(name)
        return ["93.184.215.14"] if name == "metadata.example" else [address]

    url = "https://metadata.example/c.json"
    host.serve(
        "/c.json",
        host.document(
            "/c.json",
            client_id=url,
            token_endpoint_auth_method="private_key_jwt",
            jwks_uri="https://keys.internal.example/jwks",
        ),
    )
    # https to the document host, answered by the test host's ASGI app (it resolves to a public address).
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host)) as https:
        docs = documents(https, settings=SECURE, resolver=resolver)
        reason = await refused(docs, url)
    assert reason == "its jwks_uri host name resolves to a loopback, private or reserved address"
    assert asked == ["metadata.example", "keys.internal.example"]
    assert host.hits["/c.json"] == 1  # the document was fetched; the keys never were
