"""Malformed outbound URLs are one error, ``net.InvalidURL`` (a kind of
``EgressDenied``), raised before any connection: by the policy's check, by the guarded
clients (first request and every redirect hop), never httpx's ``InvalidURL``, IDNA's
``UnicodeError`` or a socket error from deep inside."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support.local_server import LocalServer, Response, serve
from workfuse import net
from workfuse.net import EgressDenied, EgressPolicy, InvalidURL

LOCAL = EgressPolicy(allow=("127.0.0.1/32",))

INVALID = [
    "http://xn--a.com/",  # punycode that decodes to a code point IDNA refuses
    "http://xn--ls8h.example/",  # an emoji: refused by IDNA 2008
    "http://exämple-.com/",  # a label ending in '-': httpx refuses it
    "http://a..example/",  # an empty label
    "http://" + "a" * 64 + ".example/",  # a label over 63 characters
    "http://" + "a." * 127 + "example/",  # a name over 253 characters
    "http://exa mple.com/",  # a space (httpx would send it percent-encoded)
    "http://127.0.0.1:99999/",  # port out of range (an OverflowError in the socket layer)
    "http://127.0.0.1:0/",
    "http://[::1/",  # does not parse
    "http://a.com/\udcff",  # a lone surrogate: not UTF-8
    "http://a.com/?q=\x00",
]

VALID = [
    "https://example.com/a?b=c",
    "http://bücher.example/",  # IDNA: sent as xn--bcher-kva.example
    "http://xn--bcher-kva.example/",
    "http://under_score.example/",  # not a hostname by the book, but used in practice
    "http://example.com./",  # a fully qualified name
    "http://93.184.216.34:8443/",
    "http://[2606:2800:220:1:248:1893:25c8:1946]/",
]


@pytest.mark.parametrize("url", INVALID)
def test_the_policy_refuses_a_malformed_url_as_invalid(url: str) -> None:
    with pytest.raises(InvalidURL) as refused:
        EgressPolicy().check_url(url)
    assert isinstance(refused.value, EgressDenied)
    assert refused.value.reason == "invalid URL"
    assert str(refused.value).startswith("not a valid URL: ")


@pytest.mark.parametrize("url", VALID)
def test_the_policy_passes_a_valid_public_url(url: str) -> None:
    EgressPolicy().check_url(url)


def test_a_refused_address_is_still_egress_denied_not_invalid() -> None:
    with pytest.raises(EgressDenied) as refused:
        EgressPolicy().check_url("http://[::1]:8080/")
    assert not isinstance(refused.value, InvalidURL)


@pytest.mark.parametrize("url", INVALID)
def test_the_clients_refuse_a_malformed_url_before_connecting(url: str) -> None:
    async def send() -> None:
        async with net.async_client(policy=LOCAL) as client:
            await client.get(url)

    with pytest.raises(InvalidURL):
        asyncio.run(send())
    with net.sync_client(policy=LOCAL) as client, pytest.raises(InvalidURL):
        client.get(url)


@pytest.fixture
def redirecting() -> Iterator[LocalServer]:
    routes = {
        "GET /idna": lambda _request: Response(302, b"", {"Location": "http://xn--a.com/"}),
        "GET /port": lambda _request: Response(302, b"", {"Location": "http://127.0.0.1:99999/"}),
    }
    with serve(routes) as server:
        yield server


@pytest.mark.parametrize("path", ["/idna", "/port"])
def test_a_redirect_to_a_malformed_url_is_invalid_url(redirecting: LocalServer, path: str) -> None:
    async def send() -> None:
        async with net.async_client(policy=LOCAL) as client:
            await client.get(f"{redirecting.url}{path}")

    with pytest.raises(InvalidURL):
        asyncio.run(send())
    with net.sync_client(policy=LOCAL) as client, pytest.raises(InvalidURL):
        client.get(f"{redirecting.url}{path}")


def test_parse_url_returns_the_parsed_url() -> None:
    parsed = net.parse_url("http://bücher.example:8080/x")
    assert isinstance(parsed, httpx.URL)
    assert (parsed.raw_host, parsed.port) == (b"xn--bcher-kva.example", 8080)
