"""Executions: start, read, list, cancel and retry (the seed's ``executions.*``).

``start_execution`` stores the execution (PENDING, the trigger payload, the pinned
workflow version) and commits *before* it sends the message, so a broker that is down
loses nothing: the execution waits for the reconciler. Reads and changes take the
acting user; another user's execution is :class:`NotFound`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workfuse.db import session_scope
from workfuse.db_types import MAX_JSON_DEPTH, json_too_deep, utcnow
from workfuse.engine.broker import send as send
from workfuse.engine.events import ExecutionUpdate, UpdateType, get_event_bus
from workfuse.engine.plan import PlanNotFound, load_plan
from workfuse.engine.state import TERMINAL, transition
from workfuse.models import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    NodeRun,
    NodeRunStatus,
    User,
    Workflow,
    WorkflowVersion,
)
from workfuse.nodes.registry import REGISTRY
from workfuse.services.errors import (
    UNSTORABLE_TEXT,
    Conflict,
    InvalidInput,
    NotFound,
    reject_unstorable_text,
)
from workfuse.services.workflows import ensure_runnable, get_workflow

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class ExecutionPage:
    items: list[Execution]
    next_cursor: str | None


def start_execution(
    *,
    session: Session,
    workflow: Workflow,
    trigger: dict[str, Any],
    idempotency_key: str | None = None,
    retry_of: Execution | None = None,
) -> Execution:
    """Store a PENDING execution of ``workflow`` (which must be valid), commit, enqueue.

    With ``idempotency_key``, a second call with the same key for the same workflow
    returns the first execution and starts nothing. Commits ``session``.
    """
    ensure_runnable(workflow)
    if idempotency_key is not None:
        existing = execution_by_idempotency_key(session, workflow.id, idempotency_key)
        if existing is not None:
            return existing
    execution = Execution(
        status=ExecutionStatus.PENDING,
        trigger_data=trigger,
        workflow_version=workflow.version,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        idempotency_key=idempotency_key,
        retry_of_id=retry_of.id if retry_of is not None else None,
    )
    session.add(execution)
    try:
        session.commit()
    except IntegrityError:  # the same key, at the same moment
        session.rollback()
        existing = execution_by_idempotency_key(session, workflow.id, idempotency_key or "")
        if existing is None:
            raise
        return existing
    send(execution.id)
    return execution


def execution_by_idempotency_key(session: Session, workflow_id: str, key: str) -> Execution | None:
    """The workflow's execution started with idempotency key ``key``, if any."""
    return session.exec(
        select(Execution).where(
            Execution.workflow_id == workflow_id, Execution.idempotency_key == key
        )
    ).first()


def run_workflow(
    *, session: Session, user: User, workflow_id: str, payload: Any = None
) -> Execution:
    """ "Run now": a manual run of the user's workflow with a test payload (by default
    the trigger's ``samplePayload``)."""
    workflow = get_workflow(session=session, user=user, workflow_id=workflow_id)
    if payload is None:
        payload = _sample_payload(workflow)
    if json_too_deep(payload):
        raise InvalidInput(f"the payload is nested more than {MAX_JSON_DEPTH} levels deep")
    reject_unstorable_text(payload, "the payload")
    trigger = {"source": "manual", "data": payload, "headers": {}}
    return start_execution(session=session, workflow=workflow, trigger=trigger)


def _sample_payload(workflow: Workflow) -> Any:
    trigger = REGISTRY.trigger_node(workflow.graph.get("nodes") or [])
    return (((trigger or {}).get("data") or {}).get("config") or {}).get("samplePayload") or {}


def get_execution(*, session: Session, user: User, execution_id: str) -> Execution:
    execution = session.get(Execution, execution_id)
    if execution is None or execution.user_id != user.id:
        raise NotFound(f"execution {execution_id} not found")
    return execution


def node_runs(*, session: Session, execution: Execution) -> list[NodeRun]:
    query = select(NodeRun).where(NodeRun.execution_id == execution.id)
    return list(session.exec(query.order_by(col(NodeRun.started_at), col(NodeRun.node_id))))


@dataclass(frozen=True)
class PinnedNode:
    """A node of the graph version an execution runs (for labels and order)."""

    id: str
    label: str
    type: str


def pinned_nodes(*, session: Session, execution: Execution) -> list[PinnedNode]:
    """The nodes of the execution's pinned workflow version, in graph order (the
    engine's deterministic topological order); ``[]`` if that version is gone."""
    try:
        plan = load_plan(session, execution.workflow_id, execution.workflow_version)
    except PlanNotFound:
        return []
    return [
        PinnedNode(id=node_id, label=plan.nodes[node_id].label, type=plan.nodes[node_id].spec.type)
        for node_id in plan.order
    ]


def pinned_graph(*, session: Session, execution: Execution) -> dict[str, Any] | None:
    """The stored graph (``{nodes, edges}``, with positions) of the version the
    execution ran, or ``None`` if that version is gone."""
    version = session.exec(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == execution.workflow_id,
            WorkflowVersion.version == execution.workflow_version,
        )
    ).first()
    return dict(version.graph) if version is not None else None


def in_execution_order(runs: Iterable[NodeRun], graph_order: Sequence[str]) -> list[NodeRun]:
    """``runs`` sorted by start time; a run that never started (skipped, or waiting)
    sits right after the run before it in ``graph_order``, which also breaks ties.

    Runs of nodes missing from ``graph_order`` come after the others, by node id.
    Limit: start times are the engine's clock, to the microsecond.
    """
    rank = {node_id: index for index, node_id in enumerate(graph_order)}
    by_graph = sorted(runs, key=lambda run: (rank.get(run.node_id, len(rank)), run.node_id))
    keys: dict[str, tuple[datetime, int]] = {}
    carried = datetime.min
    for index, run in enumerate(by_graph):
        if run.node_id not in rank:
            keys[run.node_id] = (datetime.max, index)
            continue
        if run.started_at is not None:
            carried = run.started_at.replace(tzinfo=None)
        keys[run.node_id] = (carried, index)
    return sorted(by_graph, key=lambda run: keys[run.node_id])


def latest_executions(
    *, session: Session, user: User, workflow_ids: Iterable[str]
) -> dict[str, Execution]:
    """The newest execution of each of the user's ``workflow_ids`` (by start time), in
    one query; workflows that never ran are absent.

    Limit: the database ranks every execution of those workflows (a window function
    over the ``(user, started)`` index), so very long histories make it slower.
    """
    ids = list(set(workflow_ids))
    if not ids:
        return {}
    newest_first = sa.func.row_number().over(
        partition_by=col(Execution.workflow_id),
        order_by=(col(Execution.started_at).desc(), col(Execution.id).desc()),
    )
    ranked = (
        select(col(Execution.id).label("id"), newest_first.label("position"))
        .where(Execution.user_id == user.id, col(Execution.workflow_id).in_(ids))
        .subquery()
    )
    query = (
        select(Execution)
        .join(ranked, ranked.c.id == col(Execution.id))
        .where(ranked.c.position == 1)
    )
    return {execution.workflow_id: execution for execution in session.exec(query)}


def execution_logs(*, session: Session, execution: Execution) -> list[ExecutionLog]:
    query = select(ExecutionLog).where(ExecutionLog.execution_id == execution.id)
    return list(session.exec(query.order_by(col(ExecutionLog.timestamp), col(ExecutionLog.id))))


def list_executions(
    *,
    session: Session,
    user: User,
    workflow_id: str | None = None,
    status: ExecutionStatus | None = None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> ExecutionPage:
    """Newest first, keyset-paginated: pass ``next_cursor`` back for the next page."""
    query = select(Execution).where(Execution.user_id == user.id)
    if workflow_id is not None:
        query = query.where(Execution.workflow_id == workflow_id)
    if status is not None:
        query = query.where(Execution.status == status)
    if started_after is not None:
        query = query.where(col(Execution.started_at) >= started_after)
    if started_before is not None:
        query = query.where(col(Execution.started_at) < started_before)
    if cursor:
        started, last_id = _decode_cursor(cursor)
        # A row-value comparison, which both databases answer from the
        # (user_id, started_at, id) index: a deep page costs what the first one does.
        query = query.where(
            sa.tuple_(col(Execution.started_at), col(Execution.id)) < (started, last_id)
        )
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    rows = list(
        session.exec(
            query.order_by(col(Execution.started_at).desc(), col(Execution.id).desc()).limit(
                limit + 1
            )
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode_cursor(rows[-1]) if more and rows else None
    return ExecutionPage(items=rows, next_cursor=next_cursor)


def _encode_cursor(execution: Execution) -> str:
    raw = json.dumps([execution.started_at.isoformat(), execution.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (started_at, id) a cursor of :func:`_encode_cursor` holds. Anything else is
    :class:`InvalidInput`, never a database error: a time without an offset or outside
    the years 1-9999 in UTC, an id that is not text the database can compare."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, last_id = json.loads(raw)
        moment = datetime.fromisoformat(started)
        if (
            moment.tzinfo is not None
            and isinstance(last_id, str)
            and not UNSTORABLE_TEXT.search(last_id)
        ):
            return moment.astimezone(UTC), last_id
    except (ValueError, TypeError, OverflowError):
        pass
    raise InvalidInput("the cursor is not valid; use the one a page returned")


def cancel_execution(*, session: Session, user: User, execution_id: str) -> Execution:
    """Stop before the next node; a pending retry will not run. Finished: Conflict."""
    execution = get_execution(session=session, user=user, execution_id=execution_id)
    duration = round((utcnow() - execution.started_at).total_seconds() * 1000)
    if not transition(session, execution.id, ExecutionStatus.CANCELLED, duration=duration):
        session.refresh(execution)
        raise Conflict(f"execution {execution_id} has already ended ({execution.status})")
    session.commit()
    session.refresh(execution)
    get_event_bus().publish(ExecutionUpdate(execution_id=execution.id, type=UpdateType.CANCELLED))
    return execution


def retry_execution(
    *, session: Session, user: User, execution_id: str, from_failed_node: bool = False
) -> Execution:
    """A new execution of the same pinned version and trigger payload, linked to the old.

    ``from_failed_node``: copy the nodes that succeeded or were skipped, so only the
    failed node and what follows run again.
    """
    old = get_execution(session=session, user=user, execution_id=execution_id)
    if old.status not in TERMINAL:
        raise Conflict(f"execution {execution_id} is still {old.status}; cancel it first")
    get_workflow(session=session, user=user, workflow_id=old.workflow_id)  # still there, theirs
    new = Execution(
        status=ExecutionStatus.PENDING,
        trigger_data=old.trigger_data,
        workflow_version=old.workflow_version,
        workflow_id=old.workflow_id,
        user_id=old.user_id,
        retry_of_id=old.id,
    )
    session.add(new)
    session.flush()
    if from_failed_node:
        for run in node_runs(session=session, execution=old):
            if run.status in (NodeRunStatus.SUCCEEDED, NodeRunStatus.SKIPPED):
                session.add(
                    NodeRun(
                        execution_id=new.id,
                        node_id=run.node_id,
                        status=run.status,
                        attempt=run.attempt,
                        input=run.input,
                        output=run.output,
                        started_at=run.started_at,
                        finished_at=run.finished_at,
                        duration=run.duration,
                    )
                )
    session.commit()
    send(new.id)
    return new


@dataclass(frozen=True)
class ExecutionSnapshot:
    """An execution as stored at one moment: its row and its node runs by node id."""

    execution: Execution
    nodes: dict[str, NodeRun]


@contextlib.asynccontextmanager
async def follow_execution(
    *, user: User, execution_id: str
) -> AsyncIterator[tuple[ExecutionSnapshot, AsyncIterator[ExecutionUpdate]]]:
    """``async with follow_execution(...) as (snapshot, updates):`` the stored state, then
    every update published after it was read (subscribed first, so nothing falls in
    between; an update may repeat what the snapshot shows). Stop iterating at a final
    update (completed, failed, cancelled), or at once if the snapshot is terminal.
    Another user's execution is :class:`NotFound`."""
    async with get_event_bus().subscribe(execution_id) as updates:
        snapshot = await asyncio.to_thread(_snapshot, user, execution_id)
        yield snapshot, updates


def _snapshot(user: User, execution_id: str) -> ExecutionSnapshot:
    with session_scope() as session:
        execution = get_execution(session=session, user=user, execution_id=execution_id)
        runs = {run.node_id: run for run in node_runs(session=session, execution=execution)}
        return ExecutionSnapshot(execution=execution, nodes=runs)
