"""Hostile or malformed input is a clear 4xx (or a clear node error), never a 500 or a
crash: through the real server, on SQLite and PostgreSQL.

- Parameters parsed by hand: an executions cursor (a time without an offset, out of
  range, an id the database cannot compare), date filters out of range, a NUL
  character in a path or query parameter.
- URLs built from user input: a model ``baseUrl`` the egress guard refuses or that is
  not a valid URL (magic input and test-prompt: 422 with the AI node's codes), and an
  HTTP node URL that is not valid (a host that is not a valid IDNA name, a port out of
  range, a malformed host): the node fails with ``HTTP_INVALID_URL``, not
  ``NODE_CRASHED``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from tests.engine.helpers import edge, make_workflow, node, wait_for
from tests.fuzz.conftest import assert_error_format
from workfuse.models import ExecutionStatus, NodeRunStatus, User


def cursor(started: str, last_id: Any) -> str:
    """A cursor in the format the API hands out, holding what the test says."""
    raw = json.dumps([started, last_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert_error_format(response)
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


# --- parameters parsed by hand ------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        cursor("2026-01-05T10:00:00", "c0abc"),  # no offset (the reported case)
        cursor("2026-01-05", "c0abc"),  # a date only
        cursor("0001-01-01T00:00:00+14:00", "c0abc"),  # before year 1 in UTC
        cursor("9999-12-31T23:59:59-14:00", "c0abc"),  # after year 9999 in UTC
        cursor("2026-01-05T10:00:00+00:00", "c0\u0000abc"),  # NUL: PostgreSQL cannot compare
        cursor("2026-01-05T10:00:00+00:00", "c0\ud800"),  # a lone surrogate: not UTF-8
        cursor("2026-01-05T10:00:00+00:00", 7),  # an id that is not text
        cursor("2026-01-05T10:00:00+00:00", ["c0abc"]),
    ],
    ids=["naive", "date", "before-1", "after-9999", "nul-id", "surrogate-id", "int-id", "list-id"],
)
def test_a_forged_executions_cursor_is_422(ada: httpx.Client, value: str) -> None:
    error = refused(ada.get("/api/executions", params={"cursor": value}), 422, "INVALID_INPUT")
    assert "cursor" in error["message"]


def test_a_cursor_the_api_handed_out_still_pages(ada: httpx.Client) -> None:
    # The control: a real cursor (with its offset) is accepted
    value = cursor("2026-01-05T10:00:00.123456+00:00", "c0abc")
    response = ada.get("/api/executions", params={"cursor": value})
    assert response.status_code == 200, response.text
    assert response.json() == {"items": [], "nextCursor": None}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("startedAfter", "0001-01-01T00:00:00+14:00"),
        ("startedBefore", "9999-12-31T23:59:59-14:00"),
    ],
)
def test_a_date_filter_out_of_range_in_utc_is_422(ada: httpx.Client, name: str, value: str) -> None:
    error = refused(ada.get("/api/executions", params={name: value}), 422, "INVALID_INPUT")
    assert name in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/api/executions", {"workflowId": "wf\u0000"}),
        ("GET", "/api/workflows", {"search": "\u0000"}),
        ("GET", "/api/workflows/%00", {}),
        ("GET", "/api/workflows/%00/versions", {}),
        ("GET", "/api/executions/%00", {}),
        ("POST", "/api/executions/%00/cancel", {}),
        ("DELETE", "/api/secrets/%00", {}),
        ("POST", "/hooks/%00", {}),
    ],
)
def test_a_nul_character_in_a_path_or_query_parameter_is_400(
    ada: httpx.Client, method: str, path: str, params: dict[str, str]
) -> None:
    refused(ada.request(method, path, params=params), 400, "BAD_REQUEST")


# --- model URLs (magic input, test-prompt) ------------------------------------------


MODEL_URLS = [
    ("http://10.0.0.1/v1", "AI_EGRESS_DENIED"),  # private: refused by the egress guard
    ("http://169.254.169.254/v1", "AI_EGRESS_DENIED"),  # cloud metadata
    ("file:///etc/passwd", "AI_EGRESS_DENIED"),  # a scheme that may not go out
    ("http://xn--a.com/v1", "AI_INVALID_URL"),  # not a valid IDNA name
    ("http://127.0.0.1:99999/v1", "AI_INVALID_URL"),  # port out of range
    ("http://exa mple.com/v1", "AI_INVALID_URL"),  # a space in the host
    ("http://[::1/v1", "AI_INVALID_URL"),  # does not parse
]


@pytest.mark.parametrize(("base_url", "code"), MODEL_URLS)
def test_magic_input_with_a_base_url_that_cannot_go_out_is_422(
    ada: httpx.Client, base_url: str, code: str
) -> None:
    response = ada.post(
        "/api/ai/generate-config",
        json={
            "prompt": "Fetch the order",
            "nodeType": "http",
            "provider": "openai-compatible",
            "model": "any",
            "baseUrl": base_url,
        },
    )

    refused(response, 422, code)


@pytest.mark.parametrize(("base_url", "code"), MODEL_URLS)
def test_test_prompt_with_a_base_url_that_cannot_go_out_is_422(
    ada: httpx.Client, base_url: str, code: str
) -> None:
    config = {"provider": "openai-compatible", "model": "any", "prompt": "Hi", "baseUrl": base_url}

    response = ada.post("/api/ai/test-prompt", json={"config": config})

    refused(response, 422, code)


# --- HTTP node URLs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "headers", "code"),
    [
        ("http://xn--a.com/", None, "HTTP_INVALID_URL"),  # the reported IDNAError
        ("http://xn--ls8h.example/", None, "HTTP_INVALID_URL"),  # a code point IDNA refuses
        ("http://a..example/", None, "HTTP_INVALID_URL"),  # an empty label
        ("http://" + "a" * 64 + ".example/", None, "HTTP_INVALID_URL"),  # a label too long
        ("http://127.0.0.1:99999/", None, "HTTP_INVALID_URL"),  # port out of range
        ("http://exa mple.com/", None, "HTTP_INVALID_URL"),
        ("http://example.com/", {"X-Name": "Zoë"}, "HTTP_INVALID_REQUEST"),  # not ASCII
    ],
    ids=["idna", "idna-codepoint", "empty-label", "long-label", "port", "space", "header"],
)
def test_an_http_node_with_an_unsendable_request_fails_with_a_clear_error(
    ada: httpx.Client,
    session: Session,
    engine: str,
    url: str,
    headers: dict[str, str] | None,
    code: str,
) -> None:
    # Given: a workflow whose HTTP node calls a URL that cannot be sent
    user = session.get(User, ada.get("/api/auth/me").json()["id"])
    assert user is not None
    config: dict[str, Any] = {"method": "GET", "url": url}
    if headers:
        config["headers"] = headers
    workflow = make_workflow(
        session,
        user,
        [node("start", "trigger", {"source": "manual"}), node("fetch", "http", config)],
        [edge("start", "fetch")],
    )

    # When: it runs
    started = ada.post(f"/api/workflows/{workflow.id}/run", json={"payload": {}})
    assert started.status_code == 202, started.text
    execution, runs = wait_for(started.json()["executionId"])

    # Then: the node failed with a clear, non-retryable error; nothing crashed
    assert execution.status == ExecutionStatus.FAILED
    assert runs["fetch"].status == NodeRunStatus.FAILED
    error = runs["fetch"].error or {}
    assert error.get("code") == code, error
    assert error.get("retryable") is False, error
    assert "crashed" not in error.get("message", ""), error
