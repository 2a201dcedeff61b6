"""Fuzz suites share the API server of ``tests/api`` and a few invariants.

``snapshot()`` is what "nothing was written" means: every table's rows, without the
columns that signing in itself refreshes (a session's expiry, a token's last use).
"""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import SQLModel

from tests.api.conftest import _fresh_rate_limits, ada, anonymous, api_url, grace
from workfuse.db import get_engine

__all__ = ["_fresh_rate_limits", "ada", "anonymous", "api_url", "grace"]

#: Columns that change without anything being written on the caller's behalf.
VOLATILE_COLUMNS = frozenset({"expires_at", "last_used_at", "heartbeat_at"})


def snapshot() -> dict[str, list[str]]:
    """Every row of every table (volatile columns left out), sorted, as text."""
    rows: dict[str, list[str]] = {}
    with get_engine().connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            columns = [column for column in table.columns if column.name not in VOLATILE_COLUMNS]
            result = connection.execute(sa.select(*columns))
            rows[table.name] = sorted(repr(tuple(row)) for row in result)
    return rows


def assert_error_format(response: httpx.Response | Any) -> None:
    """A refusal is ``{"error": {"code", "message", "details"}}`` with a message."""
    content_type = response.headers.get("content-type", "")
    if isinstance(content_type, list):  # schemathesis keeps every value of a header
        content_type = content_type[0] if content_type else ""
    assert content_type.startswith("application/json"), (
        response.status_code,
        response.text[:300],
    )
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"], error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["details"], list), error
