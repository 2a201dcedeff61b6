"""Run now, the executions list (filters, pages) and one execution (live, timeline,
retry, cancel), in a real browser."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot
from workfuse.db import get_engine
from workfuse.models import Execution
from workfuse.ui.executions_state import PAGE_SIZE

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

WAIT_MS = 30_000
BUSY_JS = "let t = Date.now(); while (Date.now() - t < {ms}) {{}}\nreturn {value}"


def node(node_id: str, node_type: str, label: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": label, "config": config}}


def javascript(node_id: str, label: str, code: str) -> dict[str, Any]:
    return node(node_id, "transform", label, {"language": "javascript", "code": code})


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    wired = {"id": f"{source}-{target}", "source": source, "target": target}
    return {**wired, "sourceHandle": handle} if handle else wired


START = node("start", "trigger", "Start", {"source": "manual", "samplePayload": {"n": 21}})

DOUBLING = {
    "nodes": [
        START,
        node(
            "double", "transform", "Double", {"language": "jsonata", "code": "trigger.data.n * 2"}
        ),
        javascript("slow", "Slow", BUSY_JS.format(ms=600, value="nodes.double.result")),
    ],
    "edges": [edge("start", "double"), edge("double", "slow")],
}

#: start -> route: "big" (fails after 300 ms) or "small" (skipped).
FAILING_BRANCH = {
    "nodes": [
        START,
        node(
            "route",
            "condition",
            "Route",
            {
                "conditions": [
                    {
                        "field": "{{ trigger.data.n }}",
                        "operator": "gt",
                        "value": 10,
                        "branch": "big",
                    }
                ],
                "defaultBranch": "small",
            },
        ),
        javascript(
            "big",
            "Charge card",
            "let t = Date.now(); while (Date.now() - t < 300) {}\nthrow new Error('card declined')",
        ),
        node("small", "transform", "Log only", {"language": "jsonata", "code": "'ok'"}),
    ],
    "edges": [edge("start", "route"), edge("route", "big", "big"), edge("route", "small", "small")],
}

#: Five nodes of 2 s each: long enough to press Cancel while it runs.
SLOW_CHAIN = {
    "nodes": [
        START,
        *(javascript(f"step{i}", f"Step {i}", BUSY_JS.format(ms=2000, value=i)) for i in range(5)),
    ],
    "edges": [
        edge("start", "step0"),
        *(edge(f"step{i}", f"step{i + 1}") for i in range(4)),
    ],
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


def create(api: httpx.Client, name: str, graph: dict[str, Any]) -> str:
    created = api.post("/api/workflows", json={"name": name, "graph": graph})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def run(api: httpx.Client, workflow_id: str) -> str:
    started = api.post(f"/api/workflows/{workflow_id}/run")
    assert started.status_code == 202, started.text
    return str(started.json()["executionId"])


def wait_ended(api: httpx.Client, execution_id: str) -> str:
    deadline = time.monotonic() + 60
    while True:
        status = str(api.get(f"/api/executions/{execution_id}").json()["status"])
        if status in ("COMPLETED", "FAILED", "CANCELLED"):
            return status
        assert time.monotonic() < deadline, f"execution {execution_id} is still {status}"
        time.sleep(0.1)


def node_order(page: Page) -> list[str]:
    return [
        str(item)
        for item in page.locator(".node-row").evaluate_all(
            "rows => rows.map(row => row.dataset.node)"
        )
    ]


def test_run_now_opens_the_execution_and_it_completes_live(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client
) -> None:
    # Given: a workflow of the owner's
    create(api, "Doubling", DOUBLING)
    page = signed_in_page
    page.goto(running_app.url)
    row = page.locator(".workflow-row", has_text="Doubling")

    # When: the person presses Run on it
    row.get_by_role("button", name="Run now").click()

    # Then: the execution opens, and its nodes finish while they watch, in order
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-z]+/?$"), timeout=WAIT_MS)
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=WAIT_MS)
    expect(page.locator(".node-row")).to_have_count(3)
    assert node_order(page) == ["start", "double", "slow"]
    expect(page.locator(".timeline-bar")).to_have_count(3)
    expect(page.get_by_role("heading", name="Doubling")).to_be_visible()
    # And: the graph of the run shows every node coloured by its status
    graph_statuses = page.locator('.execution-graph [data-testid="node-status"]')
    expect(graph_statuses).to_have_count(3)
    for index in range(3):
        expect(graph_statuses.nth(index)).to_have_attribute("data-status", "SUCCEEDED")

    # And: a node opens on click, with its input and output
    page.locator(".node-row", has_text="Double").get_by_role("button").first.click()
    details = page.locator(".node-row", has_text="Double").locator(".node-details")
    expect(details).to_contain_text("42")
    expect(details).to_contain_text("Input")
    screenshot(page, "execution-detail")

    # And: after a reload it is the same
    page.reload()
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=WAIT_MS)
    expect(page.locator(".node-row")).to_have_count(3)

    # And: the executions list shows it
    page.get_by_role("link", name="Executions", exact=True).click()
    listed = page.locator(".execution-row", has_text="Doubling")
    expect(listed.first).to_be_visible(timeout=WAIT_MS)
    expect(listed.first).to_contain_text("completed")


def test_the_list_filters_by_workflow_status_and_time_and_pages_back(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client
) -> None:
    # Given: more runs of one workflow than fit on a page, one of them two days old
    total = PAGE_SIZE + 5
    workflow_id = create(api, "Paged", {"nodes": [START], "edges": []})
    executions = [run(api, workflow_id) for _ in range(total)]
    for execution_id in executions:
        assert wait_ended(api, execution_id) == "COMPLETED"
    with Session(get_engine(running_app.database_url)) as session:
        oldest = session.get(Execution, executions[0])
        assert oldest is not None
        oldest.started_at -= timedelta(days=2)
        session.add(oldest)
        session.commit()
    page = signed_in_page

    # When: the list opens for that workflow (the per-workflow address)
    page.goto(f"{running_app.url}/executions?workflow={workflow_id}")

    # Then: a full page, then the rest on the older one, and back
    rows = page.locator(".execution-row")
    expect(rows).to_have_count(PAGE_SIZE, timeout=WAIT_MS)
    expect(rows.filter(has_text="Paged")).to_have_count(PAGE_SIZE)
    expect(page.locator(".page")).to_have_text("Page 1")
    expect(page.get_by_role("button", name="Newer")).to_be_disabled()
    screenshot(page, "executions")
    page.get_by_role("button", name="Older").click()
    expect(page.locator(".page")).to_have_text("Page 2")
    expect(rows).to_have_count(total - PAGE_SIZE)
    expect(page.get_by_role("button", name="Older")).to_be_disabled()
    page.get_by_role("button", name="Newer").click()
    expect(page.locator(".page")).to_have_text("Page 1")
    expect(rows).to_have_count(PAGE_SIZE)

    # When: only the last 24 hours, Then the two-day-old run is gone from page 2
    page.get_by_role("combobox").nth(2).click()
    page.get_by_role("option", name="Last 24 hours").click()
    expect(page.locator(".page")).to_have_text("Page 1")
    page.get_by_role("button", name="Older").click()
    expect(rows).to_have_count(total - PAGE_SIZE - 1, timeout=WAIT_MS)

    # When: only failed runs, Then none, and the page says how to see them all
    page.get_by_role("combobox").nth(1).click()
    page.get_by_role("option", name="Failed").click()
    expect(page.get_by_text("No executions match these filters.")).to_be_visible(timeout=WAIT_MS)
    screenshot(page, "executions-filtered-empty")

    # Then: the address carries the filters, so a reload (or a shared link) keeps them
    address = f"/executions?workflow={workflow_id}&status=FAILED&range=24h"
    page.wait_for_function(
        "address => location.pathname + location.search === address", arg=address
    )
    page.reload()
    expect(page.get_by_text("No executions match these filters.")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("button", name="Clear filters").click()
    expect(rows).to_have_count(PAGE_SIZE, timeout=WAIT_MS)
    page.wait_for_function("() => location.pathname + location.search === '/executions'")

    # When: another workflow is chosen in the workflow filter, Then only its runs show
    page.get_by_role("combobox").nth(0).click()
    page.get_by_role("option", name="Paged").click()
    expect(rows.filter(has_text="Paged")).to_have_count(PAGE_SIZE, timeout=WAIT_MS)


def test_the_list_follows_a_running_execution_to_its_end(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client
) -> None:
    # Given: a run of about ten seconds, shown in the list of its workflow
    workflow_id = create(api, "Listed while running", SLOW_CHAIN)
    execution_id = run(api, workflow_id)
    page = signed_in_page
    page.goto(f"{running_app.url}/executions?workflow={workflow_id}")
    row = page.locator(".execution-row").filter(has=page.locator(f'a[href$="{execution_id}"]'))
    expect(row).to_contain_text("running", timeout=WAIT_MS)
    page.evaluate("window.__sameDocument = true")

    # When: the run ends, Then the same page (no reload) shows it completed
    expect(row).to_contain_text("completed", timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert wait_ended(api, execution_id) == "COMPLETED"


def test_a_failed_run_shows_its_timeline_and_retries_from_the_failed_node(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client
) -> None:
    # Given: a run that took the "big" branch, skipped "small", and failed in "big"
    workflow_id = create(api, "Card charges", FAILING_BRANCH)
    execution_id = run(api, workflow_id)
    assert wait_ended(api, execution_id) == "FAILED"
    page = signed_in_page

    # When: the person opens it
    page.goto(f"{running_app.url}/executions/{execution_id}")

    # Then: nodes in execution order (the skipped one where it falls, not first), with
    # bars for the nodes that ran and the failure open
    expect(page.locator(".execution-status")).to_contain_text("failed", timeout=WAIT_MS)
    expect(page.locator(".execution-error")).to_contain_text("card declined")
    order = node_order(page)
    assert order[:2] == ["start", "route"]
    assert set(order) == {"start", "route", "big", "small"}
    expect(page.locator(".node-row", has_text="Log only")).to_contain_text("skipped")
    expect(page.locator(".timeline-bar")).to_have_count(3)
    expect(
        page.locator(".node-row", has_text="Charge card").locator(".node-details")
    ).to_contain_text("card declined")
    screenshot(page, "execution-failed")

    # When: they retry from the failed node
    page.get_by_role("button", name="Retry from failed node").click()

    # Then: a new execution opens, linked to the first, reusing what succeeded
    expect(page).not_to_have_url(re.compile(f"/executions/{execution_id}/?$"), timeout=WAIT_MS)
    expect(page).to_have_url(re.compile(r"/executions/[0-9a-z]+/?$"))
    expect(page.locator(".retry-of")).to_have_attribute("href", f"/executions/{execution_id}")
    expect(page.locator(".execution-status")).to_contain_text("failed", timeout=WAIT_MS)
    expect(page.locator('.node-row[data-node="start"]')).to_contain_text("reused")
    expect(page.locator('.node-row[data-node="route"]')).to_contain_text("reused")
    expect(page.locator(".timeline-bar")).to_have_count(1)  # only "big" ran again
    screenshot(page, "execution-retried")
    retried_url = page.url

    # When: they retry that one from the start, Then another new execution runs every node
    page.get_by_role("button", name="Retry from start").click()
    expect(page).not_to_have_url(retried_url, timeout=WAIT_MS)
    expect(page.locator(".execution-status")).to_contain_text("failed", timeout=WAIT_MS)
    expect(page.locator(".timeline-bar")).to_have_count(3)


def test_cancel_stops_a_running_execution(
    running_app: RunningApp, signed_in_page: Page, api: httpx.Client
) -> None:
    # Given: a slow run, watched live
    workflow_id = create(api, "Slow chain", SLOW_CHAIN)
    execution_id = run(api, workflow_id)
    page = signed_in_page
    page.goto(f"{running_app.url}/executions/{execution_id}")
    expect(page.locator(".execution-status")).to_contain_text("running", timeout=WAIT_MS)
    expect(page.locator(".timeline-bar").first).to_be_visible(timeout=WAIT_MS)
    # the page shows one step running, then the next one (2 s later) without a reload:
    # updates from the worker (another process on the scaled setup) arrive live
    expect(page.locator('.node-row[data-node="step1"]')).to_contain_text("running", timeout=WAIT_MS)
    expect(page.locator('.node-row[data-node="step2"]')).to_contain_text("running", timeout=WAIT_MS)
    screenshot(page, "execution-running")

    # When: the person cancels it
    page.get_by_role("button", name="Cancel").click()

    # Then: it is cancelled, Cancel is gone, and the later steps never ran
    expect(page.locator(".execution-status")).to_contain_text("cancelled", timeout=WAIT_MS)
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    assert wait_ended(api, execution_id) == "CANCELLED"
    time.sleep(2.5)  # long enough for a step to have started, had the run gone on
    nodes = {item["nodeId"] for item in api.get(f"/api/executions/{execution_id}").json()["nodes"]}
    assert "step4" not in nodes
    expect(page.get_by_role("button", name="Retry from start")).to_be_visible()
    screenshot(page, "execution-cancelled")


def test_an_unknown_execution_says_so(running_app: RunningApp, signed_in_page: Page) -> None:
    signed_in_page.goto(f"{running_app.url}/executions/nosuchexecution")
    expect(signed_in_page.get_by_text("No such execution.")).to_be_visible(timeout=WAIT_MS)
