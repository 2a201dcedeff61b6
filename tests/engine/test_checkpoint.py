"""Checkpoints and attempt claims as the database sees them, on SQLite and PostgreSQL:
what is written, what the closing UPDATE reports, and (PostgreSQL) that a checkpoint
is one statement sent without a transaction around it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.engine.helpers import edge, jsonata, make_workflow, node, stored_execution
from workfuse.db import get_engine, statement_scope
from workfuse.db_types import new_id, utcnow
from workfuse.engine import checkpoint
from workfuse.engine.state import transition_statement
from workfuse.models import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    NodeRun,
    NodeRunStatus,
    User,
)

S = ExecutionStatus


@pytest.fixture
def execution_id(session: Session, user: User) -> str:
    workflow = make_workflow(
        session,
        user,
        [node("start", "trigger", {}), jsonata("shape", "1")],
        [edge("start", "shape")],
    )
    execution = stored_execution(session, workflow)
    session.commit()
    return execution.id


def run_row(execution_id: str, node_id: str, **values: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": new_id(),
        "execution_id": execution_id,
        "node_id": node_id,
        "status": NodeRunStatus.SUCCEEDED,
        "attempt": 1,
        "input": {"code": "1", "text": 'naïve "quoted" ✓'},
        "output": {"result": [1, None, {"deep": True}]},
        "error": None,
        "started_at": now - timedelta(milliseconds=5),
        "finished_at": now,
        "duration": 5,
        **values,
    }


def log_row(execution_id: str, node_id: str, message: str) -> dict[str, Any]:
    return {
        "id": new_id(),
        "execution_id": execution_id,
        "node_id": node_id,
        "level": LogLevel.INFO,
        "message": message,
        "data": None,
        "timestamp": utcnow(),
    }


def heartbeat(execution_id: str) -> checkpoint.FinalUpdate:
    return checkpoint.HEARTBEAT, {"execution_id": execution_id, "now": utcnow()}


def save(runs: list[dict[str, Any]], logs: list[dict[str, Any]], final: Any) -> Any:
    with statement_scope() as connection:
        result = checkpoint.save(connection, runs, logs, final)
        return result.scalar_one_or_none() if final[0] is checkpoint.HEARTBEAT else result.rowcount


def stored_runs(session: Session, execution_id: str) -> dict[str, NodeRun]:
    session.expire_all()
    rows = session.exec(select(NodeRun).where(NodeRun.execution_id == execution_id)).all()
    return {row.node_id: row for row in rows}


def test_a_checkpoint_writes_runs_and_logs_and_beats(
    database_url: str, session: Session, execution_id: str
) -> None:
    # Given: two finished nodes and their log lines
    runs = [run_row(execution_id, "start"), run_row(execution_id, "shape", output=None)]
    logs = [log_row(execution_id, "start", "start succeeded"), log_row(execution_id, "shape", "ok")]

    # When: they are saved with a heartbeat
    status = save(runs, logs, heartbeat(execution_id))

    # Then: the heartbeat read the status; every column came back as it was written
    assert status is S.RUNNING
    stored = stored_runs(session, execution_id)
    for run in runs:
        row = stored[run["node_id"]]
        assert {name: getattr(row, name) for name in run} == run
    lines = session.exec(select(ExecutionLog).where(ExecutionLog.execution_id == execution_id))
    assert sorted(line.message for line in lines) == ["ok", "start succeeded"]
    assert session.get(Execution, execution_id).heartbeat_at is not None  # type: ignore[union-attr]


def test_a_later_checkpoint_overwrites_a_node_run_but_keeps_its_id(
    database_url: str, session: Session, execution_id: str
) -> None:
    # Given: a node whose first attempt failed and is on record
    first = run_row(execution_id, "shape", status=NodeRunStatus.RETRYING, error={"message": "x"})
    save([first], [], heartbeat(execution_id))

    # When: its second attempt is saved under a new id
    second = run_row(execution_id, "shape", attempt=2, output={"result": 2})
    save([second], [], heartbeat(execution_id))

    # Then: one row, the second attempt's values, the first row's id
    stored = stored_runs(session, execution_id)
    assert list(stored) == ["shape"]
    assert stored["shape"].id == first["id"]
    assert (stored["shape"].attempt, stored["shape"].output) == (2, {"result": 2})
    assert stored["shape"].error is None


def test_a_checkpoint_with_a_status_change_reports_whether_it_happened(
    database_url: str, session: Session, execution_id: str
) -> None:
    # Given / When: the runner completes the execution with its last node
    done = save(
        [run_row(execution_id, "shape")],
        [],
        transition_statement(execution_id, S.COMPLETED, error=None, duration=7),
    )

    # Then: the status changed; a second runner's FAILED no longer can, yet its rows land
    assert done == 1
    late = save(
        [run_row(execution_id, "start", status=NodeRunStatus.FAILED)],
        [],
        transition_statement(execution_id, S.FAILED, error="late"),
    )
    assert late == 0
    session.expire_all()
    execution = session.get(Execution, execution_id)
    assert execution is not None
    assert (execution.status, execution.duration) == (S.COMPLETED, 7)
    assert set(stored_runs(session, execution_id)) == {"start", "shape"}


def test_the_heartbeat_of_a_deleted_execution_reads_nothing(
    database_url: str, session: Session, execution_id: str
) -> None:
    with get_engine().begin() as connection:
        connection.execute(sa.delete(Execution).where(Execution.id == execution_id))  # type: ignore[arg-type]

    assert save([], [], heartbeat(execution_id)) is None


def test_only_one_of_two_claims_of_the_same_attempt_wins(
    database_url: str, session: Session, execution_id: str
) -> None:
    first = run_row(execution_id, "call", status=NodeRunStatus.RUNNING, attempt=1)
    with statement_scope() as connection:
        assert checkpoint.claim_attempt(connection, first, seen_attempt=0)
        assert not checkpoint.claim_attempt(connection, {**first, "id": new_id()}, seen_attempt=0)
        second = {**first, "attempt": 2}
        assert checkpoint.claim_attempt(connection, second, seen_attempt=1)
        assert not checkpoint.claim_attempt(connection, second, seen_attempt=1)
    assert stored_runs(session, execution_id)["call"].attempt == 2


@pytest.fixture
def statements(database_url: str) -> Iterator[list[tuple[str, bool]]]:
    """Every statement sent to the database while the test runs, with whether the
    driver sent it in autocommit (no BEGIN/COMMIT around it)."""
    sent: list[tuple[str, bool]] = []

    def record(_connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent.append((" ".join(statement.split())[:40], bool(cursor.connection.autocommit)))

    sa.event.listen(get_engine(), "before_cursor_execute", record)
    yield sent
    sa.event.remove(get_engine(), "before_cursor_execute", record)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_on_postgres_a_checkpoint_is_one_statement_without_a_transaction(
    database_url: str, execution_id: str, statements: list[tuple[str, bool]]
) -> None:
    runs = [run_row(execution_id, f"n{index}") for index in range(40)]
    logs = [log_row(execution_id, f"n{index}", "ok") for index in range(40)]

    assert save(runs, logs, heartbeat(execution_id)) is S.RUNNING

    assert len(statements) == 1, statements
    text, autocommit = statements[0]
    assert text.startswith("WITH runs_written AS")
    assert autocommit
