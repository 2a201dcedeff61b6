"""ASGI middleware in front of the whole app: CORS, and the UI socket's origin gate.

It wraps everything Reflex serves (pages, ``/api``, ``/hooks``, the ``/_event``
socket), outside Reflex's own CORS layers, and is the only one whose CORS headers
reach the browser:

- CORS: every ``Access-Control-*`` header set further in is dropped; an answer to a
  request from one of the app's own origins (:mod:`workfuse.api.origins`) names that
  origin in ``Access-Control-Allow-Origin`` with ``Access-Control-Allow-Credentials``.
  Preflights are answered here: 204 with those headers for an own origin, 403 without
  any for another. Every answer to a request with an ``Origin`` varies on it.
- The socket: a websocket handshake (on any path) and every HTTP request under the
  socket's path (the polling transport) must pass :func:`origins.socket_allowed`, or
  the handshake is refused (403) before Engine.IO opens a session, so before any
  Socket.IO or Reflex handler runs.

Cookie writes are checked by the API's dependencies (:mod:`workfuse.api.deps`), not
here: only those routes know they act for a signed-in user.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workfuse.api import origins
from workfuse.api.errors import error_response
from workfuse.settings import get_settings

ALLOWED_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
PREFLIGHT_MAX_AGE = "600"  #: seconds a browser may keep a preflight's answer
PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
POLICY_VIOLATION = 1008  #: websocket close code


class BrowserOriginGuard:
    """See the module docstring; ``socket_path`` is the UI socket's mount path."""

    def __init__(self, app: ASGIApp, *, socket_path: str) -> None:
        self.app = app
        self.socket_path = socket_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        socket = self._is_socket(scope)
        has_origin = bool(origins.header_values(scope, b"origin"))
        if not socket and not has_origin:  # most requests (scripts, webhooks): nothing to do
            await self.app(scope, receive, send)
            return
        policy = origins.policy_from(get_settings())
        if socket and not origins.socket_allowed(policy, scope):
            await _refuse(scope, receive, send)
            return
        if scope["type"] == "websocket" or not has_origin:
            await self.app(scope, receive, send)
            return
        allowed = origins.cors_origin(policy, scope)
        if scope["method"] == "OPTIONS" and origins.header_values(
            scope, b"access-control-request-method"
        ):
            await _preflight(scope, allowed)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                _set_cors_headers(MutableHeaders(scope=message), allowed)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _is_socket(self, scope: Scope) -> bool:
        if scope["type"] == "websocket":
            return True
        path = str(scope.get("path", ""))
        return path == self.socket_path or path.startswith(self.socket_path + "/")


def _set_cors_headers(headers: MutableHeaders, allowed: str | None) -> None:
    """Replace the CORS headers of an answer by this middleware's; add ``Vary: Origin``."""
    for name in {key for key in headers if key.startswith("access-control-")}:
        del headers[name]
    if allowed is not None:
        headers["Access-Control-Allow-Origin"] = allowed
        headers["Access-Control-Allow-Credentials"] = "true"
    varies = [item.strip() for value in headers.getlist("vary") for item in value.split(",")]
    varies = [item for item in varies if item and item.lower() != "origin"]
    headers["Vary"] = ", ".join([*varies, "Origin"])


def _preflight(scope: Scope, allowed: str | None) -> ASGIApp:
    if allowed is None:
        return error_response(403, "this origin may not call WorkFuse from a browser")
    requested = origins.header_values(scope, b"access-control-request-headers")
    headers = {
        "Access-Control-Allow-Origin": allowed,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        "Vary": PREFLIGHT_VARY,
    }
    if requested:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    return _empty(204, headers)


def _empty(status: int, headers: dict[str, str]) -> ASGIApp:
    async def respond(scope: Scope, receive: Receive, send: Send) -> None:
        raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b""})

    return respond


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    """403 for an HTTP request; for a websocket, a close before accepting, which the
    server answers with HTTP 403 (the handshake never completes)."""
    if scope["type"] == "http":
        response = error_response(403, "the UI's socket only accepts WorkFuse's own pages")
        await response(scope, receive, send)
        return
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
