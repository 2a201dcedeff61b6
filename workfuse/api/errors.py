"""The API's one error format: ``{"error": {"code", "message", "details"}}``.

Service errors keep their status (400/401/403/404/409/422/429); FastAPI's request
validation becomes 422 with one detail per field; anything unexpected is a 500 whose
message carries only a reference id (the traceback goes to the log, never to the
client). A database that does not answer (``OperationalError``: refused, restarting,
connection lost, locked) is a 503 with ``Retry-After``, not a 500: the request may be
sent again once it is back (nothing was stored). So is a pool with every connection
taken for ``WORKFUSE_DB_POOL_TIMEOUT`` (``sqlalchemy.exc.TimeoutError``: overload).

Their log lines name the route *template* (``/hooks/{token}``), never the path, and
the value of every path parameter is replaced by its name (``{token}``) in the
message and the traceback too (:func:`log_failure`), so a webhook token that an
exception quotes stays out of the log.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import Scope

from workfuse.graph import error_location
from workfuse.services.errors import InvalidInput, RateLimited, ServiceError

log = logging.getLogger(__name__)

#: ``error.code`` by HTTP status, for errors that do not name their own.
CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_INPUT",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "UNAVAILABLE",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(
        error=ErrorDetail(
            code=code or CODES.get(status, "ERROR"), message=message, details=details or []
        )
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _service_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ServiceError)
    details: list[dict[str, Any]] = list(error.details)
    headers = None
    if isinstance(error, InvalidInput):
        details = [issue.model_dump(mode="json", by_alias=True) for issue in error.issues]
    if isinstance(error, RateLimited):
        headers = {"Retry-After": str(error.retry_after)}
    return error_response(
        error.status_code, str(error), code=error.code, details=details, headers=headers
    )


def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = []
    for problem in error.errors():
        # ("body", "graph", ...) -> "graph...": where in the request, never the input.
        location = tuple(problem.get("loc", ())) or ("request",)
        field = error_location(location[1:]) if len(location) > 1 else str(location[0])
        details.append({"field": field, "message": problem.get("msg", "invalid")})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(422, f"the request is not valid: {summary}", details=details)


def _http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    message = error.detail if isinstance(error.detail, str) else CODES.get(error.status_code, "")
    return error_response(
        error.status_code,
        message.lower() if message else "error",
        headers=dict(error.headers) if error.headers else None,
    )


MIN_SCRUBBED_LENGTH = 4  #: characters; a shorter path parameter value is left in the text


def route_template(scope: Scope) -> str:
    """The matched route's template (``/hooks/{token}``), never the request's path."""
    route: Any = scope.get("route")
    return str(getattr(route, "path", None) or "(no route)")


def scrub_path_parameters(text: str, scope: Scope) -> str:
    """``text`` with the value of each path parameter of the request (as it is and
    percent-encoded) replaced by ``{name}``."""
    for name, value in (scope.get("path_params") or {}).items():
        value = str(value)
        if len(value) >= MIN_SCRUBBED_LENGTH:
            for form in sorted({value, quote(value, safe="")}, key=len, reverse=True):
                text = text.replace(form, f"{{{name}}}")
    return text


def log_failure(scope: Scope, what: str, error: BaseException) -> None:
    """Log ``what`` happened in this request, with the route template and the error's
    traceback, path parameter values scrubbed (:func:`scrub_path_parameters`)."""
    trace = "".join(traceback.format_exception(error)).rstrip()
    line = f"{what} in {scope.get('method', '')} {route_template(scope)}\n{trace}"
    log.error("%s", scrub_path_parameters(line, scope))


def unexpected_error_response(scope: Scope, error: BaseException) -> JSONResponse:
    """Log an unexpected error under a new reference; the 500 that names it."""
    reference = secrets.token_hex(6)
    log_failure(scope, f"unhandled error {reference} ({type(error).__name__})", error)
    return error_response(500, f"internal error; reference {reference} in the server log")


def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # Errors the API's own middleware (UnexpectedErrorMiddleware) did not see.
    return unexpected_error_response(request.scope, error)


DATABASE_RETRY_AFTER_S = 5  #: seconds a client is asked to wait when the database is down


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    cause = type(getattr(error, "orig", error)).__name__
    log_failure(request.scope, f"database unavailable ({cause})", error)
    return error_response(
        503,
        "the database is unavailable; try again shortly",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


BUSY_RETRY_AFTER_S = 1  #: seconds a client is asked to wait when every connection is taken


def _database_busy(request: Request, _error: Exception) -> JSONResponse:
    # Every pooled connection stayed taken for WORKFUSE_DB_POOL_TIMEOUT: overload, not a
    # fault, so one line without a traceback (a burst would flood the log). Nothing
    # was stored: the statement never got a connection.
    log.warning("database pool exhausted in %s %s", request.method, route_template(request.scope))
    return error_response(
        503,
        "the server is busy; try again shortly",
        headers={"Retry-After": str(BUSY_RETRY_AFTER_S)},
    )


def install_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(ServiceError, _service_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(OperationalError, _database_unavailable)
    api.add_exception_handler(PoolTimeout, _database_busy)
    api.add_exception_handler(Exception, _unexpected_error)
