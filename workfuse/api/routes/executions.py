"""Executions: the seed's ``executions.*`` procedures (trigger, get, list, cancel, retry).

Each route is one service call (:mod:`workfuse.services.executions`); another user's
execution or workflow is 404. A run is accepted (202) once it is stored: the engine
takes it from there, and ``GET /api/executions/{id}`` shows how far it got.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from workfuse.api.deps import CurrentUser, DbSession
from workfuse.models import ApiSchema, ExecutionStatus, LogLevel, NodeRunStatus
from workfuse.services import executions as service
from workfuse.services.errors import InvalidInput

router = APIRouter(tags=["executions"])


# --- schemas ------------------------------------------------------------------------


class ExecutionSummary(ApiSchema):
    """An execution without its per-node results (lists, retry and cancel answers)."""

    id: str
    workflow_id: str
    workflow_version: int
    status: ExecutionStatus
    error: str | None
    started_at: datetime
    completed_at: datetime | None
    duration: int | None = None  #: milliseconds
    retry_of_id: str | None


class NodeRunPublic(ApiSchema):
    """One node of an execution: its last attempt's input, output or error."""

    node_id: str
    status: NodeRunStatus
    attempt: int
    input: dict[str, Any] | None
    output: Any | None
    error: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None
    duration: int | None  #: milliseconds


class ExecutionLogPublic(ApiSchema):
    node_id: str
    level: LogLevel
    message: str
    data: dict[str, Any] | None
    timestamp: datetime


class ExecutionDetail(ExecutionSummary):
    trigger_data: dict[str, Any]
    nodes: list[NodeRunPublic]
    logs: list[ExecutionLogPublic]


class ExecutionPage(ApiSchema):
    items: list[ExecutionSummary]
    next_cursor: str | None  #: pass back as ``cursor`` for the next page; null: last page


class RunRequest(ApiSchema):
    payload: Any = None  #: the trigger's ``data`` (default ``{}``)


class RunAccepted(ApiSchema):
    execution_id: str


class RetryRequest(ApiSchema):
    from_failed_node: bool = False  #: reuse the outputs of nodes that succeeded


# --- routes -------------------------------------------------------------------------


@router.post("/api/workflows/{workflow_id}/run", status_code=status.HTTP_202_ACCEPTED)
@router.post("/api/workflows/{workflow_id}/executions", status_code=status.HTTP_202_ACCEPTED)
def run_workflow(
    workflow_id: str,
    user: CurrentUser,
    session: DbSession,
    data: Annotated[RunRequest | None, Body()] = None,
) -> RunAccepted:
    """Run now, with a test payload; an inactive workflow may be run by hand, an
    invalid one is 422 ``WORKFLOW_INVALID``."""
    execution = service.run_workflow(
        session=session,
        user=user,
        workflow_id=workflow_id,
        payload=data.payload if data is not None else None,
    )
    return RunAccepted(execution_id=execution.id)


@router.get("/api/executions")
def list_executions(
    user: CurrentUser,
    session: DbSession,
    workflow_id: Annotated[str | None, Query(alias="workflowId", max_length=64)] = None,
    execution_status: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
    started_after: Annotated[datetime | None, Query(alias="startedAfter")] = None,
    started_before: Annotated[datetime | None, Query(alias="startedBefore")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE_SIZE)] = service.DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> ExecutionPage:
    """The caller's executions, newest first. ``startedAfter`` (inclusive) and
    ``startedBefore`` (exclusive) are ISO 8601 datetimes; without an offset, UTC."""
    page = service.list_executions(
        session=session,
        user=user,
        workflow_id=workflow_id,
        status=execution_status,
        started_after=_utc(started_after, "startedAfter"),
        started_before=_utc(started_before, "startedBefore"),
        limit=limit,
        cursor=cursor,
    )
    return ExecutionPage(
        items=[ExecutionSummary.model_validate(row) for row in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/api/executions/{execution_id}")
def get_execution(execution_id: str, user: CurrentUser, session: DbSession) -> ExecutionDetail:
    """The execution with every node run so far and its log lines."""
    execution = service.get_execution(session=session, user=user, execution_id=execution_id)
    runs = service.node_runs(session=session, execution=execution)
    logs = service.execution_logs(session=session, execution=execution)
    return ExecutionDetail.model_validate(
        {
            **ExecutionSummary.model_validate(execution).model_dump(),
            "trigger_data": execution.trigger_data,
            "nodes": [NodeRunPublic.model_validate(run) for run in runs],
            "logs": [ExecutionLogPublic.model_validate(line) for line in logs],
        }
    )


@router.post("/api/executions/{execution_id}/cancel")
def cancel_execution(execution_id: str, user: CurrentUser, session: DbSession) -> ExecutionSummary:
    """Stop before the next node (a pending retry does not run); 409 if it has ended."""
    execution = service.cancel_execution(session=session, user=user, execution_id=execution_id)
    return ExecutionSummary.model_validate(execution)


@router.post("/api/executions/{execution_id}/retry", status_code=status.HTTP_201_CREATED)
def retry_execution(
    execution_id: str,
    user: CurrentUser,
    session: DbSession,
    data: Annotated[RetryRequest | None, Body()] = None,
) -> ExecutionSummary:
    """A new execution of the same version and payload, linked by ``retryOfId``; with
    ``fromFailedNode`` only the failed node and what follows it run again."""
    execution = service.retry_execution(
        session=session,
        user=user,
        execution_id=execution_id,
        from_failed_node=data.from_failed_node if data is not None else False,
    )
    return ExecutionSummary.model_validate(execution)


def _utc(moment: datetime | None, name: str) -> datetime | None:
    """``moment`` in UTC; one without an offset is read as UTC (stored datetimes are
    all UTC). One whose UTC time falls outside the years 1-9999 is refused (422)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{name} is out of range: in UTC, not within the years 1-9999") from None
