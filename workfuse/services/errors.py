"""Errors the services raise; the API and UI turn them into statuses and messages."""

from __future__ import annotations

import re
from typing import Any

from workfuse.graph import ValidationIssue


class ServiceError(Exception):
    """A refusal with a message a person understands; ``code`` (if set) overrides the
    API's code for the status."""

    status_code = 400
    code: str | None = None
    #: Extra ``{"message": ...}`` entries the API sends as ``details`` (never secrets).
    details: tuple[dict[str, Any], ...] = ()


class BadRequest(ServiceError):
    """The request cannot be read (a body that is not the JSON it claims to be)."""

    status_code = 400


class Unauthorized(ServiceError):
    """No valid session or token: the caller must sign in."""

    status_code = 401


class Forbidden(ServiceError):
    status_code = 403


class NotFound(ServiceError):
    """The thing does not exist, or belongs to somebody else (we do not say which)."""

    status_code = 404


class MethodNotAllowed(ServiceError):
    """The resource exists but does not take this HTTP method; ``allowed`` lists those it does."""

    status_code = 405

    def __init__(self, message: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.allowed = allowed


class PayloadTooLarge(ServiceError):
    status_code = 413


class Conflict(ServiceError):
    status_code = 409


class InvalidInput(ServiceError):
    """The input is malformed; ``issues`` (if any) say where."""

    status_code = 422

    def __init__(self, message: str, issues: list[ValidationIssue] | None = None) -> None:
        super().__init__(message)
        self.issues = issues or []


class RateLimited(ServiceError):
    """Too many attempts; ``retry_after`` is in seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WorkflowInvalid(InvalidInput):
    """The graph fails validation, so it may not be activated, imported or run."""

    code = "WORKFLOW_INVALID"


#: Text PostgreSQL cannot store in text or JSONB: NUL, and lone UTF-16 surrogates.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


def reject_unstorable_text(value: Any, what: str) -> None:
    """Refuse NUL characters and unpaired surrogates anywhere in ``value`` (strings,
    dict keys, lists).

    PostgreSQL cannot store them, so without this check the same input would be stored
    on SQLite and fail with a database error on PostgreSQL.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE_TEXT.search(item):
                raise InvalidInput(
                    f"{what} contains a NUL character (\\u0000) or an unpaired surrogate; "
                    "it is not allowed"
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
