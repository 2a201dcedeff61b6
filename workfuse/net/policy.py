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


class InvalidURL(EgressDenied):
    """The URL cannot go out as it is: it does not parse, its host is not a valid
    (international) domain name or IP address, or its port is outside 1-65535.

    One error for every way a URL built from user input can be malformed (httpx's
    ``InvalidURL``, IDNA's ``UnicodeError``, an out-of-range port that would fail deep
    in the socket layer), raised before any connection. A kind of
    :class:`EgressDenied` (``reason`` "invalid URL"), so every caller that handles a
    refusal handles it too; callers may tell it apart (the HTTP node's
    ``HTTP_INVALID_URL``)."""

    def __init__(self, problem: str, *, host: str = "") -> None:
        super().__init__(f"not a valid URL: {problem}", host=host, reason="invalid URL")


#: The schemes a URL going out (or a browser origin) may have, and their default ports.
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_HOST_LENGTH = 253  #: characters of a domain name (without a trailing dot)
MAX_LABEL_LENGTH = 63  #: characters of one label of a domain name
_HOST_LABEL = re.compile(rb"[A-Za-z0-9_-]{1,%d}" % MAX_LABEL_LENGTH)


def parse_url(url: str | httpx.URL) -> httpx.URL:
    """``url`` parsed, with its host readable; :class:`InvalidURL` if it is not a URL
    httpx can send (as text: unprintable characters, lone surrogates, a bad IDNA host
    or a bad port)."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        parsed.host  # noqa: B018 - decodes an "xn--" host: IDNAError if it is not valid
    except httpx.InvalidURL as error:
        raise InvalidURL(str(error)) from None
    except UnicodeError as error:  # IDNA, or text that is not UTF-8 encodable
        raise InvalidURL(f"the host or path is not valid text ({error})") from None
    return parsed


def _check_url_syntax(url: httpx.URL, host: str) -> None:
    """A host name of valid labels (IP literals are checked as addresses), and a port
    in 1-65535 when one is given."""
    if url.port is not None and not 0 < url.port <= 65535:
        raise InvalidURL(f"port {url.port} is outside 1-65535", host=host)
    if _parse_ip(host) is not None:
        return
    name = url.raw_host.removesuffix(b".")
    if len(name) > MAX_HOST_LENGTH or not all(
        _HOST_LABEL.fullmatch(label) for label in name.split(b".")
    ):
        raise InvalidURL(
            f"{host!r} is not a valid host name (labels of 1-{MAX_LABEL_LENGTH} letters, "
            "digits, '-' or '_', separated by single dots)",
            host=host,
        )


def _check_scheme(url: httpx.URL) -> None:
    if url.scheme not in DEFAULT_PORTS:
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
        """Check a URL without touching the network: that it is a valid URL
        (:class:`InvalidURL`), its scheme, and a literal IP host.

        Host names are checked when they are resolved, at connect time; ``localhost``
        and ``*.localhost`` are refused here already as 127.0.0.1.
        """
        parsed = parse_url(url)
        host = _normalise_host(parsed.host)
        _check_scheme(parsed)
        if not host:
            raise EgressDenied("the URL has no host", reason="no host")
        _check_url_syntax(parsed, host)
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
