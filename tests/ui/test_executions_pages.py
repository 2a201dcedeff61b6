"""Run now, the execution detail (live) and the executions list, in a real browser."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

GRAPH = {
    "nodes": [
        {
            "id": "start",
            "type": "trigger",
            "data": {"label": "Start", "config": {"source": "manual", "samplePayload": {"n": 21}}},
        },
        {
            "id": "double",
            "type": "transform",
            "data": {
                "label": "Double",
                "config": {"language": "jsonata", "code": "trigger.data.n * 2"},
            },
        },
        {
            "id": "slow",
            "type": "transform",
            "data": {
                "label": "Slow",
                "config": {
                    "language": "javascript",
                    "code": "let t = Date.now(); while (Date.now() - t < 600) {}\n"
                    "return nodes.double.result",
                },
            },
        },
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "double"},
        {"id": "e2", "source": "double", "target": "slow"},
    ],
}


def test_run_now_opens_the_execution_and_it_completes_live(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    # Given: a workflow of the owner's, made through the API
    with httpx.Client(base_url=running_app.url, timeout=10) as api:
        signed_in = api.post(
            "/api/auth/sign-in", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
        )
        assert signed_in.status_code == 200
        created = api.post("/api/workflows", json={"name": "Doubling", "graph": GRAPH})
        assert created.status_code == 201, created.text
    page = signed_in_page
    page.goto(running_app.url)
    row = page.locator(".workflow-row", has_text="Doubling")

    # When: the person presses Run on it
    row.get_by_role("button", name="Run now").click()

    # Then: the execution opens, and its nodes finish while they watch
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-z]+/?$"), timeout=30_000)
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=30_000)
    expect(page.locator(".node-row")).to_have_count(3)
    expect(page.locator(".node-row", has_text="double")).to_contain_text("42")
    expect(page.get_by_role("heading", name="Doubling")).to_be_visible()
    screenshot(page, "execution-detail")

    # And: the executions list shows it
    page.get_by_role("link", name="Executions").click()
    listed = page.locator(".execution-row", has_text="Doubling")
    expect(listed).to_be_visible(timeout=30_000)
    expect(listed).to_contain_text("completed")
    screenshot(page, "executions")


def test_an_unknown_execution_says_so(running_app: RunningApp, signed_in_page: Page) -> None:
    signed_in_page.goto(f"{running_app.url}/executions/nosuchexecution")
    expect(signed_in_page.get_by_text("No such execution.")).to_be_visible(timeout=30_000)
