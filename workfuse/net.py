"""The only outbound HTTP client in WorkFuse, with an egress guard that is on by default.

Every request made through :func:`async_client` or :func:`sync_client` is checked twice:

* before it is sent (every redirect hop too): the scheme must be ``http`` or ``https``,
  and a literal IP host in any spelling (``2130706433``, ``0x7f.1``, ``[::ffff:a.b.c.d]``,
  NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) is checked without touching the network;
* when a connection is opened: the host is resolved once (``getaddrinfo``, off the event
  loop), *every* resolved address is checked, and the socket connects to a checked
  address, so DNS rebinding between check and connect is impossible. TLS still uses
  the URL's host name for SNI and certificate verification.

Refused unless allowlisted (``WORKFUSE_EGRESS_ALLOW``: CIDRs, or exact host names
that are then allowed whatever they resolve to): loopback, private (RFC 1918),
link-local and cloud metadata, carrier-grade NAT, unique-local, unspecified,
multicast, reserved and broadcast addresses, their IPv4-mapped, IPv4-compatible and
NAT64 forms, and all 6to4 (2002::/16). Proxy settings from the environment are ignored.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
import typing
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import anyio
import anyio.to_thread
import httpcore
import httpx

if typing.TYPE_CHECKING:
    from workfuse.settings import Settings

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024  #: bytes
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SocketOptions = Iterable[httpcore.SOCKET_OPTION] | None

_HINT = "allow it with WORKFUSE_EGRESS_ALLOW"
_METADATA = {
    ipaddress.ip_address("169.254.169.254"): "link-local/cloud metadata",
    ipaddress.ip_address("169.254.170.2"): "link-local/cloud metadata (ECS)",
    ipaddress.ip_address("fd00:ec2::254"): "cloud metadata (IPv6)",
}
_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
_CGNAT = _V4("100.64.0.0/10")
_RFC1918 = (_V4("10.0.0.0/8"), _V4("172.16.0.0/12"), _V4("192.168.0.0/16"))
_NAT64 = _V6("64:ff9b::/96")
_NAT64_LOCAL = _V6("64:ff9b:1::/48")
_UNIQUE_LOCAL = _V6("fc00::/7")
_IPV4_COMPATIBLE = _V6("::/96")
# One inet_aton part: hex (0x..), octal (0..) or decimal, as the C resolver accepts them.
_INET_ATON_PART = re.compile(r"0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*")


class EgressDenied(Exception):
    """An outbound request was refused by the egress guard (names the host, never secrets)."""

    def __init__(self, message: str, *, host: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.reason = reason


class ResponseTooLarge(Exception):
    """A response body went past the byte limit given to :func:`read_limited`."""


def _parse_ip(text: str) -> IPAddress | None:
    """A literal IP in any form the C resolver accepts (``127.1``, ``0x7f.1``, ...), or None."""
    host = text.strip("[]").split("%", 1)[0].rstrip(".").lower()
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_INET_ATON_PART.fullmatch(p) for p in parts):
        return None
    values = [
        int(p[2:] or "0", 16) if p.startswith("0x") else int(p, 8 if p[0] == "0" else 10)
        for p in parts
    ]
    *leading, last = values
    if any(v > 0xFF for v in leading) or last >= 256 ** (5 - len(values)):
        return None
    number = last
    for index, value in enumerate(leading):
        number |= value << (24 - 8 * index)
    return ipaddress.IPv4Address(number)


def _blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop any %scope
        embedded, form = ip.ipv4_mapped, "an IPv4-mapped"
        if embedded is None and ip in _NAT64:
            embedded, form = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "a NAT64"
        if embedded is None and ip.sixtofour is not None:
            embedded, form = ip.sixtofour, "a 6to4"
        if embedded is not None:
            inner = _blocked_reason(embedded)
            if inner is not None:
                return f"{form} form of {embedded}, which is {inner}"
            if form != "a 6to4":
                return None
            return "6to4 (2002::/16, deprecated relays)"
        if ip in _NAT64_LOCAL:
            return "local-use NAT64 (64:ff9b:1::/48)"
        if ip in _IPV4_COMPATIBLE and int(ip) > 1:
            return "an IPv4-compatible address (deprecated, ::/96)"
    checks: tuple[tuple[bool, str], ...] = (
        (ip in _METADATA, _METADATA.get(ip, "")),
        (ip.is_loopback, "loopback"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_link_local, "link-local"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "carrier-grade NAT (100.64/10)"),
        (isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL, "unique-local (fc00::/7)"),
        (ip.is_multicast, "multicast"),
        (
            isinstance(ip, ipaddress.IPv4Address) and any(ip in n for n in _RFC1918),
            "private (RFC 1918)",
        ),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local (deprecated)"),
        (ip == ipaddress.IPv4Address("255.255.255.255"), "broadcast"),
        (ip.is_reserved, "reserved"),
        (ip.is_private or not ip.is_global, "a special-purpose (not globally routable) address"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _literal(text: str) -> IPAddress | str:
    """``text`` as an IP when it is written as a standard IP literal, else as it is."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text


def _check_scheme(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        reason = f"the {url.scheme} scheme is refused" if url.scheme else "no scheme"
        message = f"{reason}: only http:// and https:// URLs may go out"
        raise EgressDenied(message, host=_normalise_host(url.host), reason=reason)


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


@dataclass(frozen=True)
class EgressPolicy:
    """Which non-public destinations outbound HTTP may reach.

    ``allow`` holds CIDRs (``10.0.0.0/8``, ``127.0.0.1``, ``::1/128``) that allow the
    addresses inside them, and host names (``localhost``) that allow exactly that name,
    case-insensitive, whatever it resolves to. Public unicast addresses are always allowed.
    """

    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self._networks  # noqa: B018 - validate the allowlist now, not at the first request

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> EgressPolicy:
        """The policy of ``WORKFUSE_EGRESS_ALLOW``."""
        if settings is None:
            from workfuse.settings import get_settings

            settings = get_settings()
        return cls(allow=tuple(settings.egress_allow))

    @cached_property
    def _networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        networks = []
        for entry in self.allow:
            text = _normalise_host(entry)
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                if "/" in text or not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", text):
                    raise ValueError(
                        f"WORKFUSE_EGRESS_ALLOW: {entry!r} is neither a CIDR nor a host name"
                    ) from None
        return tuple(networks)

    @cached_property
    def _names(self) -> frozenset[str]:
        names = {_normalise_host(entry) for entry in self.allow}
        return frozenset(name for name in names if "/" not in name and _parse_ip(name) is None)

    def host_allowed(self, host: str) -> bool:
        """True when ``host`` is allowlisted by name."""
        return _normalise_host(host) in self._names

    def refusal(self, ip: str | IPAddress) -> str | None:
        """Why ``ip`` is refused, or None when it is public or inside an allowed CIDR."""
        address = ip if not isinstance(ip, str) else _parse_ip(ip)
        if address is None:
            return "not an IP address"
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        if any(a in n for n in self._networks for a in (address, mapped) if a is not None):
            return None
        return _blocked_reason(address)

    def check_ip(self, ip: str | IPAddress, *, host: str | None = None) -> None:
        """Raise :class:`EgressDenied` unless ``ip`` is public or inside an allowed CIDR.

        ``host``, when given, is the name the address was written as or resolved from.
        """
        reason = self.refusal(ip)
        if reason is None:
            return
        name = host or str(ip)
        what = name if _literal(name) == _literal(str(ip)) else f"{name} is {ip}, which"
        raise EgressDenied(f"{what} is {reason}; {_HINT}", host=name, reason=reason)

    def check_url(self, url: str | httpx.URL) -> None:
        """Check a URL without touching the network: scheme, and a literal IP host.

        Host names are checked when they are resolved, at connect time; ``localhost``
        and ``*.localhost`` are refused here already as 127.0.0.1.
        """
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except httpx.InvalidURL:
            raise EgressDenied("not a valid URL", reason="invalid URL") from None
        host = _normalise_host(parsed.host)
        _check_scheme(parsed)
        if not host:
            raise EgressDenied("the URL has no host", reason="no host")
        if self.host_allowed(host):
            return
        ip = _parse_ip(host)
        if ip is None and (host == "localhost" or host.endswith(".localhost")):
            ip = ipaddress.IPv4Address("127.0.0.1")
        if ip is not None:
            self.check_ip(ip, host=host)

    def connect_targets(self, host: str, addresses: list[str]) -> list[str]:
        """The resolved ``addresses`` of ``host`` to connect to, once every one is checked."""
        if self.host_allowed(host):
            return addresses
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                what = host if address == host else f"{host} resolves to {address}, which"
                raise EgressDenied(f"{what} is {reason}; {_HINT}", host=host, reason=reason)
        return addresses


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


def _pool_options(verify: Any) -> dict[str, Any]:
    """httpx's default pool limits; ``verify`` as in httpx, never from the environment."""
    return {
        "ssl_context": httpx.create_ssl_context(verify=verify, trust_env=False),
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
        super().__init__(trust_env=False)
        self._policy = policy
        self._pool = httpcore.AsyncConnectionPool(
            **_pool_options(verify),
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
        super().__init__(trust_env=False)
        self._policy = policy
        self._pool = httpcore.ConnectionPool(
            **_pool_options(verify),
            network_backend=_GuardedBackend(policy, network_backend or httpcore.SyncBackend()),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._policy.check_url(request.url)
        return super().handle_request(request)


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


def _check_length(response: httpx.Response, max_bytes: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"the response declares {declared} bytes; the limit is {max_bytes}")


def _too_large(max_bytes: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"the response body is larger than {max_bytes} bytes")


async def read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    """The (decoded) body of a streamed ``response``, at most ``max_bytes`` bytes.

    Raises :class:`ResponseTooLarge` as soon as ``Content-Length`` or the bytes received
    go past ``max_bytes`` (the response is then closed). Memory use stays within
    ``max_bytes`` plus one network chunk (64 KiB before decompression).
    """
    body = bytearray()
    try:
        _check_length(response, max_bytes)
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _too_large(max_bytes)
    except ResponseTooLarge:
        await response.aclose()
        raise
    return bytes(body)


def read_limited_sync(response: httpx.Response, max_bytes: int) -> bytes:
    """The blocking twin of :func:`read_limited` (same limit and errors)."""
    body = bytearray()
    try:
        _check_length(response, max_bytes)
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise _too_large(max_bytes)
    except ResponseTooLarge:
        response.close()
        raise
    return bytes(body)
