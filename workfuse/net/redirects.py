"""Credentials never follow a redirect to another origin.

httpx drops only ``Authorization`` when a redirect leaves the origin, and keeps even
that one for an ``http`` to ``https`` upgrade of the same host; an API key in
``X-API-Key`` (the HTTP node's ``apiKey`` auth, Anthropic's ``x-api-key``, Gemini's
``x-goog-api-key``) went on to the next host. The guarded clients
(:mod:`workfuse.net.clients`) apply :func:`redirect_headers` instead: on every redirect
that changes the scheme, the host or the port, the next request carries none of

* ``Authorization``, ``Proxy-Authorization`` and ``Cookie``;
* any header whose name contains ``auth``, ``token``, ``secret``, ``key``,
  ``signature``, ``password``, ``passwd``, ``credential``, ``cookie`` or ``session``
  (``Idempotency-Key`` excepted: it is no credential);
* any header the caller named in the request's :data:`SECRET_HEADERS` extension,
  whatever its name (the HTTP node names the header its credential went into).

A header dropped once stays dropped for the rest of the redirect chain, back on the
first origin too. A redirect within the origin keeps every header. The body of a
307/308 redirect is sent on as it is (httpx's rule): credentials belong in headers.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from workfuse.net.policy import DEFAULT_PORTS

#: Request extension: names of headers that carry a credential, e.g.
#: ``client.build_request(..., extensions={SECRET_HEADERS: ("X-Shop-Key",)})``.
SECRET_HEADERS = "workfuse.secret_headers"

CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
#: A header whose lowercase name contains one of these is taken for a credential.
CREDENTIAL_WORDS = (
    "auth",
    "token",
    "secret",
    "key",
    "signature",
    "password",
    "passwd",
    "credential",
    "cookie",
    "session",
)
#: Names that contain a word above but carry no credential.
NOT_CREDENTIALS = frozenset({"idempotency-key"})


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` with the scheme's default port filled in."""
    return url.scheme, url.host.lower(), url.port or DEFAULT_PORTS.get(url.scheme)


def is_credential_header(name: str, marked: Iterable[str] = ()) -> bool:
    """Whether a header called ``name`` may carry a credential (``marked``: names the
    caller declared secret)."""
    lower = name.lower()
    if lower in CREDENTIAL_HEADERS or lower in {m.lower() for m in marked}:
        return True
    return lower not in NOT_CREDENTIALS and any(word in lower for word in CREDENTIAL_WORDS)


def redirect_headers(
    request: httpx.Request, url: httpx.URL, headers: httpx.Headers
) -> httpx.Headers:
    """``headers`` (what httpx would send to ``url``, redirected from ``request``)
    without credentials when ``url`` is on another origin than ``request.url``."""
    if origin(url) == origin(request.url):
        return headers
    marked = tuple(request.extensions.get(SECRET_HEADERS) or ())
    for name in {key for key in headers if is_credential_header(key, marked)}:
        del headers[name]
    return headers
