"""Hostile templates over HTTP: a template too deeply nested to parse is a validation
problem (never a 500), and rendering one for ``POST /api/ai/test-prompt`` happens off
the event loop, so a slow render does not hold up other requests."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from workfuse.templating import MAX_RENDER_SECONDS

NESTED = "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}"
#: Allowed, but runs until the render's time limit stops it.
SLOW = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"


def _graph(url: str) -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "start",
                "type": "trigger",
                "position": {"x": 0, "y": 0},
                "data": {"label": "Start", "config": {"source": "webhook"}},
            },
            {
                "id": "fetch",
                "type": "http",
                "position": {"x": 200, "y": 0},
                "data": {"label": "Fetch", "config": {"method": "GET", "url": url}},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "fetch"}],
    }


def test_a_thousand_nested_parentheses_are_a_template_problem_not_a_500(
    ada: httpx.Client,
) -> None:
    # When: a workflow whose URL template nests 1,000 parentheses is saved
    response = ada.post("/api/workflows", json={"name": "Deep", "graph": _graph(NESTED)})

    # Then: it is stored as an inactive draft whose validation says what is wrong
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["isActive"] is False
    errors = created["validation"]["errors"]
    assert [error["code"] for error in errors] == ["INVALID_TEMPLATE"]
    assert errors[0]["field"] == "config.url"
    assert "nests too deeply" in errors[0]["message"]

    # And: updating it with another too-deep template (1,000 "not") answers the same way
    nots = "{{ " + "not " * 1000 + "1 }}"
    updated = ada.patch(f"/api/workflows/{created['id']}", json={"graph": _graph(nots)})
    assert updated.status_code == 200, updated.text
    assert updated.json()["validation"]["errors"][0]["code"] == "INVALID_TEMPLATE"

    # And: importing it is refused with the same problem, nothing saved
    imported = ada.post("/api/workflows/import", json={"name": "Deep", **_graph(NESTED)})
    assert imported.status_code == 422, imported.text
    assert [d["code"] for d in imported.json()["error"]["details"]] == ["INVALID_TEMPLATE"]
    assert len(ada.get("/api/workflows").json()) == 1


def test_test_prompt_reports_a_deep_template_as_a_template_error(ada: httpx.Client) -> None:
    # When: a prompt of 1,000 nested parentheses is tested
    response = ada.post(
        "/api/ai/test-prompt",
        json={"config": {"provider": "openai", "model": "m", "prompt": NESTED}},
    )

    # Then: 422 with the node's TEMPLATE_ERROR, saying what is wrong
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "TEMPLATE_ERROR"
    assert "nests too deeply" in error["message"]


def test_a_slow_test_prompt_does_not_hold_up_other_requests(
    ada: httpx.Client, api_url: str
) -> None:
    # Given: a prompt template that renders until its time limit stops it
    answer: dict[str, httpx.Response] = {}

    def test_prompt() -> None:
        config = {"provider": "openai", "model": "m", "prompt": SLOW}
        answer["response"] = ada.post("/api/ai/test-prompt", json={"config": config})

    # When: it is tested while another client checks the server's health
    slowest = 0.0
    with httpx.Client(base_url=api_url, timeout=10) as other:
        assert other.get("/api/health").status_code == 200  # connection warm
        worker = threading.Thread(target=test_prompt)
        worker.start()
        time.sleep(0.1)  # the render has started
        while worker.is_alive():
            started = time.monotonic()
            assert other.get("/api/health").status_code == 200
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.02)
        worker.join()

    # Then: the prompt failed on the time limit, and health answered quickly throughout
    # (rendered on the event loop, it would have waited for the whole second)
    response = answer["response"]
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "TEMPLATE_ERROR"
    assert "longer than" in response.json()["error"]["message"]
    assert slowest < MAX_RENDER_SECONDS / 3, slowest
