"""The editor's generated forms, palette and handles in a real browser, including a node
type the app loads from ``WORKFUSE_NODE_MODULES`` (the tests' "Sign text")."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.ui.conftest import RunningApp, screenshot
from tests.ui.editor.form_helpers import full_node
from tests.ui.editor_pages import (
    add_from_palette,
    canvas_node,
    connect,
    create_workflow,
    fit_view,
    handle,
    owner_client,
    stored_graph,
)
from workfuse.nodes.base import CATEGORIES, CATEGORY_LABELS, NodeSpec
from workfuse.nodes.registry import REGISTRY
from workfuse.ui.editor import form_edits
from workfuse.ui.editor.form_schema import fields_of
from workfuse.ui.editor.node_form import build_form
from workfuse.web_paths import SESSION_COOKIE

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

TALL = {"width": 1280, "height": 1500}  #: screenshots show the whole side panel
START = {
    "id": "start",
    "type": "trigger",
    "position": {"x": 0, "y": 0},
    "data": {"label": "Start", "config": {"source": "manual", "samplePayload": {"order": "A-1"}}},
}


def _transform(node_id: str, x: float, y: float) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "transform",
        "position": {"x": x, "y": y},
        "data": {"label": node_id.capitalize(), "config": {"code": "trigger"}},
    }


@pytest.fixture
def owner_api(running_app: RunningApp, owner: None) -> Iterator[httpx.Client]:
    with owner_client(running_app) as api:
        yield api


@pytest.fixture
def credential(owner_api: httpx.Client) -> Iterator[dict[str, Any]]:
    """A credential of the owner's (name, arn, value), deleted afterwards."""
    name, value = f"Signing key {secrets.token_hex(3)}", secrets.token_urlsafe(24)
    created = owner_api.post("/api/secrets", json={"name": name, "value": value})
    assert created.status_code == 201, created.text
    yield {**created.json(), "value": value}
    owner_api.delete(f"/api/secrets/{created.json()['id']}")


def _themed_page(app: RunningApp, browser: Browser, scheme: str) -> Page:
    """A signed-in tab, tall enough for the whole panel, in a light or dark theme (the
    app follows the browser's preference)."""
    with owner_client(app) as api:
        cookie = api.cookies[SESSION_COOKIE]
    context = browser.new_context(viewport=TALL, color_scheme=scheme)  # type: ignore[arg-type]
    context.add_cookies([{"name": SESSION_COOKIE, "value": cookie, "url": app.url}])
    return context.new_page()


# --- handles -------------------------------------------------------------------------------


def test_a_renamed_or_added_branch_can_be_connected_at_once(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    """React Flow measures a node's handles once; a renamed branch's handle must be
    measured again, or an edge from it is neither drawn nor usable until a reload."""
    route = {
        "id": "route",
        "type": "condition",
        "position": {"x": 280, "y": 0},
        "data": {
            "label": "Route",
            "config": {
                "conditions": [
                    {"field": "{{ trigger.data.n }}", "operator": "eq", "value": 1, "branch": "b1"}
                ],
                "defaultBranch": "default",
            },
        },
    }
    graph = {
        "nodes": [START, route, _transform("a", 600, -100), _transform("b", 600, 60)],
        "edges": [
            {"id": "e1", "source": "start", "target": "route"},
            {"id": "e2", "source": "route", "sourceHandle": "default", "target": "a"},
        ],
    }
    workflow_id = create_workflow(running_app, "Branches", graph)
    page = signed_in_page
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(canvas_node(page, "route")).to_be_visible(timeout=30_000)
    edges = page.locator(".react-flow__edge")
    expect(edges).to_have_count(2)

    # When: the rule's branch is renamed in the form, and its new handle dragged to "b"
    canvas_node(page, "route").click()
    page.locator('input[name="conditions.0.branch"]').fill("urgent")
    expect(handle(page, "route", "source", "urgent")).to_be_visible(timeout=10_000)
    expect(page.locator(".dirty")).to_be_visible()
    connect(page, "route", "b", source_handle="urgent")

    # Then: the edge is drawn at once
    expect(page.locator('[data-testid="rf__edge-e-route-urgent-b"]')).to_be_visible()
    expect(edges).to_have_count(3)

    # When: a rule is added and its branch's new handle dragged to "a" too
    page.get_by_role("button", name="Add rule").click()
    expect(handle(page, "route", "source", "branch2")).to_be_visible(timeout=10_000)
    connect(page, "route", "a", source_handle="branch2")
    expect(page.locator('[data-testid="rf__edge-e-route-branch2-a"]')).to_be_visible()
    expect(edges).to_have_count(4)
    screenshot(page, "editor-branch-renamed")

    # Then: both edges are saved with their branches
    page.locator(".save-button").click()
    expect(page.locator(".saved")).to_be_visible(timeout=10_000)
    saved = {
        (edge["source"], edge.get("sourceHandle"), edge["target"])
        for edge in stored_graph(running_app, workflow_id)["edges"]
    }
    assert {("route", "urgent", "b"), ("route", "branch2", "a")} <= saved


# --- the palette ---------------------------------------------------------------------------


def test_the_palette_is_grouped_by_category_and_searchable(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    workflow_id = create_workflow(running_app, "Palette", {"nodes": [START], "edges": []})
    page = signed_in_page
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(canvas_node(page, "start")).to_be_visible(timeout=30_000)

    # Then: the categories are in their order, each with its node types
    headings = page.locator(".palette-category")
    used = {spec.category for spec in REGISTRY.specs()} | {"data"}  # and Sign text's
    expected = [CATEGORY_LABELS[category] for category in CATEGORIES if category in used]
    expect(headings).to_have_text(expected, ignore_case=True)
    for spec in REGISTRY.specs():
        group = page.locator(f'[data-category="{spec.category}"]')
        expect(group.locator(f'[data-palette-type="{spec.type}"]')).to_have_count(1)
    expect(page.locator('[data-category="data"] [data-palette-type="sign_text"]')).to_have_count(1)

    # When: the person searches; then only matching types (and their headings) stay
    search = page.locator('input[name="palette_search"]')
    search.fill("HMAC")  # in Sign text's description only
    expect(page.locator(".palette-item")).to_have_count(1)
    expect(page.locator(".palette-item")).to_contain_text("Sign text")
    expect(headings).to_have_text(["Data"], ignore_case=True)
    search.fill("condition")  # the type's name
    expect(page.locator(".palette-item")).to_have_count(1)
    expect(page.locator(".palette-item")).to_contain_text(REGISTRY.get("condition").label)
    search.fill("no such node")
    expect(page.locator(".palette-item")).to_have_count(0)
    expect(page.locator(".palette-empty")).to_be_visible()
    search.fill("")
    expect(page.locator(".palette-item")).to_have_count(len(REGISTRY.specs()) + 1)

    # And: a searched-for node is added by a click
    search.fill("sign")
    expect(page.locator(".palette-item")).to_have_count(1)  # filtered: nothing moves now
    add_from_palette(page, "Sign text", 2)
    expect(page.locator(".panel-title")).to_have_text("Sign text")


# --- the sample node type, end to end ------------------------------------------------------


def test_a_node_type_from_node_modules_gets_its_form_and_runs(
    running_app: RunningApp, signed_in_page: Page, credential: dict[str, Any]
) -> None:
    workflow_id = create_workflow(running_app, "Signing", {"nodes": [START], "edges": []})
    page = signed_in_page
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(canvas_node(page, "start")).to_be_visible(timeout=30_000)

    # When: "Sign text" is added from the palette's Data group
    page.locator('[data-category="data"] .palette-item', has_text="Sign text").click()
    fit_view(page)
    expect(page.locator(".panel-title")).to_have_text("Sign text")

    # Then: its generated form has a template text box, a select, a credential picker,
    # and its rounds under "More options" (closed until opened)
    panel = page.locator(".side-panel")
    text = panel.locator('textarea[name="text"]')
    expect(text).to_have_value("{{ trigger.data }}")
    expect(panel.locator('[data-path="text"]')).to_contain_text("{{ }}")
    expect(panel.locator('[data-path="algorithm"]').get_by_role("combobox")).to_have_text("sha256")
    picker = panel.locator('[data-path="keyArn"]')
    expect(picker).to_contain_text("Signing key")
    expect(panel.locator('input[name="rounds"]')).to_have_count(0)
    panel.locator(".more-options").click()
    expect(panel.locator('input[name="rounds"]')).to_have_attribute("placeholder", "1")
    expect(panel.locator('[data-path="rounds"]')).to_contain_text("rounds")
    expect(canvas_node(page, "sign_text")).to_have_attribute("data-invalid", "true")

    # When: a credential is chosen and the text typed, and it is wired and saved
    picker.get_by_role("combobox").click()
    page.get_by_role("option", name=credential["name"]).click()
    expect(picker.get_by_role("combobox")).to_have_text(credential["name"])
    text.fill("order {{ trigger.data.order }}")
    connect(page, "start", "sign_text")
    page.keyboard.press("Escape")
    expect(page.locator(".problem-count")).to_have_text("0", timeout=10_000)
    page.keyboard.press("Control+s")
    expect(page.locator(".saved")).to_contain_text("v2", timeout=10_000)
    [node] = [n for n in stored_graph(running_app, workflow_id)["nodes"] if n["id"] == "sign_text"]
    assert node["data"]["config"] == {
        "text": "order {{ trigger.data.order }}",
        "algorithm": "sha256",
        "keyArn": credential["arn"],
    }

    # Then: a run from the editor signs the text with the credential's value
    page.locator(".run-button").click()
    page.locator(".run-confirm").click()
    expect(page.locator(".run-state")).to_have_text("completed", timeout=30_000)
    canvas_node(page, "sign_text").click()
    page.get_by_role("tab", name="Last run").click()
    expected = hmac.new(credential["value"].encode(), b"order A-1", hashlib.sha256).hexdigest()
    expect(page.locator(".node-result")).to_contain_text(expected)
    screenshot(page, "editor-sample-node-run")


# --- every form, light and dark ------------------------------------------------------------


def _every_type_graph(arn: str, specs: list[NodeSpec]) -> dict[str, Any]:
    """A node of each type with every field shown (groups on, a list row, credentials
    set), all after a trigger."""
    nodes = []
    for index, spec in enumerate(specs):
        node = full_node(spec, f"n-{spec.type}")
        for view in build_form(node, {}).fields + build_form(node, {}).advanced:
            if view.widget == "credential":
                node = form_edits.set_value(node, view.path, arn)
        node["position"] = {"x": 300 * (index % 3), "y": 160 * (index // 3)}
        nodes.append(node)
    return {"nodes": nodes, "edges": []}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_node_types_form_shows_every_field(
    running_app: RunningApp,
    browser: Browser,
    credential: dict[str, Any],
    sample_node: NodeSpec,
    scheme: str,
) -> None:
    """Each type's generated form shows a row for each of its fields (screenshots of
    each, and of the palette searched, in both themes, for a person to look at)."""
    specs = REGISTRY.specs()
    workflow_id = create_workflow(
        running_app, f"Every form ({scheme})", _every_type_graph(credential["arn"], specs)
    )
    page = _themed_page(running_app, browser, scheme)
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(page.locator('[data-testid="canvas-node"]')).to_have_count(len(specs), timeout=30_000)
    more = page.locator(".more-options")
    for spec in specs:
        canvas_node(page, f"n-{spec.type}").click()
        expect(page.locator(".panel-title")).to_have_text(spec.label)
        if any(field.advanced for field in fields_of(spec)) and (
            more.get_attribute("aria-expanded") != "true"
        ):
            more.click()
        expected = build_form(full_node(spec, f"n-{spec.type}"), {})
        for view in expected.fields + expected.advanced:
            rows = page.locator(
                f'.side-panel [data-path="{view.path}"][data-widget="{view.widget}"]'
            )
            expect(rows.first).to_be_visible()
        expect(page.locator(".side-panel .field-error")).to_have_count(0)
        screenshot(page, f"editor-form-{spec.type}-{scheme}")
    page.locator('input[name="palette_search"]').fill("data")
    screenshot(page, f"editor-palette-search-{scheme}")
    page.context.close()
