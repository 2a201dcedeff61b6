"""Tables: cascades, uniques, enum checks, JSON, UTC datetimes and ids on both databases."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, func, select

from workfuse.db import get_engine
from workfuse.db_types import ID_LENGTH, new_id
from workfuse.models import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LoginSession,
    LogLevel,
    NodeRun,
    NodeRunStatus,
    SecretReference,
    User,
    Workflow,
    WorkflowVersion,
)

GRAPH: dict[str, Any] = {"nodes": [], "edges": []}


def _workflow(user: User, **fields: Any) -> Workflow:
    values: dict[str, Any] = {"name": "w", "graph": GRAPH, "webhook_token": new_id()}
    return Workflow(user_id=user.id, **{**values, **fields})


def _execution(workflow: Workflow, **fields: Any) -> Execution:
    values: dict[str, Any] = {"status": ExecutionStatus.PENDING, "trigger_data": {}}
    return Execution(
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        workflow_version=workflow.version,
        **{**values, **fields},
    )


def _count(session: Session, model: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _fresh_session(url: str) -> Session:
    """A new session, so values come from the database rather than the identity map."""
    return Session(get_engine(url))


@pytest.fixture
def populated(session: Session, user: User) -> dict[str, Any]:
    """A workflow with a version, an execution (and its retry), logs, node runs, a secret."""
    workflow = _workflow(user)
    session.add(workflow)
    session.flush()
    first = _execution(workflow, status=ExecutionStatus.FAILED)
    session.add(first)
    session.flush()
    retry = _execution(workflow, retry_of_id=first.id)
    session.add_all(
        [
            WorkflowVersion(workflow_id=workflow.id, version=1, name="w", graph=GRAPH),
            retry,
            ExecutionLog(execution_id=first.id, node_id="a", level=LogLevel.INFO, message="m"),
            NodeRun(execution_id=first.id, node_id="a", status=NodeRunStatus.SUCCEEDED),
            NodeRun(execution_id=retry.id, node_id="a", status=NodeRunStatus.RUNNING),
            SecretReference(user_id=user.id, workflow_id=workflow.id, name="k", arn="local:1"),
            LoginSession(
                user_id=user.id, token_hash="h" * 64, expires_at=datetime.now(UTC) + timedelta(1)
            ),
        ]
    )
    session.commit()
    return {"workflow": workflow, "first": first, "retry": retry}


# --- cascades ---------------------------------------------------------------------------

OWNED: list[type[SQLModel]] = [
    Workflow,
    WorkflowVersion,
    Execution,
    ExecutionLog,
    NodeRun,
    SecretReference,
    LoginSession,
]


def test_deleting_a_user_deletes_everything_they_own(
    session: Session, user: User, other_user: User, populated: dict[str, Any]
) -> None:
    # Given: a user with a workflow, versions, executions, logs, node runs, secrets, sessions
    other_workflow = _workflow(other_user)
    session.add(other_workflow)
    session.commit()
    assert all(_count(session, model) > 0 for model in OWNED)

    # When: the user is deleted
    session.delete(user)
    session.commit()

    # Then: all of it is gone; the other user's workflow is not
    assert {model.__name__: _count(session, model) for model in OWNED} == {
        "Workflow": 1,
        "WorkflowVersion": 0,
        "Execution": 0,
        "ExecutionLog": 0,
        "NodeRun": 0,
        "SecretReference": 0,
        "LoginSession": 0,
    }
    assert session.exec(select(Workflow.id)).all() == [other_workflow.id]


def test_deleting_a_workflow_deletes_its_versions_executions_and_credentials_links(
    session: Session, user: User, populated: dict[str, Any]
) -> None:
    # Given: a workflow with history
    # When: the workflow is deleted
    session.delete(populated["workflow"])
    session.commit()

    # Then: its versions, executions, logs, node runs and linked secret references go too
    for model in (WorkflowVersion, Execution, ExecutionLog, NodeRun, SecretReference):
        assert _count(session, model) == 0, model.__name__
    assert _count(session, User) == 1


def test_deleting_an_execution_keeps_its_retries_unlinked(
    database_url: str, session: Session, populated: dict[str, Any]
) -> None:
    # Given: an execution that was retried
    first, retry = populated["first"], populated["retry"]

    # When: the original execution is deleted
    session.delete(first)
    session.commit()

    # Then: the retry survives with retry_of_id set to NULL; the original's logs are gone
    with _fresh_session(database_url) as fresh:
        survivor = fresh.get(Execution, retry.id)
        assert survivor is not None
        assert survivor.retry_of_id is None
        assert _count(fresh, ExecutionLog) == 0
        assert fresh.exec(select(NodeRun.execution_id)).all() == [retry.id]


# --- uniques ----------------------------------------------------------------------------


def _duplicate_email(session: Session, user: User, _: dict[str, Any]) -> SQLModel:
    return User(email=user.email)


def _duplicate_token(session: Session, user: User, data: dict[str, Any]) -> SQLModel:
    return _workflow(user, webhook_token=data["workflow"].webhook_token)


def _duplicate_version(session: Session, user: User, data: dict[str, Any]) -> SQLModel:
    return WorkflowVersion(workflow_id=data["workflow"].id, version=1, name="again", graph=GRAPH)


def _duplicate_node_run(session: Session, user: User, data: dict[str, Any]) -> SQLModel:
    return NodeRun(execution_id=data["first"].id, node_id="a", status=NodeRunStatus.PENDING)


@pytest.mark.parametrize(
    "make_duplicate",
    [_duplicate_email, _duplicate_token, _duplicate_version, _duplicate_node_run],
    ids=["email", "webhook_token", "workflow_id+version", "execution_id+node_id"],
)
def test_unique_constraints_refuse_duplicates(
    session: Session,
    user: User,
    populated: dict[str, Any],
    make_duplicate: Callable[[Session, User, dict[str, Any]], SQLModel],
) -> None:
    # Given: a row that duplicates a unique key of an existing row
    duplicate = make_duplicate(session, user, populated)

    # When / Then: the database refuses it
    session.add(duplicate)
    with pytest.raises(sa.exc.IntegrityError):
        session.flush()


def test_same_node_id_in_two_executions_is_allowed(
    session: Session, populated: dict[str, Any]
) -> None:
    # Given: node "a" already has a run in both executions (see the fixture)
    # When / Then: counting them shows the unique key is per execution, not per node
    assert len(session.exec(select(NodeRun).where(NodeRun.node_id == "a")).all()) == 2


# --- enums ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "column"),
    [("executions", "status"), ("execution_logs", "level"), ("node_runs", "status")],
)
def test_enum_columns_reject_unknown_values(
    session: Session, populated: dict[str, Any], table: str, column: str
) -> None:
    # Given: stored rows with valid enum values
    assert session.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar()

    # When / Then: writing an unknown value with raw SQL (no ORM checks) hits the CHECK
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(sa.text(f"UPDATE {table} SET {column} = 'BOGUS'"))


def test_orm_refuses_unknown_enum_values(session: Session, user: User) -> None:
    # Given: a workflow
    workflow = _workflow(user)
    session.add(workflow)
    session.flush()

    # When / Then: an execution with a status that is not an ExecutionStatus is refused
    session.add(_execution(workflow, status="DONE"))
    with pytest.raises(sa.exc.StatementError):
        session.flush()


def test_enum_values_round_trip(database_url: str, session: Session, user: User) -> None:
    # Given: an execution in every status
    workflow = _workflow(user)
    session.add(workflow)
    session.flush()
    for status in ExecutionStatus:
        session.add(_execution(workflow, status=status))
    session.commit()

    # When: they are read back
    with _fresh_session(database_url) as fresh:
        stored = fresh.exec(select(Execution.status)).all()

    # Then: each comes back as the enum member, CANCELLED included
    assert sorted(stored) == sorted(ExecutionStatus)
    assert all(isinstance(status, ExecutionStatus) for status in stored)


# --- JSON and datetimes -----------------------------------------------------------------

NESTED = {
    "text": "héllo ✓ 你好",
    "number": 1.5,
    "big": 2**53,
    "flag": False,
    "nothing": None,
    "list": [1, "two", {"three": [3.0, None, True]}],
    "deep": {"a": {"b": {"c": {"d": []}}}},
}


def test_json_columns_round_trip_nested_data(
    database_url: str, session: Session, user: User
) -> None:
    # Given: nested JSON in every JSON column of an execution and a node run
    workflow = _workflow(user, graph={"nodes": [NESTED], "edges": []})
    session.add(workflow)
    session.flush()
    execution = _execution(workflow, trigger_data=NESTED, node_results={"n": NESTED})
    session.add(execution)
    session.flush()
    session.add(
        NodeRun(
            execution_id=execution.id,
            node_id="n",
            status=NodeRunStatus.SUCCEEDED,
            input=NESTED,
            output=[NESTED, "plain"],
            error={"message": "x", "detail": NESTED},
        )
    )
    session.commit()

    # When: they are read back in a new session
    with _fresh_session(database_url) as fresh:
        stored_workflow = fresh.get(Workflow, workflow.id)
        stored_execution = fresh.get(Execution, execution.id)
        run = fresh.exec(select(NodeRun)).one()

    # Then: the values are equal, types included
    assert stored_workflow is not None and stored_execution is not None
    assert stored_workflow.graph == {"nodes": [NESTED], "edges": []}
    assert stored_execution.trigger_data == NESTED
    assert stored_execution.node_results == {"n": NESTED}
    assert (run.input, run.output, run.error) == (
        NESTED,
        [NESTED, "plain"],
        {"message": "x", "detail": NESTED},
    )


def test_json_columns_are_jsonb_on_postgres(database_url: str) -> None:
    # Given: the migrated database
    inspector = sa.inspect(get_engine(database_url))

    # When: the graph column's type is read back
    column = next(c for c in inspector.get_columns("workflows") if c["name"] == "graph")

    # Then: PostgreSQL uses JSONB, SQLite JSON
    expected = "JSONB" if database_url.startswith("postgresql") else "JSON"
    assert type(column["type"]).__name__ == expected


def test_datetimes_come_back_timezone_aware_utc(
    database_url: str, session: Session, user: User
) -> None:
    # Given: an execution started at a time given in another timezone
    started = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    workflow = _workflow(user)
    session.add(workflow)
    session.flush()
    execution = _execution(workflow, started_at=started)
    session.add(execution)
    session.commit()

    # When: rows are read back in a new session
    with _fresh_session(database_url) as fresh:
        stored = fresh.get(Execution, execution.id)
        stored_user = fresh.get(User, user.id)

    # Then: the values are aware, in UTC, and denote the same instant
    assert stored is not None and stored_user is not None
    assert stored.started_at.tzinfo == UTC
    assert stored.started_at == started
    assert stored.started_at.hour == 12
    assert stored_user.created_at.tzinfo == UTC
    assert abs(stored_user.created_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_naive_datetimes_are_refused(session: Session, user: User) -> None:
    # Given: a naive datetime (no timezone: ambiguous)
    workflow = _workflow(user)
    session.add(workflow)
    session.flush()
    session.add(_execution(workflow, started_at=datetime(2024, 1, 1, 12, 0)))

    # When / Then: storing it is refused rather than guessed
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        session.flush()


def test_updated_at_moves_on_update(database_url: str, session: Session, user: User) -> None:
    # Given: a stored workflow
    workflow = _workflow(user)
    session.add(workflow)
    session.commit()
    before = workflow.updated_at

    # When: it is changed
    time.sleep(0.01)
    workflow.name = "renamed"
    session.add(workflow)
    session.commit()

    # Then: updated_at is later, created_at unchanged
    with _fresh_session(database_url) as fresh:
        stored = fresh.get(Workflow, workflow.id)
    assert stored is not None
    assert stored.updated_at > before
    assert stored.created_at == workflow.created_at


# --- ids --------------------------------------------------------------------------------


def test_new_ids_are_unique_and_well_formed() -> None:
    # Given / When: many ids made in a tight loop
    ids = [new_id() for _ in range(20_000)]

    # Then: no two are equal and each is a 25-character lowercase base36 string
    assert len(set(ids)) == len(ids)
    assert all(len(i) == ID_LENGTH and i.isalnum() and i == i.lower() for i in ids)
    assert all(i.startswith("c") for i in ids)


def test_new_ids_sort_by_creation_time() -> None:
    # Given: ids made a few milliseconds apart
    ids = []
    for _ in range(20):
        ids.append(new_id())
        time.sleep(0.002)

    # When / Then: sorting them gives creation order
    assert sorted(ids) == ids


# --- no secrets in columns --------------------------------------------------------------


def test_no_column_holds_a_secret_value() -> None:
    # Given: every table's columns
    columns = {
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
    }

    # When / Then: passwords and tokens are hashes; credentials are references only
    assert {"users.password_hash", "sessions.token_hash", "secret_references.arn"} <= columns
    forbidden = {"password", "token", "secret", "value", "api_key", "secret_value"}
    assert not {c for c in columns if c.split(".")[1] in forbidden}
