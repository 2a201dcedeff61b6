"""Which browser origins are WorkFuse's own, and what a browser request needs to show.

An origin is ``scheme://host[:port]``, as browsers send it in the ``Origin`` header.
Two origins are the same when scheme, host and port are: scheme and host compared
without regard to case, a default port (80 for http, 443 for https) written or not.
Only ``http`` and ``https`` origins can be the app's own: ``null``, ``file://``,
extension schemes and anything that does not parse as exactly one origin never are.

The app's own origins:

- the origin of ``WORKFUSE_BASE_URL``, when that is set;
- every origin listed in ``WORKFUSE_CORS_ORIGINS``;
- while ``WORKFUSE_BASE_URL`` is not set (a local install, on whatever port), the
  origin a request was addressed to (the scheme the server received it with and its
  ``Host`` header) if that host is ``localhost`` or a loopback address: such a page was
  served by this very server. Reached under any other name (a LAN address, a proxy's
  public name) or from pages on another port (Reflex's dev mode), the app needs
  ``WORKFUSE_BASE_URL``. ``X-Forwarded-*`` headers are never read.

Three checks use them, each a function here: :func:`cors_origin` (which origin may
read an answer with the user's cookie), :func:`socket_allowed` (the UI's Socket.IO
handshake) and :func:`write_allowed` (requests that act for a cookie's user or set
the cookie). Enforcement lives in :mod:`workfuse.api.browser_origins` (CORS, socket)
and :mod:`workfuse.api.deps` (writes).

Limits: the rules rely on what browsers put in ``Origin``, ``Host`` and ``Sec-Fetch-*``,
which pages cannot forge; they protect a signed-in person's browser from other sites.
A client that is not a browser can send any header, and needs a session cookie or an
API token like anyone else. Routes without sign-in (``/hooks``, ``/api/health``) are not
restricted by origin, but other origins get no CORS answer from them either.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.types import Scope

from workfuse.net.policy import DEFAULT_PORTS

if TYPE_CHECKING:
    from workfuse.settings import Settings

#: The scheme of the page that opens a request with this ASGI scheme.
PAGE_SCHEMES = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
#: Request headers only a browser sends (scripts cannot set ``Sec-*`` in a browser).
FETCH_METADATA_PREFIX = "sec-fetch-"
BROWSER_AGENT_PREFIX = "mozilla/"  #: how every browser's User-Agent starts


def parse_origin(value: str, *, allow_path: bool = False) -> str | None:
    """``value`` as a normalised origin (lowercase, no default port), or ``None`` if it
    is not exactly one http(s) origin. With ``allow_path`` a URL's path is ignored (for
    ``WORKFUSE_BASE_URL``); user info, query and fragment are always refused."""
    if not value or not value.isascii() or any(ord(char) <= 32 for char in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc:
        return None
    if parts.netloc.endswith(":") or "?" in value or "#" in value:
        return None
    if parts.path and not allow_path:
        return None
    if ":" in host:
        try:
            host = f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    elif not _HOST_NAME.fullmatch(host):
        return None
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}" if port > 0 else None


def is_loopback(origin: str) -> bool:
    """Whether a normalised origin's host is ``localhost`` or a loopback address."""
    host = urlsplit(origin).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def header_values(scope: Scope, name: bytes) -> list[str]:
    """Every value of request header ``name`` (lowercase) in an ASGI scope."""
    return [value.decode("latin-1") for key, value in scope.get("headers", []) if key == name]


def addressed_origin(scope: Scope) -> str | None:
    """The origin this request was sent to: the scheme the server received it with
    and its one ``Host`` header (``None`` without exactly one)."""
    hosts = header_values(scope, b"host")
    scheme = PAGE_SCHEMES.get(str(scope.get("scheme", "")))
    if len(hosts) != 1 or scheme is None:
        return None
    return parse_origin(f"{scheme}://{hosts[0]}")


@dataclass(frozen=True)
class OriginPolicy:
    #: ``WORKFUSE_BASE_URL``'s origin (when set) and ``WORKFUSE_CORS_ORIGINS``.
    configured: frozenset[str]
    #: Whether the loopback origin a request was addressed to is own (no base URL set).
    loopback_self: bool

    def is_own(self, origin: str | None, scope: Scope) -> bool:
        """Whether ``origin`` (an ``Origin`` header's value) is one of the app's own."""
        normalised = parse_origin(origin) if origin else None
        if normalised is None:
            return False
        if normalised in self.configured:
            return True
        return (
            self.loopback_self and normalised == addressed_origin(scope) and is_loopback(normalised)
        )


def policy_from(settings: Settings) -> OriginPolicy:
    """The policy of these settings (``base_url`` counts only when set explicitly: its
    default is an address, not a promise that the app runs there)."""
    base_url = settings.base_url if "base_url" in settings.model_fields_set else None
    return _policy(base_url, tuple(settings.cors_origins))


@lru_cache(maxsize=8)
def _policy(base_url: str | None, cors_origins: tuple[str, ...]) -> OriginPolicy:
    configured = {parse_origin(base_url, allow_path=True)} if base_url else set()
    configured |= {parse_origin(entry.removesuffix("/")) for entry in cors_origins}
    return OriginPolicy(
        configured=frozenset(origin for origin in configured if origin is not None),
        loopback_self=base_url is None,
    )


def _origin_header(scope: Scope) -> tuple[bool, str | None]:
    """(whether the request has an ``Origin`` header, its value if it has exactly one)."""
    values = header_values(scope, b"origin")
    return bool(values), values[0] if len(values) == 1 else None


def cors_origin(policy: OriginPolicy, scope: Scope) -> str | None:
    """The ``Origin`` to name in ``Access-Control-Allow-Origin`` (with credentials), or
    ``None``: only the app's own origins may read answers made with the user's cookie."""
    _, origin = _origin_header(scope)
    return origin if policy.is_own(origin, scope) else None


def _fetch_site(scope: Scope) -> str | None:
    values = header_values(scope, b"sec-fetch-site")
    return values[0].strip().lower() if values else None


def write_allowed(policy: OriginPolicy, scope: Scope) -> bool:
    """Whether a request that sets or clears the session cookie, or changes something
    for the cookie's user, may proceed. With an ``Origin`` header it must be an own
    origin (browsers send one with every POST, PUT, PATCH and DELETE). Without one it
    is refused only when the browser says, in ``Sec-Fetch-Site``, that it comes from
    another origin: scripts (curl with a cookie jar) send neither header."""
    present, origin = _origin_header(scope)
    if present:
        return policy.is_own(origin, scope)
    site = _fetch_site(scope)
    return site is None or site == "same-origin"


def socket_allowed(policy: OriginPolicy, scope: Scope) -> bool:
    """Whether a request to the UI's socket (its handshake, or a polling request) may
    proceed. With an ``Origin`` header it must be an own origin (browsers send one with
    every websocket handshake and cross-origin request). Without one, a request from a
    browser is allowed only when ``Sec-Fetch-Site`` says ``same-origin`` (a same-origin
    polling GET); one that otherwise looks like a browser's (a ``Cookie``, any
    ``Sec-Fetch-*`` header, a ``Mozilla/`` user agent) is refused. What remains is a
    script without the user's cookie, which could send any ``Origin`` it liked."""
    present, origin = _origin_header(scope)
    if present:
        return policy.is_own(origin, scope)
    site = _fetch_site(scope)
    if site is not None:
        return site == "same-origin"
    names = {key.decode("latin-1").lower() for key, _ in scope.get("headers", [])}
    if "cookie" in names or any(name.startswith(FETCH_METADATA_PREFIX) for name in names):
        return False
    agents = header_values(scope, b"user-agent")
    return not any(agent.strip().lower().startswith(BROWSER_AGENT_PREFIX) for agent in agents)
