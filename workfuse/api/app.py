"""The FastAPI app mounted on Reflex's backend (OpenAPI at ``/api/openapi.json``).

Every route under ``/api`` except health, sign-up and sign-in needs a signed-in user
(session cookie or API token); errors share one format (:mod:`workfuse.api.errors`).
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from workfuse import __version__
from workfuse.api.errors import ErrorBody, install_error_handlers
from workfuse.api.middleware import (
    BodyLimitMiddleware,
    MalformedRequestMiddleware,
    RequestLogMiddleware,
    UnexpectedErrorMiddleware,
)
from workfuse.api.routes import (
    ai,
    auth,
    auth_forms,
    executions,
    secrets,
    settings,
    webhooks,
    workflows,
)
from workfuse.api.unmatched import UnmatchedPathMiddleware
from workfuse.db import get_engine

#: Documented on every route: the shape of an error response.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Not signed in",
        403: "Forbidden (a browser request from another site)",
        404: "Not found (or not yours)",
        409: "Conflict",
        413: "Request body too large",
        422: "Invalid input",
        429: "Rate limited",
        500: "Internal error",
        503: "Busy, or the database is unavailable: try again after Retry-After",
    }.items()
}


def create_api() -> FastAPI:
    api = FastAPI(
        title="WorkFuse API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    install_error_handlers(api)
    api.add_middleware(UnexpectedErrorMiddleware)  # innermost: a 500 the request log sees
    api.add_middleware(BodyLimitMiddleware)
    api.add_middleware(UnmatchedPathMiddleware)  # before Reflex's mount takes /api paths
    api.add_middleware(MalformedRequestMiddleware)  # before any body is read or route runs
    api.add_middleware(RequestLogMiddleware)  # outermost: logs even a 413

    @api.get("/api/health", tags=["health"])
    def health() -> JSONResponse:
        """Liveness plus a database round trip; 503 if the database does not answer."""
        try:
            with get_engine().connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    api.include_router(webhooks.router)  # first: the hot path matches at once
    api.include_router(auth.router)
    api.include_router(auth_forms.router)
    api.include_router(workflows.router)
    api.include_router(secrets.router)
    api.include_router(executions.router)
    api.include_router(ai.router)
    api.include_router(settings.router)
    return api
