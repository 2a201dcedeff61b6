"""The FastAPI app mounted on Reflex's backend (OpenAPI at ``/api/openapi.json``)."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from workfuse import __version__
from workfuse.db import get_engine


def create_api() -> FastAPI:
    api = FastAPI(
        title="WorkFuse API",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )

    @api.get("/api/health", tags=["health"])
    def health() -> JSONResponse:
        """Liveness plus a database round trip; 503 if the database does not answer."""
        try:
            with get_engine().connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    return api
