"""The guarded httpx clients: :func:`async_client` and :func:`sync_client`.

They use the guarded transports, ignore proxy settings and other configuration from
the environment (``trust_env=False``), follow at most ``max_redirects`` redirects with
every hop checked, and refuse a non-HTTP scheme before base-URL merging can hide it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from workfuse.net.policy import EgressPolicy, _check_scheme
from workfuse.net.transport import GuardedAsyncTransport, GuardedTransport


class _GuardedAsyncClient(httpx.AsyncClient):
    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        # Before base-URL merging, which turns ``file:///etc/passwd`` into ``/etc/passwd``.
        if httpx.URL(url).scheme:
            _check_scheme(httpx.URL(url))
        return super().build_request(method, url, **kwargs)


class _GuardedClient(httpx.Client):
    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        if httpx.URL(url).scheme:
            _check_scheme(httpx.URL(url))
        return super().build_request(method, url, **kwargs)


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
