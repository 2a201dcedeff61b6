"""The connect-time guard: httpx transports whose connections only reach checked addresses.

:class:`GuardedAsyncTransport` and :class:`GuardedTransport` check each request URL,
then open connections through a guarded network backend that resolves the host once
(``getaddrinfo``; off the event loop for the async one), checks *every* resolved
address with the policy, and connects to a checked address, so DNS rebinding between
check and connect is impossible. TLS still uses the URL's host name for SNI and
certificate verification. Unix sockets are refused. The connect timeout (seconds)
covers resolution too, except in the blocking backend, where the system resolver's own
timeout applies.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import anyio
import anyio.to_thread
import httpcore
import httpx

from workfuse.net.policy import EgressDenied, EgressPolicy

SocketOptions = Iterable[httpcore.SOCKET_OPTION] | None


def _resolve(host: str, port: int) -> list[str]:
    """Every address of ``host`` (one ``getaddrinfo`` call; literal IPs as they are)."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        return [host]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class _GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects the inner backend to a checked IP."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy, self._inner = policy, inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.AsyncNetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with anyio.fail_after(timeout) if timeout is not None else nullcontext():
                addresses = await anyio.to_thread.run_sync(
                    _resolve, host, port, abandon_on_cancel=True
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout} s") from None
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in self._policy.connect_targets(host, addresses):
            try:
                return await self._inner.connect_tcp(
                    address, port, _remaining(deadline), local_address, socket_options
                )
            except httpcore.ConnectError as failed:
                error = failed
        raise error

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.AsyncNetworkStream:
        raise EgressDenied("unix sockets are refused", reason="unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedBackend(httpcore.NetworkBackend):
    """The synchronous twin of :class:`_GuardedAsyncBackend`."""

    def __init__(self, policy: EgressPolicy, inner: httpcore.NetworkBackend) -> None:
        self._policy, self._inner = policy, inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: SocketOptions = None,
    ) -> httpcore.NetworkStream:
        deadline = None if timeout is None else time.monotonic() + timeout
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in self._policy.connect_targets(host, _resolve(host, port)):
            try:
                return self._inner.connect_tcp(
                    address, port, _remaining(deadline), local_address, socket_options
                )
            except httpcore.ConnectError as failed:
                error = failed
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: SocketOptions = None
    ) -> httpcore.NetworkStream:
        raise EgressDenied("unix sockets are refused", reason="unix socket")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs about 20 ms; a context is safe to share between
    # connections and threads once built, so every client uses this one.
    return httpx.create_ssl_context(verify=True, trust_env=False)


def _ssl_context(verify: Any) -> ssl.SSLContext:
    """``verify`` as in httpx (never from the environment); the default one is shared."""
    if verify is True:
        return _default_ssl_context()
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def _pool_options(ssl_context: ssl.SSLContext) -> dict[str, Any]:
    """httpx's default pool limits."""
    return {
        "ssl_context": ssl_context,
        "max_connections": 100,
        "max_keepalive_connections": 20,
        "keepalive_expiry": 5.0,  # seconds
    }


class GuardedAsyncTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that checks each request URL and each new connection."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        verify: Any = True,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        ssl_context = _ssl_context(verify)
        # The base class builds a pool (replaced below); a ready context keeps that cheap.
        super().__init__(verify=ssl_context, trust_env=False)
        self._policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            **_pool_options(ssl_context),
            network_backend=_GuardedAsyncBackend(
                policy, network_backend or httpcore.AnyIOBackend()
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_url(request.url)
        return await super().handle_async_request(request)


class GuardedTransport(httpx.HTTPTransport):
    """The synchronous twin of :class:`GuardedAsyncTransport`."""

    def __init__(
        self,
        policy: EgressPolicy,
        *,
        verify: Any = True,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        ssl_context = _ssl_context(verify)
        super().__init__(verify=ssl_context, trust_env=False)
        self._policy = policy
        self._pool = httpcore.ConnectionPool(
            **_pool_options(ssl_context),
            network_backend=_GuardedBackend(policy, network_backend or httpcore.SyncBackend()),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_url(request.url)
        return super().handle_request(request)
