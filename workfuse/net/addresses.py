"""IP addresses as the C resolver reads them, and which of them are not public unicast.

:func:`_parse_ip` accepts every spelling ``inet_aton`` does (``2130706433``,
``0x7f.1``, ``127.1``, ``[::1]``, a ``%scope``), so a literal host cannot slip past
the checks by being written oddly. :func:`_blocked_reason` names why an address is
refused: loopback, private (RFC 1918), link-local and cloud metadata, carrier-grade
NAT, unique-local, unspecified, multicast, reserved, broadcast, and any address that
is not globally routable, including the IPv4 address inside an IPv4-mapped, NAT64 or
6to4 address. Pure functions: nothing here touches the network.
"""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

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


def _normalise_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()
