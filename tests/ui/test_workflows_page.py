"""The workflows page in a real browser against the embedded default app."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from tests.ui.conftest import RunningApp, screenshot
from workfuse.db import get_engine
from workfuse.demo import DEMO_NAME
from workfuse.models import Workflow

#: The first test also waits for the app's first production build.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def test_first_run_serves_the_demo_workflow(running_app: RunningApp, page: Page) -> None:
    # Given a fresh embedded install, When a person opens the app
    page.goto(running_app.url)

    # Then the workflows page lists the demo workflow as active, with its size and version
    row = page.locator(".workflow-row", has_text=DEMO_NAME)
    expect(row).to_be_visible(timeout=30_000)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("5 nodes · v1")
    expect(page).to_have_title("Workflows · WorkFuse")
    screenshot(page, "workflows")


def test_search_narrows_the_list(running_app: RunningApp, page: Page) -> None:
    page.goto(running_app.url)
    expect(page.locator(".workflow-row")).to_have_count(1, timeout=30_000)

    page.get_by_placeholder("Search workflows").fill("no such workflow")
    expect(page.get_by_text("No workflows yet.")).to_be_visible()
    expect(page.locator(".workflow-row")).to_have_count(0)

    page.get_by_placeholder("Search workflows").fill("triage")
    expect(page.locator(".workflow-row")).to_have_count(1)


def test_active_toggle_is_saved(running_app: RunningApp, page: Page) -> None:
    page.goto(running_app.url)
    row = page.locator(".workflow-row", has_text=DEMO_NAME)
    switch = row.get_by_role("switch")
    expect(switch).to_be_checked(timeout=30_000)

    switch.click()

    expect(row).to_contain_text("Inactive")
    with Session(get_engine(running_app.database_url)) as session:
        stored = session.exec(select(Workflow).where(Workflow.name == DEMO_NAME)).one()
        assert stored.is_active is False
    switch.click()
    expect(row).to_contain_text("Active")


def test_api_health_and_openapi(running_app: RunningApp) -> None:
    health = httpx.get(f"{running_app.url}/api/health")
    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    openapi = httpx.get(f"{running_app.url}/api/openapi.json")
    assert openapi.status_code == 200
    assert "/api/health" in openapi.json()["paths"]
