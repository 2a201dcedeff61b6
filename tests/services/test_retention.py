"""Retention: finished executions go by age and by count; running ones never do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from tests.test_cli import workfuse
from workfuse.db_types import utcnow
from workfuse.models import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    NodeRun,
    NodeRunStatus,
    User,
    Workflow,
)
from workfuse.services.retention import BATCH_SIZE, prune_by_settings, prune_executions
from workfuse.services.workflows import WorkflowCreate, create_workflow
from workfuse.settings import get_settings

NOW = utcnow()


def _workflow(session: Session, user: User, name: str) -> Workflow:
    workflow = create_workflow(session=session, user=user, data=WorkflowCreate(name=name))
    session.commit()
    return workflow


def _execution(
    session: Session, workflow: Workflow, days_ago: float, status: ExecutionStatus
) -> str:
    execution = Execution(
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        status=status,
        trigger_data={},
        workflow_version=workflow.version,
        started_at=NOW - timedelta(days=days_ago),
    )
    session.add(execution)
    session.flush()
    session.add(NodeRun(node_id="n", status=NodeRunStatus.SUCCEEDED, execution_id=execution.id))
    session.add(
        ExecutionLog(node_id="n", level=LogLevel.INFO, message="m", execution_id=execution.id)
    )
    session.commit()
    return execution.id


def _ids(session: Session) -> set[str]:
    session.expire_all()
    return set(session.exec(select(Execution.id)).all())


def _count(session: Session, table: type[NodeRun] | type[ExecutionLog]) -> int:
    return session.exec(select(func.count()).select_from(table)).one()


def test_old_finished_executions_go_with_their_runs_and_logs(
    session: Session, user: User, database_url: str
) -> None:
    workflow = _workflow(session, user, "w")
    old_done = _execution(session, workflow, 40, ExecutionStatus.COMPLETED)
    old_failed = _execution(session, workflow, 35, ExecutionStatus.FAILED)
    old_running = _execution(session, workflow, 45, ExecutionStatus.RUNNING)
    old_retrying = _execution(session, workflow, 45, ExecutionStatus.RETRYING)
    recent = _execution(session, workflow, 1, ExecutionStatus.COMPLETED)

    result = prune_executions(older_than=NOW - timedelta(days=30), url=database_url)

    assert (result.by_age, result.by_count) == (2, 0)
    assert _ids(session) == {old_running, old_retrying, recent}
    assert old_done not in _ids(session) and old_failed not in _ids(session)
    assert _count(session, NodeRun) == 3 and _count(session, ExecutionLog) == 3


def test_only_the_newest_per_workflow_are_kept(
    session: Session, user: User, database_url: str
) -> None:
    first, second = _workflow(session, user, "a"), _workflow(session, user, "b")
    a = [_execution(session, first, days, ExecutionStatus.COMPLETED) for days in (1, 2, 3, 4)]
    running = _execution(session, first, 5, ExecutionStatus.RUNNING)
    b = [_execution(session, second, days, ExecutionStatus.CANCELLED) for days in (1, 2)]

    result = prune_executions(keep_per_workflow=2, url=database_url)

    assert result.by_count == 2
    assert _ids(session) == {a[0], a[1], running, *b}


def test_a_large_backlog_goes_in_batches(session: Session, user: User, database_url: str) -> None:
    workflow = _workflow(session, user, "busy")
    for index in range(BATCH_SIZE + 7):
        session.add(
            Execution(
                workflow_id=workflow.id,
                user_id=user.id,
                status=ExecutionStatus.COMPLETED,
                trigger_data={},
                workflow_version=1,
                started_at=NOW - timedelta(days=60, seconds=index),
            )
        )
    session.commit()

    assert prune_executions(older_than=NOW, url=database_url).by_age == BATCH_SIZE + 7
    assert _ids(session) == set()


def test_settings_drive_the_periodic_pass(
    session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = _workflow(session, user, "w")
    old = _execution(session, workflow, 8, ExecutionStatus.COMPLETED)
    kept = _execution(session, workflow, 6, ExecutionStatus.COMPLETED)
    monkeypatch.setenv("WORKFUSE_RETENTION_DAYS", "7")
    get_settings.cache_clear()

    assert prune_by_settings().by_age == 1
    assert _ids(session) == {kept}
    assert old not in _ids(session)

    monkeypatch.setenv("WORKFUSE_RETENTION_DAYS", "0")  # 0 keeps everything
    get_settings.cache_clear()
    assert prune_by_settings(now=NOW + timedelta(days=400)).total == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_prune_command(session: Session, user: User, database_url: str) -> None:
    workflow = _workflow(session, user, "w")
    _execution(session, workflow, 10, ExecutionStatus.COMPLETED)
    _execution(session, workflow, 3, ExecutionStatus.COMPLETED)
    kept = _execution(session, workflow, 1, ExecutionStatus.COMPLETED)

    done = workfuse(
        "prune", "--older-than-days", "5", "--keep", "1", WORKFUSE_DATABASE_URL=database_url
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deleted 2 execution(s): 1 by age, 1 by count"
    assert _ids(session) == {kept}
    refused = workfuse("prune", "--older-than-days", "-1", WORKFUSE_DATABASE_URL=database_url)
    assert refused.returncode == 2
