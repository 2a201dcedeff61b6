"""State of the executions pages: the filtered, paginated list, and one execution
followed live with its timeline, retry and cancel.

Only what the page shows goes to the browser (ids, names, statuses, times, inputs and
outputs as JSON text); node inputs and outputs are stored redacted by the engine.
Handlers only call services, as the signed-in user; a refusal is shown as its message.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session

from workfuse import web_paths
from workfuse.db import session_scope
from workfuse.db_types import utcnow
from workfuse.engine.events import FINAL_TYPES, ExecutionUpdate, UpdateType
from workfuse.graph import ValidationResult
from workfuse.models import Execution, ExecutionStatus, NodeRun, User
from workfuse.services import executions as service
from workfuse.services import workflows as workflow_service
from workfuse.services.errors import NotFound
from workfuse.ui.editor import draft as drafts
from workfuse.ui.live_updates import (
    EXECUTION_STATUS,
    FINISHED,
    NODE_STATUS,
    shown_json,
)
from workfuse.ui.session_state import SessionState

PAGE_SIZE = 20  #: executions per page of the list
MAX_WORKFLOW_OPTIONS = 500  #: workflows offered in the list's filter (most recently updated)
LIST_REFRESH_S = 2.0  #: seconds between two reads of a shown list page with unfinished runs
LIST_WATCH_MAX_S = 15 * 60.0  #: seconds one watch of the list lasts at most (a closed tab)
ALL = "ALL"
STATUS_FILTERS = [ALL, *(status.value for status in ExecutionStatus)]

#: The list's time ranges: value, label, how far back (``None``: no limit).
TIME_RANGES: list[tuple[str, str, timedelta | None]] = [
    ("1h", "Last hour", timedelta(hours=1)),
    ("24h", "Last 24 hours", timedelta(hours=24)),
    ("7d", "Last 7 days", timedelta(days=7)),
    ("30d", "Last 30 days", timedelta(days=30)),
    ("all", "All time", None),
]
_RANGE_DELTAS = {value: delta for value, _, delta in TIME_RANGES}
DEFAULT_RANGE = "all"
_ACTIVE = frozenset({"PENDING", "RUNNING", "RETRYING"})
#: Shown status of a node of the graph with no run on record: still to come, or never.
WAITING, NOT_RUN = "PENDING", "NOT_RUN"
_BAR_NOTES = {"SKIPPED": "skipped", WAITING: "waiting", NOT_RUN: "no run on record"}


@dataclass
class ExecutionRow:
    id: str
    url: str
    workflow: str
    status: str
    started: str
    started_iso: str
    duration: str
    is_retry: bool


@dataclass
class WorkflowOption:
    id: str
    name: str


@dataclass
class NodeRow:
    """One node of an execution; ``bar_*`` place its timeline bar (CSS percentages)."""

    node_id: str
    label: str
    type: str
    status: str
    attempt: int
    duration: str
    input: str
    output: str
    error: str
    offset_ms: int = -1  #: start, relative to the execution's start; -1: never started
    duration_ms: int = -1  #: -1: not finished
    reused: bool = False  #: copied from the execution this one retries
    bar_left: str = "0%"
    bar_width: str = "0%"
    bar_note: str = ""


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_duration(milliseconds: int | None) -> str:
    """``842 ms``, ``3.4 s``, ``2 min 5 s``; ``""`` for ``None``."""
    if milliseconds is None or milliseconds < 0:
        return ""
    if milliseconds < 1000:
        return f"{milliseconds} ms"
    if milliseconds < 60_000:
        return f"{milliseconds / 1000:.1f} s"
    minutes, seconds = divmod(round(milliseconds / 1000), 60)
    return f"{minutes} min {seconds} s"


def _ms_between(start: datetime, end: datetime) -> int:
    return round((end - start).total_seconds() * 1000)


def _node_row(run: NodeRun, execution: Execution, labels: dict[str, list[str]]) -> NodeRow:
    label, node_type = labels.get(run.node_id, [run.node_id, ""])
    reused = run.started_at is not None and run.started_at < execution.started_at
    offset = -1
    if run.started_at is not None and not reused:
        offset = _ms_between(execution.started_at, run.started_at)
    return NodeRow(
        node_id=run.node_id,
        label=label,
        type=node_type,
        status=run.status.value,
        attempt=run.attempt,
        duration=format_duration(run.duration),
        input=shown_json(run.input),
        output=shown_json(run.output),
        error=str((run.error or {}).get("message", "")),
        offset_ms=offset,
        duration_ms=-1 if run.duration is None else run.duration,
        reused=reused,
    )


def lay_out_timeline(rows: list[NodeRow], total_ms: int) -> None:
    """Set each row's bar: offset and width as percentages of the longest of
    ``total_ms`` and the last node's end. A node still running reaches the right edge;
    a skipped, waiting or reused node gets no bar, only a note.

    Limit: a node shorter than 0.5 % of the span is drawn at that minimum width.
    """
    ends = [row.offset_ms + max(row.duration_ms, 0) for row in rows if row.offset_ms >= 0]
    span = max([total_ms, *ends, 1])
    for row in rows:
        row.bar_note = ""
        if row.reused:
            row.bar_left, row.bar_width, row.bar_note = "0%", "0%", "reused from the retried run"
            continue
        if row.offset_ms < 0:
            row.bar_left, row.bar_width = "0%", "0%"
            row.bar_note = _BAR_NOTES.get(row.status, "start not recorded")
            continue
        left = 100 * row.offset_ms / span
        width = 100 - left if row.duration_ms < 0 else max(100 * row.duration_ms / span, 0.5)
        left = min(left, 99.5)
        row.bar_left, row.bar_width = f"{left:.2f}%", f"{min(width, 100 - left):.2f}%"


class ExecutionsState(SessionState):
    """The list: newest first, filtered by workflow, status and time, one page at a time."""

    rows: list[ExecutionRow] = []
    workflows: list[WorkflowOption] = []
    status_filter: str = ALL
    workflow_filter: str = ALL
    range_filter: str = DEFAULT_RANGE
    page_number: int = 1
    has_older: bool = False
    loaded: bool = False
    error: str = ""

    _cursors: list[str] = []  #: the cursor of each page after the first, as walked so far
    _next_cursor: str = ""
    _since: datetime | None = None
    #: Unix time until which a :meth:`watch` loop holds this tab's watch (renewed each
    #: pass, so a loop that died with its process frees it within seconds).
    _watch_lease: float = 0.0

    @rx.var
    def has_rows(self) -> bool:
        return len(self.rows) > 0

    @rx.var
    def filtered(self) -> bool:
        return (
            self.status_filter != ALL
            or self.workflow_filter != ALL
            or self.range_filter != DEFAULT_RANGE
        )

    def load(self) -> EventSpec | None:
        """On opening the page: filters from the address (``?workflow=<id>&status=FAILED
        &range=24h``; anything unknown means no filter), then the first page."""
        params = self.router.url.query_parameters
        status = str(params.get("status", ALL)).upper()
        self.status_filter = status if status in STATUS_FILTERS else ALL
        self.workflow_filter = str(params.get("workflow", "")) or ALL
        time_range = str(params.get("range", DEFAULT_RANGE))
        self.range_filter = time_range if time_range in _RANGE_DELTAS else DEFAULT_RANGE
        return self._first_page(with_workflows=True) or ExecutionsState.watch

    def set_status_filter(self, value: str) -> EventSpec | list[EventSpec]:
        self.status_filter = value if value in STATUS_FILTERS else ALL
        return self._refiltered()

    def set_workflow_filter(self, value: str) -> EventSpec | list[EventSpec]:
        self.workflow_filter = value or ALL
        return self._refiltered()

    def set_range_filter(self, value: str) -> EventSpec | list[EventSpec]:
        self.range_filter = value if value in _RANGE_DELTAS else DEFAULT_RANGE
        return self._refiltered()

    def clear_filters(self) -> EventSpec | list[EventSpec]:
        self.status_filter, self.workflow_filter, self.range_filter = ALL, ALL, DEFAULT_RANGE
        return self._refiltered()

    def _refiltered(self) -> EventSpec | list[EventSpec]:
        """The first page under the new filters, and the address changed to match (in
        place: reloading, sharing or going back to the page keeps the filters)."""
        redirect = self._first_page()
        if redirect is not None:
            return redirect
        address = json.dumps(self._filters_url())
        replace = rx.call_script(f"window.history.replaceState(null, '', {address})")
        return [replace, ExecutionsState.watch]

    def _filters_url(self) -> str:
        """``/executions`` with the filters that differ from the defaults as its query."""
        query = {
            key: value
            for key, value, default in (
                ("workflow", self.workflow_filter, ALL),
                ("status", self.status_filter, ALL),
                ("range", self.range_filter, DEFAULT_RANGE),
            )
            if value != default
        }
        return web_paths.EXECUTIONS + (f"?{urlencode(query)}" if query else "")

    def older(self) -> EventSpec | None:
        """The next page back in time (keyset: the last row's cursor)."""
        if not self._next_cursor:
            return None
        self._cursors = [*self._cursors, self._next_cursor]
        return self._fetch() or ExecutionsState.watch

    def newer(self) -> EventSpec | None:
        """The page before (or the first, newest page)."""
        if not self._cursors:
            return None
        self._cursors = self._cursors[:-1]
        return self._fetch() or ExecutionsState.watch

    @rx.event(background=True)  # type: ignore[operator]
    async def watch(self) -> EventSpec | None:
        """While the page shown has unfinished executions, read it again every
        :data:`LIST_REFRESH_S`, so their statuses and durations follow the runs. Ends
        when none is left, when the tab shows another page, or after
        :data:`LIST_WATCH_MAX_S` (the next page change or filter starts it again);
        one loop per tab."""
        async with self:
            if time.time() < self._watch_lease or not self._has_unfinished():
                return None
            self._watch_lease = time.time() + 3 * LIST_REFRESH_S
        try:
            deadline = time.monotonic() + LIST_WATCH_MAX_S
            while time.monotonic() < deadline:
                await asyncio.sleep(LIST_REFRESH_S)
                async with self:
                    if self.router.url.path.rstrip("/") != web_paths.EXECUTIONS:
                        return None
                    self._watch_lease = time.time() + 3 * LIST_REFRESH_S
                    redirect = self._fetch()
                    if redirect is not None or not self._has_unfinished():
                        return redirect
            return None
        finally:
            async with self:
                self._watch_lease = 0.0

    def _has_unfinished(self) -> bool:
        return any(row.status in _ACTIVE for row in self.rows)

    def _first_page(self, *, with_workflows: bool = False) -> EventSpec | None:
        delta = _RANGE_DELTAS.get(self.range_filter)
        self._since = None if delta is None else utcnow() - delta
        self._cursors = []
        return self._fetch(with_workflows=with_workflows)

    def _fetch(self, *, with_workflows: bool = False) -> EventSpec | None:
        self.error = ""
        with self._unit_of_work(error_var="error") as work:
            user = work.user
            if with_workflows:
                self._load_workflow_options(work.session, user)
            status = None if self.status_filter == ALL else ExecutionStatus(self.status_filter)
            page = service.list_executions(
                session=work.session,
                user=user,
                workflow_id=None if self.workflow_filter == ALL else self.workflow_filter,
                status=status,
                started_after=self._since,
                limit=PAGE_SIZE,
                cursor=self._cursors[-1] if self._cursors else None,
            )
            names = workflow_service.workflow_names(
                session=work.session,
                user=user,
                workflow_ids={row.workflow_id for row in page.items},
            )
            self.rows = [_execution_row(row, names) for row in page.items]
            self._next_cursor = page.next_cursor or ""
        if work.error is not None:
            self.rows, self._cursors = [], []
        if not work.done:
            return work.redirect
        self.has_older = self._next_cursor != ""
        self.page_number = len(self._cursors) + 1
        self.loaded = True
        return None

    def _load_workflow_options(self, session: Session, user: User) -> None:
        workflows = workflow_service.list_workflows(
            session=session, user=user, limit=MAX_WORKFLOW_OPTIONS
        )
        self.workflows = [WorkflowOption(id=item.id, name=item.name) for item in workflows]
        if self.workflow_filter != ALL and self.workflow_filter not in {
            item.id for item in workflows
        }:
            self.error = "That workflow does not exist (or is not yours); showing all."
            self.workflow_filter = ALL


def _execution_row(execution: Execution, names: dict[str, str]) -> ExecutionRow:
    return ExecutionRow(
        id=execution.id,
        url=web_paths.execution(execution.id),
        workflow=names.get(execution.workflow_id, "(unknown workflow)"),
        status=execution.status.value,
        started=_when(execution.started_at),
        started_iso=execution.started_at.isoformat(),
        duration=format_duration(execution.duration),
        is_retry=execution.retry_of_id is not None,
    )


class ExecutionDetailState(SessionState):
    """One execution: read from the database, then followed live until it ends."""

    execution_id: str = ""
    workflow: str = ""
    workflow_url: str = ""
    workflow_executions_url: str = ""
    version: int = 0
    status: str = ""
    error: str = ""
    started: str = ""
    duration: str = ""
    total_ms: int = 0
    retry_of_url: str = ""
    nodes: list[NodeRow] = []
    open_nodes: list[str] = []
    missing: bool = False
    action_error: str = ""
    busy: bool = False

    graph_nodes: list[dict[str, Any]] = []
    graph_edges: list[dict[str, Any]] = []
    _graph_json: str = ""
    _labels: dict[str, list[str]] = {}  #: node id -> [label, type] of the pinned version
    _graph_order: list[str] = []
    _started_at: datetime | None = None

    @rx.var
    def is_active(self) -> bool:
        return self.status in _ACTIVE

    @rx.var
    def can_retry(self) -> bool:
        return self.status in FINISHED

    @rx.var
    def can_retry_failed(self) -> bool:
        return self.status == "FAILED"

    @rx.var
    def timeline_scale(self) -> list[str]:
        """Labels under the timeline: 0, the middle and the end of its span."""
        ends = [row.offset_ms + max(row.duration_ms, 0) for row in self.nodes if row.offset_ms >= 0]
        span = max([self.total_ms, *ends, 1])
        return ["0", format_duration(span // 2), format_duration(span)]

    def _route_id(self) -> str:
        return self.router.url.path.rstrip("/").rsplit("/", 1)[-1]

    def load(self) -> EventSpec | list[EventSpec] | None:
        """Read the execution from the database; follow it live if it has not ended."""
        self.execution_id = self._route_id()
        self.action_error = ""
        self.busy = False
        with self._unit_of_work() as work:
            user = work.user
            try:
                execution = service.get_execution(
                    session=work.session, user=user, execution_id=self.execution_id
                )
            except NotFound:
                self.missing = True
                return None
            self.missing = False
            self._show(work.session, user, execution)
            self.open_nodes = [row.node_id for row in self.nodes if row.status == "FAILED"]
        if not work.done:
            return work.redirect
        if self.status in FINISHED:
            return None
        return ExecutionDetailState.follow

    def _show(self, session: Session, user: User, execution: Execution) -> None:
        pinned = service.pinned_nodes(session=session, execution=execution)
        self._labels = {node.id: [node.label, node.type] for node in pinned}
        self._graph_order = [node.id for node in pinned]
        names = workflow_service.workflow_names(
            session=session, user=user, workflow_ids=[execution.workflow_id]
        )
        self.workflow = names.get(execution.workflow_id, "(deleted workflow)")
        self.workflow_url = web_paths.workflow(execution.workflow_id)
        self.workflow_executions_url = f"{web_paths.EXECUTIONS}?workflow={execution.workflow_id}"
        self.version = execution.workflow_version
        self.retry_of_url = (
            web_paths.execution(execution.retry_of_id) if execution.retry_of_id else ""
        )
        graph = service.pinned_graph(session=session, execution=execution)
        self._graph_json = json.dumps(graph) if graph is not None else ""
        self._show_runs(execution, service.node_runs(session=session, execution=execution))

    def _show_runs(self, execution: Execution, runs: list[NodeRun]) -> None:
        self._started_at = execution.started_at
        self.status = execution.status.value
        self.error = execution.error or ""
        self.started = _when(execution.started_at)
        self.duration = format_duration(execution.duration)
        active = execution.status.value in _ACTIVE
        self.total_ms = execution.duration or 0
        if active:
            self.total_ms = max(0, _ms_between(execution.started_at, utcnow()))
        ordered = service.in_execution_order(runs, self._graph_order)
        rows = [_node_row(run, execution, self._labels) for run in ordered]
        ran = {run.node_id for run in runs}
        rows += [
            self._placeholder(node_id, WAITING if active else NOT_RUN)
            for node_id in self._graph_order
            if node_id not in ran
        ]
        self.nodes = rows
        lay_out_timeline(self.nodes, self.total_ms)
        self._draw_graph()

    def _draw_graph(self) -> None:
        """The pinned graph, each node coloured by its status in this run."""
        if not self._graph_json:
            self.graph_nodes, self.graph_edges = [], []
            return
        graph = drafts.laid_out(json.loads(self._graph_json))
        statuses = {row.node_id: row.status for row in self.nodes if row.status != NOT_RUN}
        nothing_wrong = ValidationResult()
        self.graph_nodes = drafts.canvas_nodes(graph, nothing_wrong, statuses, "")
        self.graph_edges = drafts.canvas_edges(graph, nothing_wrong, statuses, "")

    def select_graph_node(self, item: dict[str, Any]) -> None:
        """A node clicked on the graph: open its row (input, output, error)."""
        node_id = str(item.get("id") or "")
        if item.get("kind") == "node" and node_id not in self.open_nodes:
            self.open_nodes = [*self.open_nodes, node_id]

    def _placeholder(self, node_id: str, status: str) -> NodeRow:
        """A row for a node of the graph that has no run on record."""
        label, node_type = self._labels.get(node_id, [node_id, ""])
        return NodeRow(node_id, label, node_type, status, 0, "", "", "", "")

    def toggle_node(self, node_id: str) -> None:
        """Show or hide a node's input, output and error."""
        if node_id in self.open_nodes:
            self.open_nodes = [item for item in self.open_nodes if item != node_id]
        else:
            self.open_nodes = [*self.open_nodes, node_id]

    def cancel(self) -> EventSpec | list[EventSpec] | None:
        """Stop the execution before its next node (a running node finishes first)."""
        self.action_error = ""
        with self._unit_of_work(error_var="action_error") as work:
            execution = service.cancel_execution(
                session=work.session, user=work.user, execution_id=self.execution_id
            )
            self._show(work.session, work.user, execution)
        if not work.done:
            return work.redirect
        return rx.toast("Execution cancelled")

    def retry_from_start(self) -> EventSpec | None:
        return self._retry(from_failed_node=False)

    def retry_from_failed_node(self) -> EventSpec | None:
        return self._retry(from_failed_node=True)

    def _retry(self, *, from_failed_node: bool) -> EventSpec | None:
        """Start a new execution of the same version and payload and open it; from the
        failed node, the nodes that succeeded are reused, not run again."""
        self.action_error = ""
        self.busy = True
        with self._unit_of_work(error_var="action_error") as work:
            new = service.retry_execution(
                session=work.session,
                user=work.user,
                execution_id=self.execution_id,
                from_failed_node=from_failed_node,
            )
            new_id = new.id
        if work.error is not None:
            self.busy = False
        if not work.done:
            return work.redirect
        return rx.redirect(web_paths.execution(new_id))

    @rx.event(background=True)  # type: ignore[operator]
    async def follow(self) -> None:
        """Apply live updates until the execution ends, then reload it from storage."""
        async with self:
            execution_id = self.execution_id
            with session_scope() as session:
                user = self._signed_in_user(session)
        if user is None:
            return
        try:
            async with service.follow_execution(user=user, execution_id=execution_id) as (
                snapshot,
                updates,
            ):
                async with self:
                    if self.execution_id != execution_id:
                        return
                    self._show_runs(snapshot.execution, list(snapshot.nodes.values()))
                if snapshot.execution.status.value not in FINISHED:
                    async for update in updates:
                        async with self:
                            if self.execution_id != execution_id:
                                return  # the tab moved on to another execution
                            self._apply(update)
                        if update.type in FINAL_TYPES:
                            break
        except NotFound:
            return
        async with self:
            if self.execution_id != execution_id:
                return
            with session_scope() as session:
                try:
                    execution = service.get_execution(
                        session=session, user=user, execution_id=execution_id
                    )
                except NotFound:
                    self.missing = True
                    return
                self._show(session, user, execution)

    def _apply(self, update: ExecutionUpdate) -> None:
        if update.type in EXECUTION_STATUS:
            self.status = EXECUTION_STATUS[update.type]
        node_status = NODE_STATUS.get(update.type)
        if update.node_id is None or node_status is None:
            return
        data = update.data if isinstance(update.data, dict) else {}
        row = next((row for row in self.nodes if row.node_id == update.node_id), None)
        if row is None:
            row = self._placeholder(update.node_id, node_status)
            self.nodes = [*self.nodes, row]
        row.status = node_status
        row.attempt = int(data.get("attempt", row.attempt) or row.attempt)
        if update.type is UpdateType.NODE_STARTED and self._started_at is not None:
            row.offset_ms = max(0, _ms_between(self._started_at, update.timestamp))
            row.duration_ms, row.duration = -1, ""
        if "duration" in data:
            row.duration_ms = int(data["duration"])
            row.duration = format_duration(row.duration_ms)
            if row.offset_ms < 0 and self._started_at is not None:
                # Its start came before this tab subscribed: count back from its end.
                ended = _ms_between(self._started_at, update.timestamp)
                row.offset_ms = max(0, ended - row.duration_ms)
        if "output" in data:
            row.output = shown_json(data["output"])
        if "error" in data and isinstance(data["error"], dict):
            row.error = str(data["error"].get("message", ""))
        if self._started_at is not None:
            self.total_ms = max(self.total_ms, _ms_between(self._started_at, update.timestamp))
        # Nodes that have started or were skipped, in arrival order, then those waiting.
        self.nodes = [row for row in self.nodes if row.status != WAITING] + [
            row for row in self.nodes if row.status == WAITING
        ]
        lay_out_timeline(self.nodes, self.total_ms)
        self._draw_graph()
