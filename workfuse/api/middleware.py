"""ASGI middleware of the API: a request log line, a request size limit, and the 500
for an error nothing else handled.

The log line has the method, the route *template* (``/api/workflows/{workflow_id}``,
so ids and webhook tokens in paths stay out of the log), the status and the duration
in milliseconds; never a body, a query string or a header.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workfuse.api.errors import error_response, route_template, unexpected_error_response

log = logging.getLogger("workfuse.api.requests")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  #: bytes of request body the API accepts


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
                route_template(scope),
                status,
                (time.perf_counter() - started) * 1000,
            )


class UnexpectedErrorMiddleware:
    """An error no exception handler took becomes a 500 here, logged once by
    :func:`~workfuse.api.errors.unexpected_error_response` (route template, path
    parameter values scrubbed), and goes no further: Starlette's outermost middleware
    would raise it on to the server, which logs it again in its own words (the
    exception's message may quote a webhook token)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as error:
            response = unexpected_error_response(scope, error)
            if not started:  # else the answer is cut short: the client sees a broken one
                await response(scope, receive, send)


class MalformedRequestMiddleware:
    """400 before any route runs for a request no route should see:

    - ambiguous body framing: ``Content-Length`` together with ``Transfer-Encoding``,
      more than one ``Content-Length`` value, or one that is not a plain non-negative
      integer (also ``Connection: close``). A proxy in front of the app and the server
      behind it may each pick another of the two lengths and so disagree on where one
      request ends and the next begins (request smuggling); RFC 9112 lets a server
      refuse such a request. uvicorn (h11) accepts ``Content-Length`` with
      ``Transfer-Encoding: chunked`` and passes both on, so the check is here. granian
      (hyper) reads such a request by its chunked encoding, drops ``Content-Length``
      before the app sees it and closes the connection after answering: nothing can
      be smuggled behind it, but it is answered, not refused;
    - a NUL character in the path or the query string (``%00``): no WorkFuse value
      holds one, and PostgreSQL cannot even compare text with one (every lookup by
      such an id or filter failed with a database error).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _framing_problem(scope.get("headers", []))
            headers = {"Connection": "close"} if problem is not None else None
            if problem is None and (
                "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
            ):
                problem = "the path or query string holds a NUL character (%00)"
            if problem is not None:
                await error_response(400, problem, headers=headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _framing_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why these request headers do not frame the body unambiguously, or None."""
    lengths: set[bytes] = set()
    transfer_encoding = False
    for name, value in headers:
        name = name.lower()
        if name == b"content-length":
            lengths.update(part.strip() for part in value.split(b","))
        elif name == b"transfer-encoding":
            transfer_encoding = True
    if transfer_encoding and lengths:
        return "a request may not carry both Content-Length and Transfer-Encoding"
    if len(lengths) > 1 or not all(length.isdigit() for length in lengths):
        return "Content-Length must be one non-negative integer"
    return None


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
