"""The workflows page in a real browser against the embedded default app: search, the
active toggle, last runs, create, import, export and delete."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot
from workfuse.db import get_engine
from workfuse.demo import DEMO_NAME
from workfuse.models import Workflow
from workfuse.web_paths import SESSION_COOKIE

#: The first test also waits for the app's first production build.
pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

WAIT_MS = 30_000


def small_graph(code: str = "trigger.data") -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "start",
                "type": "trigger",
                "data": {"label": "Start", "config": {"source": "manual"}},
            },
            {
                "id": "shape",
                "type": "transform",
                "data": {"label": "Shape", "config": {"language": "jsonata", "code": code}},
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "shape"}],
    }


@pytest.fixture
def api(running_app: RunningApp, owner: None) -> Iterator[httpx.Client]:
    """The owner's API session, to arrange what a test needs."""
    with httpx.Client(base_url=running_app.url, timeout=10) as client:
        signed_in = client.post(
            "/api/auth/sign-in", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        yield client


def stored(running_app: RunningApp, name: str) -> list[Workflow]:
    with Session(get_engine(running_app.database_url)) as session:
        return list(session.exec(select(Workflow).where(Workflow.name == name)).all())


def settled(page: Page) -> None:
    """Wait for opening dialogs and menus to finish animating (before a screenshot)."""
    page.wait_for_function(
        "document.getAnimations().every(a => a.playState !== 'running'"
        " || a.effect.getTiming().iterations === Infinity)"
    )


def open_menu(page: Page, name: str) -> None:
    row = page.locator(".workflow-row", has_text=name)
    row.get_by_role("button", name="More actions").click()


def test_search_narrows_the_list(running_app: RunningApp, signed_in_page: Page) -> None:
    page = signed_in_page
    page.goto(running_app.url)
    expect(page.locator(".workflow-row", has_text=DEMO_NAME)).to_be_visible(timeout=WAIT_MS)

    page.get_by_placeholder("Search workflows").fill("no such workflow")
    expect(page.get_by_text("No workflows match “no such workflow”.")).to_be_visible()
    expect(page.locator(".workflow-row")).to_have_count(0)
    screenshot(page, "workflows-search-empty")

    page.get_by_placeholder("Search workflows").fill("triage")
    expect(page.locator(".workflow-row")).to_have_count(1)
    expect(page.locator(".workflow-row")).to_contain_text(DEMO_NAME)


def test_active_toggle_is_saved(running_app: RunningApp, signed_in_page: Page) -> None:
    page = signed_in_page
    page.goto(running_app.url)
    row = page.locator(".workflow-row", has_text=DEMO_NAME)
    switch = row.get_by_role("switch")
    expect(switch).to_be_checked(timeout=WAIT_MS)

    switch.click()

    expect(row).to_contain_text("Inactive")
    (workflow,) = stored(running_app, DEMO_NAME)
    assert workflow.is_active is False
    switch.click()
    expect(row).to_contain_text("Active")


def test_a_new_user_is_told_what_to_do_first(running_app: RunningApp, browser: Browser) -> None:
    # Given: a person who just signed up (no workflows: the demo went to the owner)
    with httpx.Client(base_url=running_app.url, timeout=10) as client:
        signed_up = client.post(
            "/api/auth/sign-up",
            json={"email": "newcomer@example.com", "password": OWNER_PASSWORD},
        )
        assert signed_up.status_code == 201, signed_up.text
        token = signed_up.cookies[SESSION_COOKIE]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": running_app.url}])
    page = context.new_page()

    # When: they open the workflows page
    page.goto(running_app.url)

    # Then: the empty state offers to create or import, and its button opens the dialog
    empty = page.locator(".empty-state")
    expect(empty).to_contain_text("No workflows yet.", timeout=WAIT_MS)
    expect(empty).to_contain_text("Create one and build it in the editor")
    screenshot(page, "workflows-empty")
    empty.get_by_role("button", name="New workflow").click()
    expect(page.get_by_role("dialog")).to_contain_text("New workflow")
    context.close()


def test_create_asks_for_a_name_and_opens_the_editor(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    # Given: the workflows page
    page = signed_in_page
    page.goto(running_app.url)
    expect(page.locator(".workflow-row").first).to_be_visible(timeout=WAIT_MS)

    # When: the person creates a workflow, naming it in the dialog
    page.get_by_role("button", name="New workflow").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("It starts with a trigger node")
    dialog.get_by_label("Name").fill("Nightly sales report")
    settled(page)
    screenshot(page, "workflows-create-dialog")
    dialog.get_by_role("button", name="Create and open").click()

    # Then: the editor's address of the new workflow opens, and it is stored with a trigger
    expect(page).to_have_url(re.compile(r"/workflows/[0-9a-z]+/?$"), timeout=WAIT_MS)
    expect(page).to_have_title("Editor · WorkFuse")
    (workflow,) = stored(running_app, "Nightly sales report")
    assert page.url.rstrip("/").endswith(f"/workflows/{workflow.id}")
    assert [node["type"] for node in workflow.graph["nodes"]] == ["trigger"]
    assert workflow.is_active is False

    # And: back on the list, its name links to the editor and it has never run
    page.goto(running_app.url)
    row = page.locator(".workflow-row", has_text="Nightly sales report")
    expect(row).to_contain_text("Never run", timeout=WAIT_MS)
    expect(row.get_by_role("link", name="Nightly sales report")).to_have_attribute(
        "href", f"/workflows/{workflow.id}"
    )


def test_a_blank_name_is_refused_in_the_dialog(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    page = signed_in_page
    page.goto(running_app.url)
    expect(page.locator(".workflow-row").first).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="New workflow").click()
    dialog = page.get_by_role("dialog")

    dialog.get_by_label("Name").fill("   ")
    dialog.get_by_role("button", name="Create and open").click()

    expect(dialog).to_contain_text("give the workflow a name")
    expect(page).to_have_url(re.compile(r"/$"))


def _import(page: Page, path: Path) -> None:
    page.get_by_role("button", name="Import").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Drop a .json file here")
    dialog.locator("input[type=file]").set_input_files(str(path))


def test_an_invalid_file_lists_its_problems_and_saves_nothing(
    running_app: RunningApp, signed_in_page: Page, tmp_path: Path
) -> None:
    # Given: an export whose graph has an unknown node type and a dangling edge
    graph = small_graph()
    graph["nodes"].append({"id": "mystery", "type": "teleport", "data": {"label": "?"}})
    graph["edges"].append({"id": "e2", "source": "shape", "target": "nowhere"})
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"format": "workfuse.workflow", "name": "Broken", "graph": graph}))
    page = signed_in_page
    page.goto(running_app.url)
    expect(page.locator(".workflow-row").first).to_be_visible(timeout=WAIT_MS)

    # When: the person imports it
    _import(page, broken)

    # Then: the problems are listed, one line each, and nothing was saved
    error = page.locator(".import-error")
    expect(error).to_contain_text("broken.json was not imported", timeout=WAIT_MS)
    expect(page.locator(".import-problem", has_text="mystery")).to_be_visible()
    expect(page.locator(".import-problem", has_text="nowhere")).to_be_visible()
    settled(page)
    screenshot(page, "workflows-import-invalid")
    assert stored(running_app, "Broken") == []

    # When: the file is not JSON at all, Then the place of the syntax error is shown
    not_json = tmp_path / "notes.json"
    not_json.write_text('{"name": "x",\n  oops}')
    page.get_by_role("dialog").locator("input[type=file]").set_input_files(str(not_json))
    expect(error).to_contain_text("notes.json is not valid JSON", timeout=WAIT_MS)
    expect(page.locator(".import-problem")).to_contain_text("line 2, column 3")


def test_a_valid_file_is_imported_and_listed(
    running_app: RunningApp, signed_in_page: Page, tmp_path: Path
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"name": "Imported shapes", "graph": small_graph()}))
    page = signed_in_page
    page.goto(running_app.url)
    expect(page.locator(".workflow-row").first).to_be_visible(timeout=WAIT_MS)

    _import(page, good)

    row = page.locator(".workflow-row", has_text="Imported shapes")
    expect(row).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(row).to_contain_text("2 nodes · v1")
    assert len(stored(running_app, "Imported shapes")) == 1


def test_export_downloads_a_file_that_imports_again(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client, tmp_path: Path
) -> None:
    # Given: a workflow
    created = api.post("/api/workflows", json={"name": "Round trip", "graph": small_graph()})
    assert created.status_code == 201, created.text
    page = signed_in_page
    page.goto(running_app.url)
    expect(page.locator(".workflow-row", has_text="Round trip")).to_be_visible(timeout=WAIT_MS)

    # When: the person exports it from the row's menu
    open_menu(page, "Round trip")
    settled(page)
    screenshot(page, "workflows-row-menu")
    with page.expect_download() as download_info:
        page.get_by_role("menuitem", name="Export").click()
    download = download_info.value
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)

    # Then: the file is the workflow's export, and importing it makes a second copy
    assert download.suggested_filename == "round-trip.workfuse.json"
    exported = json.loads(saved.read_text())
    assert exported["format"] == "workfuse.workflow"
    assert exported["name"] == "Round trip"
    assert [node["id"] for node in exported["graph"]["nodes"]] == ["start", "shape"]
    _import(page, saved)
    expect(page.locator(".workflow-row", has_text="Round trip")).to_have_count(2, timeout=WAIT_MS)
    assert len(stored(running_app, "Round trip")) == 2


def test_delete_asks_first_and_cancel_keeps_it(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client
) -> None:
    created = api.post("/api/workflows", json={"name": "Short lived", "graph": small_graph()})
    assert created.status_code == 201, created.text
    page = signed_in_page
    page.goto(running_app.url)
    row = page.locator(".workflow-row", has_text="Short lived")
    expect(row).to_be_visible(timeout=WAIT_MS)

    # When: the person chooses Delete, Then they are asked, and Cancel keeps it
    open_menu(page, "Short lived")
    page.get_by_role("menuitem", name="Delete…").click()
    question = page.get_by_role("alertdialog")
    expect(question).to_contain_text("Delete “Short lived”?")
    settled(page)
    screenshot(page, "workflows-delete-confirm")
    question.get_by_role("button", name="Cancel").click()
    expect(question).to_have_count(0)
    expect(row).to_be_visible()
    assert len(stored(running_app, "Short lived")) == 1

    # When: they confirm, Then it is gone from the list and from storage
    open_menu(page, "Short lived")
    page.get_by_role("menuitem", name="Delete…").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete workflow").click()
    expect(row).to_have_count(0, timeout=WAIT_MS)
    assert stored(running_app, "Short lived") == []


def test_each_row_shows_its_last_execution(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client
) -> None:
    # Given: a workflow that ran once, to completion
    created = api.post("/api/workflows", json={"name": "Ran once", "graph": small_graph()})
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    started = api.post(f"/api/workflows/{workflow_id}/run", json={"payload": {"n": 1}})
    assert started.status_code == 202, started.text
    execution_id = started.json()["executionId"]
    deadline = time.monotonic() + 30
    while api.get(f"/api/executions/{execution_id}").json()["status"] != "COMPLETED":
        assert time.monotonic() < deadline, "the run did not complete"
        time.sleep(0.2)

    # When: the list opens
    page = signed_in_page
    page.goto(running_app.url)

    # Then: the row shows the run's status, linking to it
    last = page.locator(".workflow-row", has_text="Ran once").locator(".last-run")
    expect(last).to_contain_text("completed", timeout=WAIT_MS)
    expect(last).to_have_attribute("href", f"/executions/{execution_id}")
    screenshot(page, "workflows")


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
