"""The API's one error format: ``{"error": {"code", "message", "details"}}``.

Service errors keep their status (400/401/403/404/409/422/429); FastAPI's request
validation becomes 422 with one detail per field; anything unexpected is a 500 whose
message carries only a reference id (the traceback goes to the log, never to the
client). A database that does not answer (``OperationalError``: refused, restarting,
connection lost, locked) is a 503 with ``Retry-After``, not a 500: the request may be
sent again once it is back (nothing was stored).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

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


def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    reference = secrets.token_hex(6)
    log.error(
        "unhandled error %s in %s %s (%s)",
        reference,
        request.method,
        request.url.path,
        type(error).__name__,
        exc_info=error,
    )
    return error_response(500, f"internal error; reference {reference} in the server log")


DATABASE_RETRY_AFTER_S = 5  #: seconds a client is asked to wait when the database is down


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    log.error(
        "database unavailable in %s %s (%s)",
        request.method,
        request.url.path,
        type(getattr(error, "orig", error)).__name__,
        exc_info=error,
    )
    return error_response(
        503,
        "the database is unavailable; try again shortly",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def install_error_handlers(api: FastAPI) -> None:
    api.add_exception_handler(ServiceError, _service_error)
    api.add_exception_handler(RequestValidationError, _validation_error)
    api.add_exception_handler(HTTPException, _http_error)
    api.add_exception_handler(OperationalError, _database_unavailable)
    api.add_exception_handler(Exception, _unexpected_error)
