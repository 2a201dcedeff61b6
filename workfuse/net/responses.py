"""Reading a streamed response body within a byte limit: :func:`read_limited` and
:func:`read_limited_sync`.

Memory stays within the limit plus one network chunk; a ``Content-Length`` over the
limit is refused before any of the body is read.
"""

from __future__ import annotations

import httpx

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024  #: bytes


class ResponseTooLarge(Exception):
    """A response body went past the byte limit given to :func:`read_limited`."""


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
