"""The workflow editor in a real browser: build, configure, validate, save, reload, run."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.local_server import serve as serve_http
from tests.support.magic_llm import routes as magic_routes
from tests.support.openai_server import ROUTES as OPENAI_ROUTES
from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot
from tests.ui.editor_pages import (
    add_from_palette,
    canvas_node,
    connect,
    create_workflow,
    fit_view,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

TRIGGER_ONLY = {
    "nodes": [
        {
            "id": "start",
            "type": "trigger",
            "position": {"x": 0, "y": 0},
            "data": {"label": "Start", "config": {"source": "manual", "samplePayload": {"n": 1}}},
        }
    ],
    "edges": [],
}

#: The trigger and a transform ("shape") after it.
TRIGGER_AND_SHAPE = {
    "nodes": [
        *TRIGGER_ONLY["nodes"],
        {
            "id": "shape",
            "type": "transform",
            "position": {"x": 300, "y": 0},
            "data": {"label": "Shape", "config": {"language": "jsonata", "code": "trigger"}},
        },
    ],
    "edges": [{"id": "e1", "source": "start", "target": "shape"}],
}


class _Recorder(BaseHTTPRequestHandler):
    received: list[Any]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(json.loads(body or b"null"))  # type: ignore[attr-defined]
        reply = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[Any]]]:
    """An HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.received = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", server.received  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


def test_build_validate_save_reload_and_run(
    running_app: RunningApp, signed_in_page: Page, recorder: tuple[str, list[Any]]
) -> None:
    hook_url, received = recorder
    workflow_id = create_workflow(running_app, "Editor journey", TRIGGER_ONLY)
    page = signed_in_page
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(canvas_node(page, "start")).to_be_visible(timeout=30_000)
    screenshot(page, "editor-new")

    # When: the person adds a transform, a condition and two more nodes from the palette
    add_from_palette(page, "Transform", 2)
    expect(page.locator(".panel-title")).to_have_text("Transform")
    page.locator('textarea[name="code"]').fill("trigger.data.n * 2")
    add_from_palette(page, "Condition", 3)
    page.get_by_role("button", name="Add rule").click()
    page.locator('input[name="conditions.0.field"]').fill("{{ nodes.transform.result ")

    # Then: the broken template shows as a problem on the field and on the node
    expect(page.locator(".field-error").first).to_contain_text("template", timeout=10_000)
    expect(canvas_node(page, "condition")).to_have_attribute("data-invalid", "true")
    screenshot(page, "editor-validation-error")

    # When: it is fixed, the problem goes away
    page.locator('input[name="conditions.0.field"]').fill("{{ nodes.transform.result }}")
    page.locator('input[placeholder="value"]').fill("42")
    expect(page.locator(".field-error")).to_have_count(0, timeout=10_000)

    add_from_palette(page, "HTTP Request", 4)
    page.locator(".side-panel").get_by_role("combobox").first.click()
    page.get_by_role("option", name="POST").click()
    page.locator('input[name="url"]').fill(hook_url)
    page.locator('textarea[name="body"]').fill('{"value": "{{ nodes.transform.result }}"}')
    add_from_palette(page, "Transform", 5)
    page.locator('textarea[name="code"]').fill('"small"')
    fit_view(page)

    # And: connects them by dragging between handles
    connect(page, "start", "transform")
    connect(page, "transform", "condition")
    connect(page, "condition", "http", source_handle="branch1")
    connect(page, "condition", "transform-2", source_handle="default")
    expect(page.locator(".react-flow__edge")).to_have_count(4)
    page.keyboard.press("Escape")
    expect(page.locator(".problem-count")).to_have_text("0", timeout=10_000)
    expect(page.locator(".dirty")).to_be_visible()
    screenshot(page, "editor-built")

    # When: Ctrl+S saves, and the page is reloaded
    page.keyboard.press("Control+s")
    expect(page.locator(".saved")).to_contain_text("v2", timeout=10_000)
    page.reload()

    # Then: the workflow is as it was drawn
    expect(page.locator('[data-testid="canvas-node"]')).to_have_count(5, timeout=30_000)
    expect(page.locator(".react-flow__edge")).to_have_count(4)
    canvas_node(page, "transform").click()
    expect(page.locator('textarea[name="code"]')).to_have_value("trigger.data.n * 2")

    # When: it runs with a test payload
    page.locator(".run-button").click()
    page.locator('textarea[name="run_payload"]').fill('{"n": 21}')
    page.locator(".run-confirm").click()

    # Then: the nodes show their statuses live, and the HTTP call carried the result
    status = '[data-testid="node-status"]'
    expect(canvas_node(page, "http").locator(status)).to_have_attribute(
        "data-status", "SUCCEEDED", timeout=30_000
    )
    expect(canvas_node(page, "transform-2").locator(status)).to_have_attribute(
        "data-status", "SKIPPED"
    )
    expect(page.locator(".run-state")).to_have_text("completed", timeout=30_000)
    assert received == [{"value": "42"}] or received == [{"value": 42}]
    page.get_by_role("tab", name="Last run").click()
    expect(page.locator(".node-result")).to_contain_text("42")
    screenshot(page, "editor-run")


def test_delete_key_removes_the_selected_node_and_its_edges(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    workflow_id = create_workflow(running_app, "Deleting", TRIGGER_AND_SHAPE)
    page = signed_in_page
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(canvas_node(page, "shape")).to_be_visible(timeout=30_000)

    canvas_node(page, "shape").click()
    expect(page.locator(".panel-title")).to_have_text("Shape")
    page.keyboard.press("Delete")

    expect(page.locator('[data-testid="canvas-node"]')).to_have_count(1)
    expect(page.locator(".react-flow__edge")).to_have_count(0)
    expect(page.locator(".dirty")).to_be_visible()
    expect(page.locator(".side-panel")).to_contain_text("Problems")

    # And: leaving through a link asks first; declining stays on the editor
    questions: list[str] = []

    def decline(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.get_by_role("link", name="Workflows").click()
    expect(page.locator(".dirty")).to_be_visible()
    assert questions and "unsaved changes" in questions[0]


def test_escape_clears_react_flows_selection_too(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    """React Flow unselects on Escape by itself only while the node has focus."""
    workflow_id = create_workflow(running_app, "Escaping", TRIGGER_AND_SHAPE)
    page = signed_in_page
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(canvas_node(page, "shape")).to_be_visible(timeout=30_000)
    selected = page.locator(".react-flow__node.selected")

    # When: a node is clicked, focus moves to the panel, and Escape is pressed
    canvas_node(page, "shape").click()
    expect(page.locator(".panel-title")).to_have_text("Shape")
    expect(selected).to_have_count(1)
    page.locator(".panel-title").click()
    page.keyboard.press("Escape")

    # Then: the panel and React Flow both show nothing selected
    expect(page.locator(".panel-title")).to_have_count(0)
    expect(selected).to_have_count(0)

    # And: so for a node the palette added (selected by the editor's state)
    add_from_palette(page, "Transform", 3)
    expect(page.locator(".panel-title")).to_have_text("Transform")
    expect(selected).to_have_count(1)
    page.keyboard.press("Escape")
    expect(page.locator(".panel-title")).to_have_count(0)
    expect(selected).to_have_count(0)
    expect(page.locator(".react-flow__edge.selected")).to_have_count(0)


def test_another_users_workflow_is_not_found(
    running_app: RunningApp, signed_in_page: Page, browser: Any
) -> None:
    workflow_id = create_workflow(running_app, "Private", TRIGGER_ONLY)
    with httpx.Client(base_url=running_app.url, timeout=10) as api:
        api.post(
            "/api/auth/sign-up",
            json={"email": "mallory@example.com", "password": "another long one"},
        )
        signed_in = api.post(
            "/api/auth/sign-in",
            json={"email": "mallory@example.com", "password": "another long one"},
        )
        assert signed_in.status_code == 200, signed_in.text
        cookies = [{"name": k, "value": v, "url": running_app.url} for k, v in api.cookies.items()]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(cookies)
    page = context.new_page()
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    expect(page.get_by_text("Workflow not found")).to_be_visible(timeout=30_000)
    expect(page.locator('[data-testid="canvas-node"]')).to_have_count(0)
    context.close()


def test_magic_input_proposes_a_config_that_can_be_applied_and_saved(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    proposal = {
        "label": "Double n",
        "config": {"language": "jsonata", "code": "trigger.data.n * 2"},
        "reasoning": "Multiply the payload's n by two.",
        "confidence": 0.9,
    }
    broken = {"label": "Double n", "config": {"language": "jsonata", "code": "{{ nodes.x"}}
    workflow_id = create_workflow(running_app, "Magic", TRIGGER_AND_SHAPE)
    handlers, calls = magic_routes([broken, proposal])
    with serve_http(handlers) as llm:
        page = signed_in_page
        page.goto(f"{running_app.url}/workflows/{workflow_id}")
        canvas_node(page, "shape").click()

        # When: the person describes the node in plain English and generates
        page.locator(".magic-button").click()
        page.locator('textarea[name="magic_prompt"]').fill("double the n of the payload")
        page.get_by_role("dialog").get_by_role("combobox").first.click()
        page.get_by_role("option", name="openai-compatible").click()
        page.locator('input[name="magic_base_url"]').fill(f"{llm.url}/v1")
        page.locator('input[name="magic_model"]').fill("scripted")
        page.locator(".magic-generate").click()

        # Then: after one retry with feedback, the proposal shows as a diff with its confidence
        expect(page.locator(".magic-diff")).to_contain_text("trigger.data.n * 2", timeout=30_000)
        expect(page.locator(".diff-remove").first).to_be_visible()
        expect(page.locator(".magic-confidence")).to_contain_text("75%")
        expect(page.locator(".magic-progress")).to_contain_text("Answer 1 had problems")
        screenshot(page, "editor-magic-input")
        assert len(calls) == 2

        # When: it is applied and saved
        page.locator(".magic-apply").click()
        expect(page.locator(".panel-title")).to_have_text("Double n")
        expect(page.locator(".dirty")).to_be_visible()
        page.locator(".save-button").click()
        expect(page.locator(".saved")).to_be_visible(timeout=10_000)

    # Then: the stored workflow has the generated config
    with httpx.Client(base_url=running_app.url, timeout=10) as api:
        api.post("/api/auth/sign-in", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD})
        stored = api.get(f"/api/workflows/{workflow_id}").json()
    shape = next(node for node in stored["graph"]["nodes"] if node["id"] == "shape")
    assert shape["data"]["config"] == proposal["config"]


def test_an_ai_nodes_answer_streams_into_the_editor(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    """The AI node streams; its words appear in "Last run" while it is still running."""
    words = " ".join(f"word{index}" for index in range(120))  # about 2.5 s of streaming
    with serve_http(OPENAI_ROUTES) as llm:
        graph = {
            "nodes": [
                *TRIGGER_ONLY["nodes"],
                {
                    "id": "chat",
                    "type": "ai",
                    "position": {"x": 300, "y": 0},
                    "data": {
                        "label": "Chat",
                        "config": {
                            "provider": "openai-compatible",
                            "baseUrl": f"{llm.url}/v1",
                            "model": "echo",
                            "prompt": words,
                            "stream": True,
                        },
                    },
                },
            ],
            "edges": [{"id": "e1", "source": "start", "target": "chat"}],
        }
        workflow_id = create_workflow(running_app, "Streaming", graph)
        page = signed_in_page
        page.goto(f"{running_app.url}/workflows/{workflow_id}")
        canvas_node(page, "chat").click()
        page.get_by_role("tab", name="Last run").click()

        page.locator(".run-button").click()
        page.locator(".run-confirm").click()

        # Then: part of the answer is shown while the node still runs, then all of it
        status = canvas_node(page, "chat").locator('[data-testid="node-status"]')
        expect(page.locator(".node-result")).to_contain_text("You said: word0", timeout=30_000)
        assert status.get_attribute("data-status") == "RUNNING"
        expect(status).to_have_attribute("data-status", "SUCCEEDED", timeout=30_000)
        expect(page.locator(".node-result")).to_contain_text("word119")
