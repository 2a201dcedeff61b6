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
A redirect to another origin (scheme, host or port) carries no credential header
(:mod:`.redirects`).

Modules: :mod:`.addresses` (reading and classifying IP addresses), :mod:`.policy`
(:class:`EgressPolicy`, :class:`EgressDenied` and its :class:`InvalidURL`),
:mod:`.transport` (the connect-time guard and guarded transports), :mod:`.redirects`
(what a redirect may carry), :mod:`.clients` (:func:`async_client`,
:func:`sync_client`) and :mod:`.responses` (:func:`read_limited`,
:func:`read_limited_sync`, :class:`ResponseTooLarge`).
"""

from __future__ import annotations

from workfuse.net.addresses import IPAddress
from workfuse.net.clients import async_client, shared_async_client, sync_client
from workfuse.net.policy import EgressDenied, EgressPolicy, InvalidURL, parse_url
from workfuse.net.redirects import SECRET_HEADERS
from workfuse.net.responses import (
    DEFAULT_MAX_RESPONSE_BYTES,
    ResponseTooLarge,
    read_limited,
    read_limited_sync,
)
from workfuse.net.transport import GuardedAsyncTransport, GuardedTransport, SocketOptions

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "SECRET_HEADERS",
    "EgressDenied",
    "EgressPolicy",
    "GuardedAsyncTransport",
    "GuardedTransport",
    "IPAddress",
    "InvalidURL",
    "ResponseTooLarge",
    "SocketOptions",
    "async_client",
    "parse_url",
    "read_limited",
    "read_limited_sync",
    "shared_async_client",
    "sync_client",
]
