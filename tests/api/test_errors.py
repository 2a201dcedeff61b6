"""One error format for every failure, correct statuses, and a request log without
bodies or secrets."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.exc import OperationalError

from tests.api.conftest import PASSWORD, serve
from workfuse.api.app import create_api
from workfuse.api.middleware import MAX_REQUEST_BYTES


@pytest.fixture
def failing_api_url(database_url: str) -> Iterator[str]:
    """The real API plus one route that fails with an unexpected error."""
    api = create_api()

    @api.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("database password is hunter2-canary")

    @api.get("/api/database-down")
    def database_down() -> None:
        refused = ConnectionRefusedError("connection to server at 127.0.0.1 failed")
        raise OperationalError("SELECT 1", {}, refused)

    with serve(api) as url:
        yield url


def test_an_unexpected_error_is_500_with_a_reference_and_no_internals(
    failing_api_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # When: a route fails in a way nobody planned for
    with caplog.at_level(logging.ERROR, logger="workfuse"):
        response = httpx.get(f"{failing_api_url}/api/boom")

    # Then: 500 in the error format, no exception text or traceback for the client
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in response.text and "Traceback" not in response.text
    reference = error["message"].split("reference ")[1].split()[0]
    # And: the server log has the reference, for the operator
    assert any(reference in record.getMessage() for record in caplog.records)


def test_a_database_that_does_not_answer_is_503_with_retry_after(failing_api_url: str) -> None:
    # When: the database refuses connections (restarting, say) during a request
    response = httpx.get(f"{failing_api_url}/api/database-down")

    # Then: 503 in the error format, with a hint when to try again; no internals
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "UNAVAILABLE"
    assert response.headers["retry-after"] == "5"
    assert "127.0.0.1" not in response.text


def test_an_unknown_route_and_a_wrong_method_use_the_error_format(
    anonymous: httpx.Client,
) -> None:
    missing = anonymous.get("/api/nothing-here")
    wrong_method = anonymous.put("/api/health")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (
        405,
        "METHOD_NOT_ALLOWED",
    )


def test_a_body_over_the_limit_is_413_before_it_is_read(ada: httpx.Client) -> None:
    # Given: a body one byte over the limit
    body = b"x" * (MAX_REQUEST_BYTES + 1)

    # When: it is posted
    response = ada.post(
        "/api/workflows", content=body, headers={"Content-Type": "application/json"}
    )

    # Then: 413 in the error format, and nothing was created
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert ada.get("/api/workflows").json() == []


def test_a_streamed_body_over_the_limit_is_413(ada: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(MAX_REQUEST_BYTES // 65536 + 2):
            yield b" " * 65536

    response = ada.post(
        "/api/workflows/import", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_malformed_json_is_422_not_500(ada: httpx.Client) -> None:
    response = ada.post(
        "/api/workflows", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_INPUT"


def test_the_request_log_has_method_route_status_and_time_but_no_secrets(
    anonymous: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    # When: a sign-up (a password in the body) and a request with a token in the path
    with caplog.at_level(logging.INFO, logger="workfuse.api.requests"):
        anonymous.post("/api/auth/sign-up", json={"email": "log@example.com", "password": PASSWORD})
        anonymous.get("/api/workflows/wf-secret-id-123")
        # A line is written once its response has gone out: give the server a moment.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(_request_lines(caplog)) < 2:
            time.sleep(0.01)

    # Then: one line per request with the route template, never the body or the id
    lines = _request_lines(caplog)
    assert any(line.startswith("POST /api/auth/sign-up 201 ") for line in lines), lines
    assert any(line.startswith("GET /api/workflows/{workflow_id} 404 ") for line in lines)
    assert all(line.endswith("ms") for line in lines)
    text = "\n".join(lines)
    assert PASSWORD not in text and "wf-secret-id-123" not in text and "log@" not in text


def test_the_openapi_document_lists_the_routes_and_the_error_schema(
    anonymous: httpx.Client,
) -> None:
    document = anonymous.get("/api/openapi.json").json()
    assert {"/api/workflows", "/api/workflows/{workflow_id}", "/api/auth/sign-in"} <= set(
        document["paths"]
    )
    assert "ErrorBody" in document["components"]["schemas"]


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "workfuse.api.requests"]
