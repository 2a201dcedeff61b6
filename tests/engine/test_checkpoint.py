"""Checkpoints and attempt claims as the database sees them, on SQLite and PostgreSQL:
what is written, what the closing UPDATE reports, and (PostgreSQL) that a checkpoint
is one statement sent without a transaction around it."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.engine.helpers import edge, jsonata, make_workflow, node, stored_execution, wait_for
from tests.support.local_server import Response, serve
from workfuse.db import get_engine, statement_scope
from workfuse.db_types import new_id, utcnow
from workfuse.engine import checkpoint
from workfuse.engine.events import get_event_bus
from workfuse.engine.runner import ExecutionRunner
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
from workfuse.secrets import process_secret_store

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


def save_and_claim(
    runs: list[dict[str, Any]], claim: dict[str, Any], seen_attempt: int
) -> tuple[ExecutionStatus | None, bool]:
    logs = [log_row(run["execution_id"], run["node_id"], "done") for run in runs]
    with statement_scope() as connection:
        return checkpoint.save_and_claim(connection, runs, logs, utcnow(), claim, seen_attempt)


def test_a_checkpoint_can_claim_the_next_nodes_attempt_with_it(
    database_url: str, session: Session, execution_id: str
) -> None:
    # Given: a finished node, and the next (side-effecting) node's first attempt
    charge = run_row(execution_id, "charge")
    call = run_row(execution_id, "call", status=NodeRunStatus.RUNNING, output=None)

    # When: both go to the database at once
    status, won = save_and_claim([charge], call, seen_attempt=0)

    # Then: the heartbeat read the status, the claim won, every row and column is there
    assert (status, won) == (S.RUNNING, True)
    stored = stored_runs(session, execution_id)
    for run in (charge, call):
        assert {name: getattr(stored[run["node_id"]], name) for name in run} == run
    lines = session.exec(select(ExecutionLog).where(ExecutionLog.execution_id == execution_id))
    assert [line.node_id for line in lines] == ["charge"]

    # And: the same attempt cannot be claimed twice; the next one can, from the one seen
    again = {**call, "id": new_id()}
    assert save_and_claim([], again, seen_attempt=0) == (S.RUNNING, False)
    assert save_and_claim([], {**call, "attempt": 2}, seen_attempt=1) == (S.RUNNING, True)
    assert save_and_claim([], {**call, "attempt": 2}, seen_attempt=1) == (S.RUNNING, False)
    assert stored_runs(session, execution_id)["call"].attempt == 2


@pytest.mark.parametrize("seen_attempt", [0, 1])
def test_no_attempt_is_claimed_for_a_cancelled_execution_but_the_rows_land(
    database_url: str, session: Session, execution_id: str, seen_attempt: int
) -> None:
    # Given: an execution cancelled while its last node ran (and, for a retry, the
    # next node's earlier attempt on record)
    if seen_attempt:
        save(
            [run_row(execution_id, "call", status=NodeRunStatus.RETRYING)],
            [],
            heartbeat(execution_id),
        )
    with get_engine().begin() as connection:
        connection.execute(*transition_statement(execution_id, S.CANCELLED))
    call = run_row(execution_id, "call", status=NodeRunStatus.RUNNING, attempt=seen_attempt + 1)

    # When: the runner saves that node and claims the next
    status, won = save_and_claim([run_row(execution_id, "charge")], call, seen_attempt)

    # Then: it reads CANCELLED and claims nothing; the finished node is on record
    assert (status, won) == (S.CANCELLED, False)
    stored = stored_runs(session, execution_id)
    assert "charge" in stored
    assert ("call" in stored) == bool(seen_attempt)
    if seen_attempt:
        assert stored["call"].status is NodeRunStatus.RETRYING


def test_a_deleted_execution_reads_nothing_and_claims_nothing(
    database_url: str, session: Session, execution_id: str
) -> None:
    with get_engine().begin() as connection:
        connection.execute(sa.delete(Execution).where(Execution.id == execution_id))  # type: ignore[arg-type]

    call = run_row(execution_id, "call", status=NodeRunStatus.RUNNING)
    assert save_and_claim([], call, seen_attempt=0) == (None, False)


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


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("seen_attempt", [0, 1])
def test_on_postgres_a_checkpoint_and_a_claim_are_one_statement(
    database_url: str, execution_id: str, statements: list[tuple[str, bool]], seen_attempt: int
) -> None:
    if seen_attempt:
        save([run_row(execution_id, "call")], [], heartbeat(execution_id))
        statements.clear()
    call = run_row(execution_id, "call", status=NodeRunStatus.RUNNING, attempt=seen_attempt + 1)

    assert save_and_claim([run_row(execution_id, "charge")], call, seen_attempt) == (
        S.RUNNING,
        True,
    )

    assert len(statements) == 1, statements
    text, autocommit = statements[0]
    assert text.startswith("WITH runs_written AS") and autocommit


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_on_postgres_each_http_node_of_a_chain_costs_one_statement(
    database_url: str,
    session: Session,
    user: User,
    statements: list[tuple[str, bool]],
    allow_loopback: None,
) -> None:
    """Its result and the next node's claim travel together (the last one's result with
    the completion), and the status the checkpoint reads back serves the cancellation
    check before the next call."""

    def statements_for_chain_of(length: int, url: str) -> int:
        calls = [node(f"call{index}", "http", {"url": url}) for index in range(length)]
        chain = ["start", *(call["id"] for call in calls)]
        workflow = make_workflow(
            session,
            user,
            [node("start", "trigger", {}), *calls],
            [edge(source, target) for source, target in itertools.pairwise(chain)],
        )
        execution = stored_execution(session, workflow, status=S.PENDING)
        session.commit()
        statements.clear()
        runner = ExecutionRunner(
            execution.id,
            bus=get_event_bus(),
            store=process_secret_store(),
            schedule=lambda *_: None,
        )
        asyncio.run(runner.run())
        count = len(statements)
        execution, runs = wait_for(execution.id)
        assert execution.status is S.COMPLETED, execution.error
        assert all(runs[call["id"]].attempt == 1 for call in calls)
        return count

    with serve({"GET /ok": lambda request: Response.json({"ok": True})}) as server:
        three = statements_for_chain_of(3, f"{server.url}/ok")
        seven = statements_for_chain_of(7, f"{server.url}/ok")

    assert seven - three == 4
