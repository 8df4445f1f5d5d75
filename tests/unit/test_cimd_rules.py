"""Client ID Metadata Document URL rules (CIMD-02 §3) and our SSRF guard: each refused shape and why."""

from __future__ import annotations

import pytest

from broker.cimd import ClientMetadataError, check_client_id_url, is_metadata_document_url

GOOD = "https://app.example.com/oauth/client.json"


def refused(url: str, *, allow_insecure: bool = False) -> str:
    with pytest.raises(ClientMetadataError) as info:
        check_client_id_url(url, allow_insecure=allow_insecure)
    return info.value.reason


def test_https_url_with_a_path_is_accepted() -> None:
    check_client_id_url(GOOD, allow_insecure=False)
    check_client_id_url("https://app.example.com:8443/c", allow_insecure=False)


def test_only_http_and_https_urls_look_like_metadata_documents() -> None:
    assert is_metadata_document_url(GOOD)
    assert is_metadata_document_url("http://127.0.0.1:9000/c")
    assert not is_metadata_document_url("agent-app")
    assert not is_metadata_document_url("urn:example:client")


def test_fragment_is_refused() -> None:
    """CIMD-02 §3: a fragment is never sent to the server, so two "different" ids would name one document."""
    assert "fragment" in refused(GOOD + "#other")
    assert "fragment" in refused(GOOD + "#")


def test_userinfo_is_refused() -> None:
    """CIMD-02 §3: ``https://app.example.com@evil.example/`` shows a trusted name but fetches another host."""
    assert "username or password" in refused("https://app.example.com@evil.example/client.json")
    assert "username or password" in refused("https://user:pw@app.example.com/client.json")


@pytest.mark.parametrize("path", ["/a/./client.json", "/a/../client.json", "/a/%2e%2e/client.json", "/a/%2E/c"])
def test_dot_segments_are_refused(path: str) -> None:
    """CIMD-02 §3: dot segments let one document answer for another path's client id after normalisation."""
    assert "'.' or '..'" in refused(f"https://app.example.com{path}")


@pytest.mark.parametrize("url", ["https://app.example.com", "https://app.example.com/"])
def test_root_path_is_refused(url: str) -> None:
    """CIMD-02 §3: a path is required, so a whole origin cannot pose as one client."""
    assert "path component" in refused(url)


def test_query_is_refused() -> None:
    """CIMD-02 §3 (SHOULD NOT, refused here): a query mints unlimited client ids from one document endpoint."""
    assert "query" in refused(GOOD + "?v=2")
    assert "query" in refused(GOOD + "?")


def test_http_is_refused_for_a_public_host_even_when_insecure_is_allowed() -> None:
    """CIMD-02 §3: https only; the development switch admits http on loopback, never across the network."""
    assert "https" in refused("http://app.example.com/client.json")
    assert "https" in refused("http://app.example.com/client.json", allow_insecure=True)
    assert "https" in refused("http://127.0.0.1:9000/client.json")
    check_client_id_url("http://127.0.0.1:9000/client.json", allow_insecure=True)
    check_client_id_url("http://[::1]:9000/client.json", allow_insecure=True)
    check_client_id_url("http://localhost:9000/client.json", allow_insecure=True)


def test_other_schemes_are_refused() -> None:
    assert "https" in refused("ftp://app.example.com/client.json")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.5",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata service
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - the address under test, not a bind
        "[::1]",
        "[fe80::1]",
        "[fd00::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "224.0.0.1",
        "localhost",
        "metadata.localhost",
        "2130706433",  # 127.0.0.1 as one number: resolvers accept it
        "0x7f.1",
        "127.1",
    ],
)
def test_internal_address_is_refused_against_ssrf(host: str) -> None:
    """Our SSRF guard (CIMD-02 security considerations): a client id must not make us fetch from inside."""
    assert "loopback, private or reserved" in refused(f"https://{host}/client.json")


def test_internal_address_is_allowed_over_https_only_in_development() -> None:
    check_client_id_url("https://10.0.0.5/client.json", allow_insecure=True)


def test_overlong_url_is_refused() -> None:
    """A 2048-character cap bounds cache keys, log lines and what we send to the host."""
    url = "https://app.example.com/" + "a" * 2048
    assert "longer than 2048" in refused(url)
    check_client_id_url(url[:2048], allow_insecure=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/client json",
        "https://app.example.com/client\tjson",
        "https://app.example.com\\@evil.example/c",
        "https://app.exämple.com/client.json",
    ],
)
def test_ambiguous_characters_are_refused(url: str) -> None:
    """Parsers disagree on spaces, controls, backslashes and non-ASCII; our check and httpx must see one host."""
    assert "plain ASCII" in refused(url)


def test_bad_port_is_refused() -> None:
    assert "not a valid URL" in refused("https://app.example.com:99999/client.json")
