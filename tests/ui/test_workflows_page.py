"""The workflows page in a real browser against the embedded default app."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from tests.ui.conftest import RunningApp
from workfuse.db import get_engine
from workfuse.demo import DEMO_NAME
from workfuse.models import Workflow

#: The first test also waits for the app's first production build.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def test_search_narrows_the_list(running_app: RunningApp, signed_in_page: Page) -> None:
    page = signed_in_page
    page.goto(running_app.url)
    expect(page.locator(".workflow-row", has_text=DEMO_NAME)).to_be_visible(timeout=30_000)

    page.get_by_placeholder("Search workflows").fill("no such workflow")
    expect(page.get_by_text("No workflows yet.")).to_be_visible()
    expect(page.locator(".workflow-row")).to_have_count(0)

    page.get_by_placeholder("Search workflows").fill("triage")
    expect(page.locator(".workflow-row")).to_have_count(1)
    expect(page.locator(".workflow-row")).to_contain_text(DEMO_NAME)


def test_active_toggle_is_saved(running_app: RunningApp, signed_in_page: Page) -> None:
    page = signed_in_page
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


def test_the_mounted_api_signs_up_and_serves_a_users_workflows(running_app: RunningApp) -> None:
    # Given: the real app (Reflex's backend with the API mounted)
    with httpx.Client(base_url=running_app.url, timeout=10) as client:
        # When: a person signs up and creates a workflow through the API
        signed_up = client.post(
            "/api/auth/sign-up",
            json={"email": "api-user@example.com", "password": "correct horse battery"},
        )
        assert signed_up.status_code == 201, signed_up.text
        created = client.post("/api/workflows", json={"name": "From the API"})

        # Then: the session cookie works on the next request, and only their workflow shows
        assert created.status_code == 201, created.text
        names = [workflow["name"] for workflow in client.get("/api/workflows").json()]
        assert names == ["From the API"]
    assert httpx.get(f"{running_app.url}/api/workflows").status_code == 401
