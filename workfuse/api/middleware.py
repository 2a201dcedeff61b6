"""ASGI middleware of the API: a request log line and a request size limit.

The log line has the method, the route *template* (``/api/workflows/{workflow_id}``,
so ids and webhook tokens in paths stay out of the log), the status and the duration
in milliseconds; never a body, a query string or a header.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workfuse.api.errors import error_response

log = logging.getLogger("workfuse.api.requests")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  #: bytes of request body the API accepts


def _route_of(scope: Scope) -> str:
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or "(no route)")


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            log.info(
                "%s %s %d %.1fms",
                scope["method"],
                _route_of(scope),
                status,
                (time.perf_counter() - started) * 1000,
            )


class BodyLimitMiddleware:
    """413 for a request body over ``max_bytes``: at once when ``Content-Length`` says
    so, or as soon as a streamed body passes the limit (such a body is buffered, at
    most ``max_bytes``, before the route runs)."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await error_response(413, self._message())(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # A streamed body (no Content-Length) is read up front, to refuse it cleanly
        # with 413 instead of failing half-way through the route's parsing.
        chunks: list[bytes] = []
        received = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await error_response(413, self._message())(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body"))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes // (1024 * 1024)} MiB"
