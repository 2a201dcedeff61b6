"""The egress policy: which destinations outbound HTTP may reach (:class:`EgressPolicy`),
and the error it raises (:class:`EgressDenied`).

A policy is checked twice per request: :meth:`EgressPolicy.check_url` before sending
(scheme and a literal IP host, without touching the network) and
:meth:`EgressPolicy.connect_targets` on the addresses a host name resolved to, at
connect time. Refusal messages name the host and the reason, never a secret.
"""

from __future__ import annotations

import ipaddress
import re
import typing
from dataclasses import dataclass
from functools import cached_property

import httpx

from workfuse.net.addresses import (
    IPAddress,
    _blocked_reason,
    _literal,
    _normalise_host,
    _parse_ip,
)

if typing.TYPE_CHECKING:
    from workfuse.settings import Settings


_HINT = "allow it with WORKFUSE_EGRESS_ALLOW"


class EgressDenied(Exception):
    """An outbound request was refused by the egress guard (names the host, never secrets)."""

    def __init__(self, message: str, *, host: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.host = host
        self.reason = reason


def _check_scheme(url: httpx.URL) -> None:
    if url.scheme not in ("http", "https"):
        reason = f"the {url.scheme} scheme is refused" if url.scheme else "no scheme"
        message = f"{reason}: only http:// and https:// URLs may go out"
        raise EgressDenied(message, host=_normalise_host(url.host), reason=reason)


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
