"""Credentials never follow a redirect to another origin (workfuse.net.redirects), with
two real HTTP servers on 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from tests.support.local_server import LocalServer, Request, Response, serve
from workfuse import net
from workfuse.net import EgressPolicy
from workfuse.net.bridge import httpx2_async_client
from workfuse.net.redirects import SECRET_HEADERS, is_credential_header, redirect_headers

LOOPBACK = EgressPolicy(allow=("127.0.0.0/8",))
CANARY = "canary-7c1e0d"

#: What a caller sends: credentials (each holds the canary) and harmless headers.
CREDENTIALS = {
    "Authorization": f"Bearer {CANARY}-1",
    "Proxy-Authorization": f"Basic {CANARY}-2",
    "Cookie": f"session={CANARY}-3",
    "X-API-Key": f"{CANARY}-4",
    "X-Auth-Token": f"{CANARY}-5",
    "X-Hub-Signature-256": f"sha256={CANARY}-6",
    "X-Client-Secret": f"{CANARY}-7",
    "X-Shop": f"{CANARY}-8",  # no telling name: marked secret by the caller
}
HARMLESS = {"X-Request-Id": "req-1", "Idempotency-Key": "exec:node", "Accept": "application/json"}


def _landing(request: Request) -> Response:
    return Response.json({"headers": request.headers})


def _redirect(to: str) -> Callable[[Request], Response]:
    return lambda _request: Response(302, b"", {"Location": to})


@contextmanager
def origins(*, same_port: bool = False) -> Iterator[tuple[LocalServer, LocalServer]]:
    """Server ``a`` on 127.0.0.1 and ``b`` on another origin: another port of
    127.0.0.1, or (``same_port``) the same port on 127.0.0.2, so only the host differs."""
    for _ in range(20):
        with ExitStack() as stack:
            a = stack.enter_context(serve({"GET /landing": _landing}))
            try:
                routes = {"GET /landing": _landing}
                b = stack.enter_context(
                    serve(routes, host="127.0.0.2", port=a.port) if same_port else serve(routes)
                )
            except OSError:  # that port is taken on 127.0.0.2: try another
                continue
            a.routes["GET /to-b"] = _redirect(f"{b.url}/landing")
            a.routes["GET /to-a"] = _redirect("/landing")
            a.routes["GET /to-b-and-back"] = _redirect(f"{b.url}/to-a")
            b.routes["GET /to-a"] = _redirect(f"{a.url}/landing")
            yield a, b
            return
    pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")


def _get(url: str, *, use_async: bool) -> httpx.Response:
    headers = {**CREDENTIALS, **HARMLESS}
    extensions = {SECRET_HEADERS: ("x-shop",)}
    if use_async:

        async def fetch() -> httpx.Response:
            async with net.async_client(policy=LOOPBACK) as client:
                request = client.build_request("GET", url, headers=headers, extensions=extensions)
                return await client.send(request)

        return asyncio.run(fetch())
    with net.sync_client(policy=LOOPBACK) as client:
        return client.send(client.build_request("GET", url, headers=headers, extensions=extensions))


def _assert_no_credentials(received: dict[str, str]) -> None:
    assert CANARY not in str(received)
    assert not {name.lower() for name in CREDENTIALS} & set(received)
    # The harmless headers went on
    assert received["x-request-id"] == "req-1"
    assert received["idempotency-key"] == "exec:node"


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("same_port", [False, True], ids=["other-port", "other-host"])
def test_a_redirect_to_another_origin_carries_no_credential(
    use_async: bool, same_port: bool
) -> None:
    # Given a server that redirects to a server on another port, or another host
    with origins(same_port=same_port) as (a, b):
        # When a request with credentials in many headers follows the redirect
        response = _get(f"{a.url}/to-b", use_async=use_async)

        # Then the first server got them all, and the second got none of them
        assert response.status_code == 200 and str(response.url) == f"{b.url}/landing"
        assert a.requests[0].headers["x-api-key"] == f"{CANARY}-4"
        assert a.requests[0].headers["x-shop"] == f"{CANARY}-8"
        (landed,) = b.requests
        _assert_no_credentials(landed.headers)


def test_a_redirect_within_the_origin_keeps_every_header() -> None:
    with origins() as (a, _b):
        response = _get(f"{a.url}/to-a", use_async=False)

        assert response.status_code == 200
        received = a.requests[-1].headers
        for name, value in CREDENTIALS.items():
            if name != "Cookie":  # httpx sends the client's cookie jar after a redirect
                assert received[name.lower()] == value


def test_a_credential_dropped_once_stays_dropped_back_on_the_first_origin() -> None:
    # Given a -> b -> a
    with origins() as (a, b):
        response = _get(f"{a.url}/to-b-and-back", use_async=True)

        # Then neither b nor a (the second time) saw the credentials
        assert response.status_code == 200 and str(response.url) == f"{a.url}/landing"
        _assert_no_credentials(b.requests[-1].headers)
        _assert_no_credentials(a.requests[-1].headers)


def test_the_httpx2_bridge_drops_them_too() -> None:
    # Given the client the Anthropic and Gemini SDKs use (their keys: x-api-key,
    # x-goog-api-key)
    async def fetch(url: str) -> int:
        async with httpx2_async_client() as client:
            response = await client.get(
                url, headers={"x-api-key": f"{CANARY}-a", "x-goog-api-key": f"{CANARY}-g"}
            )
            return response.status_code

    with origins() as (a, b), pytest.MonkeyPatch.context() as patch:
        patch.setattr(EgressPolicy, "from_settings", classmethod(lambda cls, s=None: LOOPBACK))
        assert asyncio.run(fetch(f"{a.url}/to-b")) == 200

        assert a.requests[0].headers["x-api-key"] == f"{CANARY}-a"
        assert CANARY not in str(b.requests[-1].headers)


def test_a_scheme_change_drops_them_even_for_an_https_upgrade() -> None:
    # httpx itself keeps Authorization for http://host -> https://host
    request = httpx.Request("GET", "http://api.example.com/x", headers=CREDENTIALS)
    headers = redirect_headers(
        request, httpx.URL("https://api.example.com/x"), httpx.Headers(request.headers)
    )
    assert "authorization" not in headers and "x-api-key" not in headers
    # The default port is the same origin; another port is not
    same = redirect_headers(
        request, httpx.URL("http://API.example.com:80/y"), httpx.Headers(request.headers)
    )
    assert same["x-api-key"] == f"{CANARY}-4"
    other = redirect_headers(
        request, httpx.URL("http://api.example.com:8080/y"), httpx.Headers(request.headers)
    )
    assert "x-api-key" not in other


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        ("Authorization", True),
        ("X-Goog-Api-Key", True),
        ("apikey", True),
        ("X-Session-Id", True),
        ("X-Amz-Security-Token", True),
        ("Idempotency-Key", False),
        ("Content-Type", False),
        ("User-Agent", False),
        ("X-Shop", False),
    ],
)
def test_which_header_names_count_as_credentials(name: str, credential: bool) -> None:
    assert is_credential_header(name) is credential
    assert is_credential_header(name, marked=("x-shop",)) is (credential or name == "X-Shop")
