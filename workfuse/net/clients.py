"""The guarded httpx clients: :func:`async_client` and :func:`sync_client`.

They use the guarded transports, ignore proxy settings and other configuration from
the environment (``trust_env=False``), follow at most ``max_redirects`` redirects with
every hop checked and no credential header sent on to another origin
(:mod:`workfuse.net.redirects`), and refuse a non-HTTP scheme before base-URL merging
can hide it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import idna

from workfuse.net.policy import EgressPolicy, InvalidURL, _check_scheme, parse_url
from workfuse.net.redirects import redirect_headers
from workfuse.net.transport import GuardedAsyncTransport, GuardedTransport


def _check_before_merging(url: httpx.URL | str) -> None:
    """:class:`InvalidURL` for a URL that does not parse; a refused scheme."""
    parsed = parse_url(url)
    if parsed.scheme:
        _check_scheme(parsed)


@contextmanager
def _invalid_redirect_host() -> Iterator[None]:
    """A redirect whose ``Location`` host is not a valid IDNA name fails when httpx
    decodes it to compare origins, before the transport checks the hop: the same
    :class:`InvalidURL` as a first request to that host."""
    try:
        yield
    except idna.IDNAError as error:
        raise InvalidURL(f"a redirect went to a host that is not a valid name ({error})") from None


class _GuardedAsyncClient(httpx.AsyncClient):
    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        # Before base-URL merging, which turns ``file:///etc/passwd`` into ``/etc/passwd``.
        _check_before_merging(url)
        return super().build_request(method, url, **kwargs)

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        with _invalid_redirect_host():
            return await super().send(request, **kwargs)

    def _redirect_headers(
        self, request: httpx.Request, url: httpx.URL, method: str
    ) -> httpx.Headers:
        # No credential goes on to another origin (workfuse.net.redirects).
        return redirect_headers(request, url, super()._redirect_headers(request, url, method))


class _GuardedClient(httpx.Client):
    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        _check_before_merging(url)
        return super().build_request(method, url, **kwargs)

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        with _invalid_redirect_host():
            return super().send(request, **kwargs)

    def _redirect_headers(
        self, request: httpx.Request, url: httpx.URL, method: str
    ) -> httpx.Headers:
        return redirect_headers(request, url, super()._redirect_headers(request, url, method))


def async_client(
    *,
    policy: EgressPolicy | None = None,
    timeout: float = 30.0,
    follow_redirects: bool = True,
    max_redirects: int = 5,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """The guarded async client; use it as ``async with async_client() as client:``.

    ``timeout`` is in seconds and applies to each of connect (resolution included),
    each read, each write and waiting for a pooled connection; it is not a total
    deadline. At most ``max_redirects`` redirects are followed, every hop checked.
    ``policy`` defaults to :meth:`EgressPolicy.from_settings`.
    """
    policy = policy if policy is not None else EgressPolicy.from_settings()
    return _GuardedAsyncClient(
        transport=GuardedAsyncTransport(policy),
        timeout=timeout,
        trust_env=False,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers=headers,
    )


def sync_client(
    *,
    policy: EgressPolicy | None = None,
    timeout: float = 30.0,
    follow_redirects: bool = True,
    max_redirects: int = 5,
    headers: Mapping[str, str] | None = None,
) -> httpx.Client:
    """The guarded blocking client; same parameters and limits as :func:`async_client`.

    Name resolution here cannot be interrupted by ``timeout`` (the system resolver's
    own timeout applies).
    """
    policy = policy if policy is not None else EgressPolicy.from_settings()
    return _GuardedClient(
        transport=GuardedTransport(policy),
        timeout=timeout,
        trust_env=False,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers=headers,
    )


#: Per event loop, the shared client of each egress policy.
_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[EgressPolicy, httpx.AsyncClient]]
_shared = weakref.WeakKeyDictionary()


def shared_async_client(*, policy: EgressPolicy | None = None) -> httpx.AsyncClient:
    """The guarded client shared by every caller on the running event loop.

    Reusing it keeps connections alive between node runs (a new connection costs about
    1 ms on loopback, far more with TLS over the internet). Do not close it, and pass
    ``timeout`` and ``follow_redirects`` with each request. It keeps no cookies, so
    nothing one workflow receives is sent on another's request. Connections idle for
    5 s are dropped; the client goes away with its event loop.
    """
    loop = asyncio.get_running_loop()
    policy = policy if policy is not None else EgressPolicy.from_settings()
    clients = _shared.setdefault(loop, {})
    client = clients.get(policy)
    if client is None or client.is_closed:
        client = clients[policy] = _GuardedAsyncClient(
            transport=GuardedAsyncTransport(policy),
            trust_env=False,
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
    return client
