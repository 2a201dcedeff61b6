"""State of the executions pages: the list, and one execution followed live.

Only what the page shows goes to the browser (ids, names, statuses, times, outputs
as JSON text); node outputs are stored redacted by the engine. Handlers only call
services, as the signed-in user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session, col, select

from workfuse.db import session_scope
from workfuse.engine.events import FINAL_TYPES, ExecutionUpdate, UpdateType
from workfuse.models import Execution, ExecutionStatus, NodeRun, Workflow
from workfuse.services import executions as service
from workfuse.services.errors import NotFound
from workfuse.ui.session_state import SessionState

MAX_SHOWN_JSON = 20_000  #: characters of a node's output or error shown on the page
STATUS_FILTERS = ["ALL", *(status.value for status in ExecutionStatus)]

#: How a live update changes a node's shown status.
_NODE_STATUS = {
    UpdateType.NODE_STARTED: "RUNNING",
    UpdateType.NODE_COMPLETED: "SUCCEEDED",
    UpdateType.NODE_FAILED: "FAILED",
    UpdateType.NODE_SKIPPED: "SKIPPED",
    UpdateType.RETRYING: "RETRYING",
}
_EXECUTION_STATUS = {
    UpdateType.STARTED: "RUNNING",
    UpdateType.RETRYING: "RETRYING",
    UpdateType.COMPLETED: "COMPLETED",
    UpdateType.FAILED: "FAILED",
    UpdateType.CANCELLED: "CANCELLED",
}


@dataclass
class ExecutionRow:
    id: str
    workflow: str
    status: str
    started: str
    duration: str


@dataclass
class NodeRow:
    node_id: str
    status: str
    attempt: int
    duration: str
    output: str
    error: str


def _when(execution: Execution) -> str:
    return execution.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(milliseconds: int | None) -> str:
    return "" if milliseconds is None else f"{milliseconds} ms"


def _json(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_SHOWN_JSON else text[:MAX_SHOWN_JSON] + "\n…"


def _node_row(run: NodeRun) -> NodeRow:
    return NodeRow(
        node_id=run.node_id,
        status=run.status.value,
        attempt=run.attempt,
        duration=_duration(run.duration),
        output=_json(run.output),
        error=str((run.error or {}).get("message", "")),
    )


def _workflow_names(session: Session, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.exec(select(Workflow.id, Workflow.name).where(col(Workflow.id).in_(ids)))
    return dict(rows.all())


class ExecutionsState(SessionState):
    rows: list[ExecutionRow] = []
    status_filter: str = "ALL"
    loaded: bool = False

    @rx.var
    def has_rows(self) -> bool:
        return len(self.rows) > 0

    def load(self) -> EventSpec | None:
        """The user's latest executions (newest first), filtered by status."""
        with session_scope() as session:
            user = self._signed_in_user(session)
            if user is None:
                return self._to_sign_in()
            status = None if self.status_filter == "ALL" else ExecutionStatus(self.status_filter)
            page = service.list_executions(session=session, user=user, status=status)
            names = _workflow_names(session, {row.workflow_id for row in page.items})
            self.rows = [
                ExecutionRow(
                    id=row.id,
                    workflow=names.get(row.workflow_id, "(deleted)"),
                    status=row.status.value,
                    started=_when(row),
                    duration=_duration(row.duration),
                )
                for row in page.items
            ]
        self.loaded = True
        return None

    def set_status_filter(self, value: str) -> EventSpec | None:
        self.status_filter = value if value in STATUS_FILTERS else "ALL"
        return self.load()


class ExecutionDetailState(SessionState):
    """One execution: read from the database, then followed live until it ends."""

    execution_id: str = ""
    workflow: str = ""
    status: str = ""
    error: str = ""
    started: str = ""
    duration: str = ""
    nodes: list[NodeRow] = []
    missing: bool = False

    def _route_id(self) -> str:
        return self.router.url.path.rstrip("/").rsplit("/", 1)[-1]

    def load(self) -> EventSpec | list[EventSpec] | None:
        self.execution_id = self._route_id()
        with session_scope() as session:
            user = self._signed_in_user(session)
            if user is None:
                return self._to_sign_in()
            try:
                execution = service.get_execution(
                    session=session, user=user, execution_id=self.execution_id
                )
            except NotFound:
                self.missing = True
                return None
            self.missing = False
            self._show(session, execution)
        if self.status in ("COMPLETED", "FAILED", "CANCELLED"):
            return None
        return ExecutionDetailState.follow

    def _show(self, session: Session, execution: Execution) -> None:
        self.workflow = _workflow_names(session, {execution.workflow_id}).get(
            execution.workflow_id, "(deleted)"
        )
        self.status = execution.status.value
        self.error = execution.error or ""
        self.started = _when(execution)
        self.duration = _duration(execution.duration)
        self.nodes = [
            _node_row(run) for run in service.node_runs(session=session, execution=execution)
        ]

    @rx.event(background=True)  # type: ignore[operator]
    async def follow(self) -> None:
        """Apply live updates until the execution ends, then reload it from storage."""
        async with self:
            execution_id = self.execution_id
            with session_scope() as session:
                user = self._signed_in_user(session)
        if user is None:
            return
        async with service.follow_execution(user=user, execution_id=execution_id) as (
            snapshot,
            updates,
        ):
            async with self:
                self.status = snapshot.execution.status.value
                self.nodes = [_node_row(run) for run in snapshot.nodes.values()]
            if snapshot.execution.status.value not in ("COMPLETED", "FAILED", "CANCELLED"):
                async for update in updates:
                    async with self:
                        if self.execution_id != execution_id:
                            return  # the tab moved on to another execution
                        self._apply(update)
                    if update.type in FINAL_TYPES:
                        break
        async with self:
            with session_scope() as session:
                execution = session.get(Execution, execution_id)
                if execution is not None and self.execution_id == execution_id:
                    self._show(session, execution)

    def _apply(self, update: ExecutionUpdate) -> None:
        if update.type in _EXECUTION_STATUS:
            self.status = _EXECUTION_STATUS[update.type]
        node_status = _NODE_STATUS.get(update.type)
        if update.node_id is None or node_status is None:
            return
        data = update.data if isinstance(update.data, dict) else {}
        row = next((row for row in self.nodes if row.node_id == update.node_id), None)
        if row is None:
            row = NodeRow(update.node_id, node_status, 0, "", "", "")
            self.nodes = [*self.nodes, row]
        row.status = node_status
        row.attempt = int(data.get("attempt", row.attempt) or row.attempt)
        if "duration" in data:
            row.duration = _duration(data["duration"])
        if "output" in data:
            row.output = _json(data["output"])
        if "error" in data and isinstance(data["error"], dict):
            row.error = str(data["error"].get("message", ""))
        self.nodes = list(self.nodes)
