"""The app process crashes and starts again while two tabs watch an execution in flight:
the same pages (no reload) reconnect by themselves and show what happened meanwhile.

The run's HTTP node calls an endpoint of this test that answers only when the test
lets it, so the run is surely in flight when the app is killed (SIGKILL to its process
group: a crash, nothing closes cleanly). On the scaled setup the separate worker goes
on and finishes the run while the app is down; on the embedded one the run's worker
thread dies with the app, and the restarted app must resume it (the call in flight is
then made again: the one node a crash may repeat).

This test restarts the session's app (the next tests use the restarted one): a second
app building into the same ``.web`` while the first serves it could break both.
"""

from __future__ import annotations

import collections
import contextlib
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, func, select

from tests.chaos.harness import Tally
from tests.support.local_server import LocalServer, Request, Response
from tests.support.local_server import serve as serve_http
from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot
from tests.ui.test_executions_pages import START, create, edge, node, run
from workfuse.db import get_engine
from workfuse.models import Execution, ExecutionLog, ExecutionStatus

pytestmark = [pytest.mark.browser, pytest.mark.restarts_app, pytest.mark.timeout(900)]

WAIT_MS = 30_000
#: ms for the restarted app to show the final state (the run resumes on embedded).
RECONNECT_MS = 60_000
HOLD_MAX_S = 120.0  #: the longest the endpoint holds a call (a failed test lets go)
FINISH_S = 30.0  #: seconds the worker may take to finish the run while the app is down
MARKER = "window.__workfuseDocument"  #: set once in each tab: a reload would lose it


@dataclass
class HeldEndpoint:
    """``POST /answer``: ``{"answer": 21}``, once :meth:`release` lets calls through
    (at most :data:`HOLD_MAX_S` later); calls are counted by ``Idempotency-Key``
    (``<execution id>:<node id>``)."""

    server: LocalServer
    _open: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _calls: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def url(self) -> str:
        return f"{self.server.url}/answer"

    def handle(self, request: Request) -> Response:
        with self._lock:
            self._calls[request.headers.get("idempotency-key", "")] += 1
        self._open.wait(HOLD_MAX_S)
        return Response.json({"answer": 21})

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def calls(self, execution_id: str, node_id: str = "call") -> int:
        with self._lock:
            return self._calls[f"{execution_id}:{node_id}"]

    def wait_for_call(self, execution_id: str) -> None:
        deadline = time.monotonic() + WAIT_MS / 1000
        while self.calls(execution_id) == 0:
            assert time.monotonic() < deadline, f"{execution_id} never called the endpoint"
            time.sleep(0.05)


@contextlib.contextmanager
def held_endpoint() -> Iterator[HeldEndpoint]:
    routes: dict[str, Any] = {}
    with serve_http(routes) as server:
        endpoint = HeldEndpoint(server)
        routes["POST /answer"] = endpoint.handle
        try:
            yield endpoint
        finally:
            endpoint.release()  # no handler thread outlives the test


def calling(url: str) -> dict[str, Any]:
    """start -> call (HTTP, held by the test) -> double (the answer times two: 42)."""
    return {
        "nodes": [
            START,
            node("call", "http", "Ask", {"method": "POST", "url": url, "timeout": 150_000}),
            node(
                "double",
                "transform",
                "Double it",
                {"language": "jsonata", "code": "nodes.call.body.answer * 2"},
            ),
        ],
        "edges": [edge("start", "call"), edge("call", "double")],
    }


def status_in_database(app: RunningApp, execution_id: str) -> ExecutionStatus:
    with Session(get_engine(app.database_url)) as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None
        return execution.status


def successes_logged(app: RunningApp, execution_ids: list[str]) -> collections.Counter[str]:
    """How many times each ``<execution>:<node>`` logged its success (once per run)."""
    with Session(get_engine(app.database_url)) as session:
        rows = session.exec(
            select(ExecutionLog.execution_id, ExecutionLog.node_id, func.count())
            .where(
                col(ExecutionLog.execution_id).in_(execution_ids),
                col(ExecutionLog.message).contains("succeeded"),
            )
            .group_by(col(ExecutionLog.execution_id), col(ExecutionLog.node_id))
        ).all()
    return collections.Counter({f"{e}:{n}": int(count) for e, n, count in rows})


def expect_finished_run(page: Page) -> None:
    """The detail page shows the run completed: every node succeeded, 42 computed."""
    expect(page.locator(".execution-status")).to_contain_text("completed", timeout=RECONNECT_MS)
    for node_id in ("start", "call", "double"):
        expect(page.locator(f'.node-row[data-node="{node_id}"]')).to_contain_text("succeeded")
    statuses = page.locator('.execution-graph [data-testid="node-status"]')
    expect(statuses).to_have_count(3)
    for index in range(3):
        expect(statuses.nth(index)).to_have_attribute("data-status", "SUCCEEDED")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    row = page.locator('.node-row[data-node="double"]')
    if row.locator(".node-details").count() == 0:
        row.get_by_role("button").first.click()
    expect(row.locator(".node-details")).to_contain_text("42")


def test_pages_reconnect_after_an_app_crash_and_show_the_final_state(
    running_app: RunningApp, signed_in_page: Page, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally(f"app SIGKILLed and restarted while 2 tabs watch ({running_app.setup})")
    app = running_app.process
    with (
        held_endpoint() as endpoint,
        httpx.Client(base_url=running_app.url, timeout=10) as api,
    ):
        signed_in = api.post(
            "/api/auth/sign-in", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text

        # Given: a run in flight (its HTTP node waits for the endpoint), watched in one
        # tab, and the workflow's executions listed in another
        workflow_id = create(api, "Restart watch", calling(endpoint.url))
        first = run(api, workflow_id)
        detail = signed_in_page
        detail.goto(f"{running_app.url}/executions/{first}")
        expect(detail.locator('.node-row[data-node="call"]')).to_contain_text(
            "running", timeout=WAIT_MS
        )
        endpoint.wait_for_call(first)
        listing = detail.context.new_page()
        listing.goto(f"{running_app.url}/executions?workflow={workflow_id}")
        expect(listing.locator(".execution-row")).to_contain_text("running", timeout=WAIT_MS)
        for tab in (detail, listing):
            tab.evaluate(f"{MARKER} = 'the first load'")
        screenshot(detail, "restart-before")

        # When: the app crashes
        assert app.kill(signal.SIGKILL) is None, "the app had exited by itself"
        down = time.monotonic()
        endpoint.release()  # the call in flight (on embedded, of a dead thread) returns
        if running_app.setup == "scaled":
            # the worker goes on: the run finishes while no app is up
            deadline = time.monotonic() + FINISH_S
            while status_in_database(running_app, first) is not ExecutionStatus.COMPLETED:
                assert time.monotonic() < deadline, "the worker did not finish the run"
                time.sleep(0.1)
        else:
            time.sleep(0.5)
            assert status_in_database(running_app, first) is ExecutionStatus.RUNNING
        # the tabs say they lost the server
        expect(detail.get_by_text("Cannot connect to server")).to_be_visible(timeout=WAIT_MS)
        screenshot(detail, "restart-down")

        # And: it starts again on the same port
        app.start()
        up = time.monotonic()

        # Then: the same page reconnects by itself and shows the run completed
        expect_finished_run(detail)
        shown = time.monotonic()
        expect(detail.get_by_text("Cannot connect to server")).to_have_count(0)
        assert detail.evaluate(MARKER) == "the first load", "the page was reloaded"
        screenshot(detail, "restart-after")

        # And: the list reconnected too (it is not live: it shows the run as it was
        # when it reconnected, which on the scaled setup is after the run finished)
        rows = listing.locator(".execution-row")
        expect(rows).to_have_count(1, timeout=WAIT_MS)
        final_on_reconnect = "completed" if running_app.setup == "scaled" else "running|completed"
        expect(rows).to_contain_text(re.compile(final_on_reconnect))
        assert listing.evaluate(MARKER) == "the first load", "the list was reloaded"
        screenshot(listing, "restart-list-after")

        # When: a second run starts from that page, Then it streams there live
        endpoint.hold()
        detail.get_by_role("button", name="Retry from start").click()
        detail.wait_for_function(
            "first => !location.pathname.includes(first)", arg=first, timeout=WAIT_MS
        )
        path = str(detail.evaluate("location.pathname"))
        second = path.rstrip("/").rsplit("/", 1)[-1]
        assert second != first, path
        expect(detail.locator('.node-row[data-node="call"]')).to_contain_text(
            "running", timeout=WAIT_MS
        )
        expect(detail.locator(".execution-status")).to_contain_text("running")
        endpoint.wait_for_call(second)
        endpoint.release()
        expect_finished_run(detail)
        assert detail.evaluate(MARKER) == "the first load", "the page was reloaded"

        # And: the executions list shows both runs completed
        detail.get_by_role("link", name="Runs of this workflow").click()
        rows = detail.locator(".execution-row")
        expect(rows).to_have_count(2, timeout=WAIT_MS)
        for index in range(2):
            expect(rows.nth(index)).to_contain_text("completed")
        assert detail.evaluate(MARKER) == "the first load", "the page was reloaded"
        screenshot(detail, "restart-list-final")

        sent = [first, second]
        logged = successes_logged(running_app, sent)
        calls = {execution_id: endpoint.calls(execution_id) for execution_id in sent}
    final = {execution_id: status_in_database(running_app, execution_id) for execution_id in sent}
    tally.count(final, sent)
    tally.duplicates = sum(count - 1 for count in logged.values() if count > 1)
    tally.notes = {
        "calls repeated": sum(count > 1 for count in calls.values()),
        "up s after kill": round(up - down, 1),
        "final state shown s after up": round(shown - up, 1),
    }
    tally.report(capsys)
    assert tally.lost == 0 and tally.completed == len(sent), final
    assert tally.duplicates == 0, logged
    assert calls[second] == 1, calls
    assert calls[first] == (1 if running_app.setup == "scaled" else 2), calls
