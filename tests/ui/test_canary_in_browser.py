"""The canary search in the browser: a credential's value, used by an HTTP node and an AI
node whose services echo it back, must be in no websocket frame the app sends (Reflex
state, live updates included) and in no page's HTML, while a run is watched live on the
execution page, and while one is run and inspected in the editor."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, WebSocket, expect

from tests.support.canary import (
    CANARY,
    Echo,
    assert_canary_was_sent,
    assert_clean,
    assert_redacted_outputs,
    canary_graph,
    routes,
)
from tests.support.local_server import LocalServer, serve
from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot
from workfuse.secrets.redaction import REDACTED

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

WAIT_MS = 30_000
WAIT_S = 30.0


@pytest.fixture
def api(running_app: RunningApp, owner: None) -> Iterator[httpx.Client]:
    """The owner's API session, to arrange what the test needs."""
    with httpx.Client(base_url=running_app.url, timeout=WAIT_S) as client:
        signed_in = client.post(
            "/api/auth/sign-in", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        yield client


@pytest.fixture
def services() -> Iterator[tuple[LocalServer, Echo]]:
    echo = Echo()
    with serve(routes(echo)) as server:
        yield server, echo


def record_frames(page: Page) -> list[str | bytes]:
    """Every websocket frame the page receives from now on."""
    frames: list[str | bytes] = []

    def on_frame(payload: str | bytes) -> None:
        frames.append(payload)

    def on_socket(socket: WebSocket) -> None:
        socket.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    return frames


def test_the_canary_is_in_no_frame_and_no_page(
    running_app: RunningApp,
    signed_in_page: Page,
    api: httpx.Client,
    services: tuple[LocalServer, Echo],
    request: pytest.FixtureRequest,
) -> None:
    server, echo = services
    page = signed_in_page
    frames = record_frames(page)
    pages: dict[str, str] = {}

    # Given: the canary as a credential, and a workflow using it in an HTTP and an AI node
    created = api.post("/api/secrets", json={"name": "Canary", "value": CANARY})
    assert created.status_code == 201, created.text
    graph = canary_graph(server, created.json()["arn"])
    workflow = api.post("/api/workflows", json={"name": "Canary run", "graph": graph})
    assert workflow.status_code == 201, workflow.text
    workflow_id = workflow.json()["id"]
    # The owner's account is shared by the browser tests: leave it as it was found.
    request.addfinalizer(lambda: api.delete(f"/api/workflows/{workflow_id}"))
    request.addfinalizer(lambda: api.delete(f"/api/secrets/{created.json()['id']}"))

    # When: a run is started and watched live on its page, its HTTP node held until then
    started = api.post(f"/api/workflows/{workflow_id}/run", json={"payload": {"order": "A-1"}})
    assert started.status_code == 202, started.text
    execution_id = started.json()["executionId"]
    page.goto(f"{running_app.url}/executions/{execution_id}")
    expect(page.locator(".execution-status")).to_contain_text("running", timeout=WAIT_MS)
    assert echo.arrivals.get(timeout=WAIT_S) == execution_id
    echo.release.put(None)
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=WAIT_MS)

    # And: both nodes are opened, showing their inputs and outputs
    for node_id in ("call", "ask"):
        row = page.locator(f'.node-row[data-node="{node_id}"]')
        row.get_by_role("button").first.click()
        expect(row.locator(".node-details")).to_contain_text(REDACTED)
    screenshot(page, "canary-execution")
    pages["execution"] = page.content()

    # And: the workflow is opened in the editor and run from there with a test payload
    page.goto(f"{running_app.url}/workflows/{workflow_id}")
    ask = page.locator('[data-testid="canvas-node"][data-node-id="ask"]')
    expect(ask).to_be_visible(timeout=WAIT_MS)
    page.locator(".run-button").click()
    page.locator('textarea[name="run_payload"]').fill(json.dumps({"order": "B-2"}))
    page.locator(".run-confirm").click()
    echo.arrivals.get(timeout=WAIT_S)
    echo.release.put(None)
    expect(page.locator(".run-state")).to_have_text("completed", timeout=WAIT_MS)

    # And: each node's last run and config are looked at
    for node_id in ("call", "ask"):
        page.locator(f'[data-testid="canvas-node"][data-node-id="{node_id}"]').click()
        page.get_by_role("tab", name="Last run").click()
        expect(page.locator(".node-result")).to_contain_text(REDACTED, timeout=WAIT_MS)
        pages[f"editor, last run of {node_id}"] = page.content()
    screenshot(page, "canary-editor")
    page.goto(f"{running_app.url}/credentials")
    expect(page.get_by_text("Canary", exact=True).first).to_be_visible(timeout=WAIT_MS)
    pages["credentials"] = page.content()

    # Then: the secret was really used, twice, and the stored outputs say [REDACTED]
    assert_canary_was_sent(server, runs=2)
    executions = api.get("/api/executions", params={"workflowId": workflow_id}).json()["items"]
    for item in executions:
        detail = api.get(f"/api/executions/{item['id']}").json()
        assert detail["status"] == "COMPLETED", detail
        order = detail["triggerData"]["data"]["order"]
        assert_redacted_outputs({r["nodeId"]: r["output"] for r in detail["nodes"]}, order)
    assert len(executions) == 2

    # And: the app sent the browser the outputs (redacted), never the canary
    texts = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in frames]
    assert any(REDACTED in text for text in texts), "no frame carried a node's output"
    for text in texts:
        assert_clean(text, f"a websocket frame: {text[:300]}")
    for name, html in pages.items():
        assert_clean(html, f"the HTML of the {name} page")
