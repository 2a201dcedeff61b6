"""Paths under ``/api`` and ``/hooks`` that no route serves answer in the API's error
format: 404, or 405 with ``Allow`` when the path has routes for other methods.

Reflex mounts its own app on the API at ``""`` (``api_transformer``), so without this a
request no API route takes goes on to Reflex and gets its plain-text (or page) 404, and
a known path with a wrong method gets that 404 too, not a 405: Starlette prefers a
full match (the mount takes every path and method) to a route that matches the path
only. :class:`UnmatchedPathMiddleware` asks the API's routes (every route but mounts,
whenever it was added) before the router runs.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from workfuse.api.errors import error_response

PREFIXES = ("/api", "/hooks")  #: the API's own paths; everything else belongs to the UI
METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")  #: offered in Allow


class UnmatchedPathMiddleware:
    """404 or 405 (the error format) for a request under :data:`PREFIXES` that no route
    of the app takes; every other request goes on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_api_path(scope["path"]):
            routes = _routes(scope)
            if not any(_takes(route, scope) for route in routes):
                await _refusal(scope, routes)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_api_path(path: str) -> bool:
    return any(path == prefix or path.startswith(f"{prefix}/") for prefix in PREFIXES)


def _routes(scope: Scope) -> list[BaseRoute]:
    """The app's routes (``scope["app"]`` is the FastAPI app), without mounts."""
    app: Any = scope.get("app")
    routes: list[BaseRoute] = list(getattr(getattr(app, "router", None), "routes", None) or [])
    return [route for route in routes if not isinstance(route, Mount)]


def _takes(route: BaseRoute, scope: Scope) -> bool:
    return route.matches(scope)[0] is Match.FULL


def _refusal(scope: Scope, routes: list[BaseRoute]) -> Any:
    # Which methods would a route take at this path? Asked of every route as it is
    # (FastAPI's included routers too) rather than read from route internals.
    allowed = [
        method
        for method in METHODS
        if any(_takes(route, {**scope, "method": method}) for route in routes)
    ]
    if allowed:
        return error_response(
            405,
            f"this route accepts {', '.join(allowed)}, not {scope['method']}",
            headers={"Allow": ", ".join(allowed)},
        )
    # The path is not quoted back: under /hooks it may hold a webhook token.
    return error_response(404, "no route matches this path")
