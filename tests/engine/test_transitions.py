"""The status-change choke point, on SQLite and PostgreSQL: every change is checked,
recorded once and handed to each hook once, in order; a finished status is never
overwritten; a side-effecting node's attempt is claimed before anyone hears of it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from tests.engine.helpers import edge, jsonata, make_workflow, node, stored_execution
from workfuse.db import statement_scope
from workfuse.db_types import new_id, utcnow
from workfuse.engine.events import ExecutionUpdate, InProcessBus
from workfuse.engine.hooks import Change, Hook, Hooks, UpdatesHook
from workfuse.engine.memo import LostClaim, Memo
from workfuse.engine.plan import ExecutionPlan, load_plan
from workfuse.engine.transitions import InvalidTransition, Transitions
from workfuse.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, User, Workflow

S = ExecutionStatus
N = NodeRunStatus


class ListBus(InProcessBus):
    """Keeps what is published."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[ExecutionUpdate] = []

    def publish(self, update: ExecutionUpdate) -> None:
        self.updates.append(update)


class Recorder(Hook):
    """Notes each call: (hook, phase, whose change, its status, recorded yet?)."""

    def __init__(self, name: str, seen: list[tuple[str, ...]], memo: Memo) -> None:
        self.name, self.seen, self.memo = name, seen, memo

    def before_change(self, change: Change) -> None:
        self.seen.append((self.name, "before", *self._what(change)))

    def after_change(self, change: Change) -> None:
        self.seen.append((self.name, "after", *self._what(change)))

    def _what(self, change: Change) -> tuple[str, str, str]:
        if change.node is None or change.run is None:
            stored = _stored_status(self.memo.execution_id)
            return "execution", change.status.value, str(stored == change.status)
        staged = self.memo.pending.get(change.node.id) is change.run
        recorded = change.run.status is change.status and (staged or change.status is N.RUNNING)
        return change.node.id, change.status.value, str(recorded)


def _stored_status(execution_id: str) -> ExecutionStatus | None:
    with statement_scope() as connection:
        query = sa.select(col(Execution.status)).where(col(Execution.id) == execution_id)
        return connection.execute(query).scalar_one_or_none()


@pytest.fixture
def workflow(session: Session, user: User) -> Workflow:
    """start -> shape (JSONata) -> call (HTTP: side effects; never called here)."""
    return make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            jsonata("shape", "1"),
            node("call", "http", {"url": "http://127.0.0.1:9/never-called"}),
        ],
        [edge("start", "shape"), edge("shape", "call")],
    )


@pytest.fixture
def plan(session: Session, workflow: Workflow) -> ExecutionPlan:
    return load_plan(session, workflow.id, workflow.version)


@pytest.fixture
def execution_id(session: Session, workflow: Workflow) -> str:
    """A PENDING execution of ``workflow`` (no message sent)."""
    execution = stored_execution(session, workflow, S.PENDING)
    session.commit()
    return execution.id


def test_every_change_is_recorded_once_and_handed_to_each_hook_once_in_order(
    database_url: str, session: Session, plan: ExecutionPlan, execution_id: str
) -> None:
    # Given: a run's choke point with three hooks, the middle one publishing updates
    memo, bus = Memo(execution_id), ListBus()
    seen: list[tuple[str, ...]] = []
    hooks = [
        Recorder("first", seen, memo),
        UpdatesHook(bus, execution_id),
        Recorder("last", seen, memo),
    ]
    states = Transitions(memo, Hooks(hooks))

    # When: the run claims the execution, runs a node, skips one and completes
    claimed, previous = states.claim(new_id(), held=None, columns=("workflow_id",))
    states.node(plan.nodes["start"], N.RUNNING)
    output: dict[str, object] = {"data": {}}
    states.node(plan.nodes["start"], N.SUCCEEDED, output=output, finished_at=utcnow(), duration=1)
    states.node(plan.nodes["shape"], N.SKIPPED)
    summary = {"duration": 5, "node_results": memo.results()}
    completed = states.execution(S.COMPLETED, error=None, **summary)

    # Then: each change reached every hook before it was recorded, then after, in order
    changes = [
        ("execution", "RUNNING"),
        ("start", "RUNNING"),
        ("start", "SUCCEEDED"),
        ("shape", "SKIPPED"),
        ("execution", "COMPLETED"),
    ]
    expected = []
    for whose, status in changes:
        expected += [
            ("first", "before", whose, status, "False"),
            ("last", "before", whose, status, "False"),
            ("first", "after", whose, status, "True"),
            ("last", "after", whose, status, "True"),
        ]
    assert seen == expected
    assert claimed is not None and previous is S.PENDING and completed

    # And: it was published once per change
    published = [(update.type.value, update.node_id) for update in bus.updates]
    assert published == [
        ("started", None),
        ("node_started", "start"),
        ("node_completed", "start"),
        ("node_skipped", "shape"),
        ("completed", None),
    ]
    assert bus.updates[2].data == {"output": output, "duration": 1, "attempt": 1}
    assert bus.updates[-1].data == {"duration": 5}

    # And: it is stored once, with the completion
    session.expire_all()
    rows = session.exec(select(NodeRun).where(NodeRun.execution_id == execution_id)).all()
    assert sorted((row.node_id, row.status, row.attempt) for row in rows) == [
        ("shape", N.SKIPPED, 0),
        ("start", N.SUCCEEDED, 1),
    ]
    execution = session.get(Execution, execution_id)
    assert execution is not None and execution.status is S.COMPLETED
    assert execution.node_results == {"start": "SUCCEEDED", "shape": "SKIPPED"}


def test_a_finished_status_is_never_overwritten(
    database_url: str, session: Session, plan: ExecutionPlan, execution_id: str
) -> None:
    # Given: a node that succeeded and an execution that completed
    memo = Memo(execution_id)
    seen: list[tuple[str, ...]] = []
    states = Transitions(memo, Hooks([Recorder("hook", seen, memo)]))
    states.claim(new_id(), held=None, columns=("workflow_id",))
    start = plan.nodes["start"]
    states.node(start, N.RUNNING)
    states.node(start, N.SUCCEEDED, output={}, finished_at=utcnow(), duration=1)
    assert states.execution(S.COMPLETED, error=None)
    seen.clear()

    # When / Then: the node cannot run again, nor be skipped; the execution cannot fail
    # later, nor be claimed again
    with pytest.raises(InvalidTransition):
        states.node(start, N.RUNNING)
    with pytest.raises(InvalidTransition):
        states.node(start, N.SKIPPED)
    assert not states.execution(S.FAILED, error="too late")
    assert states.claim(new_id(), held=None, columns=("workflow_id",)) == (None, S.COMPLETED)

    # Then: nothing changed, and no hook heard of a change that did not happen
    assert memo.runs["start"].status is N.SUCCEEDED and memo.runs["start"].attempt == 1
    assert [entry[:2] for entry in seen] == [("hook", "before"), ("hook", "before")]
    session.expire_all()
    execution = session.get(Execution, execution_id)
    assert execution is not None
    assert (execution.status, execution.error) == (S.COMPLETED, None)


def test_a_node_run_changes_only_as_its_table_allows(
    database_url: str, plan: ExecutionPlan, execution_id: str
) -> None:
    # Given: a node that never ran
    states = Transitions(Memo(execution_id), Hooks([]))
    shape = plan.nodes["shape"]

    # When / Then: it cannot finish before it runs
    for target in (N.SUCCEEDED, N.FAILED, N.RETRYING):
        with pytest.raises(InvalidTransition):
            states.node(shape, target)

    # Then: it runs, waits for a retry, runs again (attempt 2) and fails
    assert states.node(shape, N.RUNNING).attempt == 1
    states.node(shape, N.RETRYING, error={"message": "x", "code": "X"}, delay_ms=10)
    run = states.node(shape, N.RUNNING)
    assert (run.attempt, run.error) == (2, None)
    assert states.node(shape, N.FAILED, error={"message": "y", "code": "Y"}).status is N.FAILED


def test_a_side_effecting_attempt_is_claimed_before_anyone_hears_of_it(
    database_url: str, session: Session, plan: ExecutionPlan, execution_id: str
) -> None:
    # Given: two runners holding the same execution (a duplicate message)
    first_memo, second_memo = Memo(execution_id), Memo(execution_id)
    first_seen: list[tuple[str, ...]] = []
    second_seen: list[tuple[str, ...]] = []
    first = Transitions(first_memo, Hooks([Recorder("first", first_seen, first_memo)]))
    second = Transitions(second_memo, Hooks([Recorder("second", second_seen, second_memo)]))
    call = plan.nodes["call"]

    # When: both start the HTTP node's first attempt
    first.node(call, N.RUNNING)
    with pytest.raises(LostClaim) as lost:
        second.node(call, N.RUNNING)

    # Then: the first one's attempt was on record when its hooks heard of it
    session.expire_all()
    stored = session.exec(select(NodeRun).where(NodeRun.execution_id == execution_id)).one()
    assert (stored.node_id, stored.status, stored.attempt) == ("call", N.RUNNING, 1)
    assert [entry[1] for entry in first_seen] == ["before", "after"]

    # And: the second one lost (the execution goes on), and its hooks heard nothing after
    assert not lost.value.ended
    assert [entry[1] for entry in second_seen] == ["before"]
