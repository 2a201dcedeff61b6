"""Leases: a run that ended by raising (its database write failed, say) and the retry of
its message. The retry takes that run's claim back at once instead of waiting until
the claim's heartbeat is stale (``STALE_AFTER_S``, 45 s); a claim of any other runner
still blocks it. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col

from tests.engine.helpers import edge, jsonata, make_workflow, node, stored_execution, wait_for
from tests.support.local_server import Response, serve
from workfuse.db import statement_scope
from workfuse.db_types import utcnow
from workfuse.engine import runner as runner_module
from workfuse.engine.events import get_event_bus
from workfuse.engine.memo import Memo
from workfuse.engine.runner import ExecutionRunner, _all
from workfuse.engine.state import STALE_AFTER_S, claim, claim_pending
from workfuse.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, User, Workflow
from workfuse.secrets import process_secret_store
from workfuse.services.executions import start_execution

S = ExecutionStatus
RESUMED_S = 15.0  #: seconds a retry may take to finish the run (Dramatiq's backoff: 1-2 s)


def held_execution(session: Session, workflow: Workflow, lease: str, *, idle_s: float = 0) -> str:
    """An execution RUNNING under a claim with ``lease``, last heartbeat ``idle_s`` ago."""
    execution = stored_execution(
        session, workflow, heartbeat_at=utcnow() - timedelta(seconds=idle_s), lease=lease
    )
    session.commit()
    return execution.id


def two_nodes(session: Session, user: User) -> Workflow:
    return make_workflow(
        session,
        user,
        [node("start", "trigger", {}), jsonata("shape", "1 + 1")],
        [edge("start", "shape")],
    )


def lease_of(session: Session, execution_id: str) -> str | None:
    return session.execute(
        sa.select(col(Execution.lease)).where(col(Execution.id) == execution_id)
    ).scalar_one()


def test_a_live_claim_is_taken_back_only_with_its_own_lease(session: Session, user: User) -> None:
    # Given: an execution held by a live runner (lease "a", heartbeat just now)
    execution_id = held_execution(session, two_nodes(session, user), "a")

    # Then: a runner carrying no lease, or another one, does not get it
    assert not claim(session.connection(), execution_id, "b")
    assert not claim(session.connection(), execution_id, "b", held="x")
    assert lease_of(session, execution_id) == "a"

    # When: the retry of the run that held "a" claims it
    assert claim(session.connection(), execution_id, "b", held="a")

    # Then: the claim is the retry's; a second copy of that retry is refused
    assert lease_of(session, execution_id) == "b"
    assert not claim(session.connection(), execution_id, "c", held="a")


def test_a_pending_execution_is_claimed_in_one_statement_that_returns_its_start_data(
    session: Session, user: User
) -> None:
    # Given: an execution never started, and one a live runner holds
    workflow = two_nodes(session, user)
    pending = stored_execution(session, workflow, S.PENDING).id
    held = held_execution(session, workflow, "live")
    columns = ("trigger_data", "workflow_version")

    # When / Then: the pending one is claimed, with what a run needs of it
    row = claim_pending(session.connection(), pending, "mine", columns)
    assert row is not None
    assert (row.trigger_data["source"], row.workflow_version) == ("manual", workflow.version)
    assert lease_of(session, pending) == "mine"
    assert session.get(Execution, pending).status is S.RUNNING  # type: ignore[union-attr]
    # And: nothing else is (claim() decides those)
    assert claim_pending(session.connection(), pending, "again", columns) is None
    assert claim_pending(session.connection(), held, "thief", columns) is None
    assert (lease_of(session, pending), lease_of(session, held)) == ("mine", "live")


def test_a_dead_runners_claim_is_taken_over_once_stale_and_a_terminal_one_never(
    session: Session, user: User
) -> None:
    # Given: an execution whose runner has not beaten for longer than STALE_AFTER_S
    workflow = two_nodes(session, user)
    execution_id = held_execution(session, workflow, "a", idle_s=STALE_AFTER_S + 1)

    # Then: any runner takes it over (as before: no lease needed)
    assert claim(session.connection(), execution_id, "b")

    # And: a finished execution is claimed by nobody, not even with its lease
    session.execute(
        sa.update(Execution).where(col(Execution.id) == execution_id).values(status=S.COMPLETED)
    )
    assert not claim(session.connection(), execution_id, "c", held="b")


def run_once(execution_id: str, lease: str | None) -> list[tuple[str, int]]:
    """One delivery of the execution's message carrying ``lease``, in this thread;
    returns what it scheduled (execution id, delay in ms)."""
    scheduled: list[tuple[str, int]] = []
    runner = ExecutionRunner(
        execution_id,
        bus=get_event_bus(),
        store=process_secret_store(),
        schedule=lambda execution, delay: scheduled.append((execution, delay)),
        lease=lease,
    )
    asyncio.run(runner.run())
    return scheduled


def test_a_delivery_carrying_the_live_claims_lease_runs_at_once(
    database_url: str, session: Session, user: User
) -> None:
    # Given: an execution whose claim "a" is fresh (the run holding it raised)
    execution_id = held_execution(session, two_nodes(session, user), "a")

    # When: the retry of that run's message arrives, carrying "a"
    scheduled = run_once(execution_id, "a")

    # Then: it ran the execution to the end at once, under a new lease
    execution, runs = wait_for(execution_id, timeout=5)
    assert execution.status is S.COMPLETED
    assert runs["shape"].output["result"] == 2
    assert scheduled == []
    assert execution.lease not in (None, "a")


def test_a_delivery_carrying_an_old_lease_leaves_a_live_claim_alone(
    database_url: str, session: Session, user: User
) -> None:
    # Given: an execution another live runner claimed ("live") after an earlier run
    # holding "old" had raised
    execution_id = held_execution(session, two_nodes(session, user), "live")

    # When: a late retry of that earlier run arrives, carrying "old"
    scheduled = run_once(execution_id, "old")

    # Then: it ran nothing and looks again once a live claim would have gone stale
    assert scheduled == [(execution_id, int(STALE_AFTER_S * 1000))]
    with Session(session.get_bind()) as fresh:
        execution = fresh.get(Execution, execution_id)
        assert execution is not None
        assert (execution.status, execution.lease) == (S.RUNNING, "live")
        assert (
            fresh.exec(sa.select(NodeRun).where(col(NodeRun.execution_id) == execution_id)).all()
            == []
        )


def test_a_run_that_fails_right_after_its_claim_carries_the_claims_lease(
    database_url: str, session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a pending execution, and a database that fails the read that follows the
    # claim (loading the workflow version, as when PostgreSQL stops at that moment)
    workflow = two_nodes(session, user)
    execution_id = stored_execution(session, workflow, S.PENDING).id
    session.commit()

    def failing_load_plan(*_: Any) -> Any:
        raise sa.exc.OperationalError("SELECT workflow_versions", {}, ConnectionError("closed"))

    monkeypatch.setattr(runner_module, "load_plan", failing_load_plan)
    runner = ExecutionRunner(
        execution_id, bus=get_event_bus(), store=process_secret_store(), schedule=print
    )

    # When: the run raises
    with pytest.raises(sa.exc.OperationalError):
        asyncio.run(runner.run())

    # Then: the lease it carries for its retry is the one its committed claim holds,
    # so the retry takes the execution back at once
    assert runner.lease is not None
    assert lease_of(session, execution_id) == runner.lease
    monkeypatch.undo()
    assert run_once(execution_id, runner.lease) == []
    assert wait_for(execution_id, timeout=5)[0].status is S.COMPLETED


def test_a_run_whose_write_failed_is_finished_by_its_retry_without_waiting(
    engine: str,
    session: Session,
    user: User,
    allow_loopback: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given: start -> call (http) -> after, and a database write that fails once: the
    # one that would record the call's success (as when PostgreSQL restarts then)
    failures: list[str | None] = []  #: the lease the failing run held
    flush = Memo.flush

    def flush_failing_once(memo: Memo) -> None:
        call = memo.pending.get("call")
        if not failures and call is not None and call.status is NodeRunStatus.SUCCEEDED:
            with statement_scope() as connection:
                failures.append(lease_of(Session(bind=connection), memo.execution_id))
            raise sa.exc.OperationalError("UPDATE executions", {}, ConnectionError("closed"))
        flush(memo)

    monkeypatch.setattr(Memo, "flush", flush_failing_once)
    with serve({"POST /work": lambda request: Response.json({"ok": True})}) as server:
        workflow = make_workflow(
            session,
            user,
            [
                node("start", "trigger", {}),
                node("call", "http", {"method": "POST", "url": f"{server.url}/work"}),
                jsonata("after", "nodes.call.body.ok"),
            ],
            [edge("start", "call"), edge("call", "after")],
        )

        # When: it runs (the run raises; Dramatiq retries the message after 1-2 s)
        began = time.monotonic()
        trigger = {"source": "manual", "data": {}, "headers": {}}
        execution_id = start_execution(session=session, workflow=workflow, trigger=trigger).id
        execution, runs = wait_for(execution_id, timeout=RESUMED_S)
        took = time.monotonic() - began

    # Then: the retry took the run's claim back at once and finished it
    assert failures and failures[0] is not None, "the failing run held a lease"
    assert execution.status is S.COMPLETED, execution.error
    assert took < RESUMED_S < STALE_AFTER_S
    assert execution.lease != failures[0]
    # And: only the node whose success was never written ran again
    assert runs["call"].attempt == 2
    assert len(server.requests) == 2
    assert (runs["start"].attempt, runs["after"].attempt) == (1, 1)
    assert runs["after"].output["result"] is True


def test_no_attempt_outlives_a_run_that_raised() -> None:
    # Given: two node attempts at once, one of which raises (a failed write)
    finished: list[str] = []

    async def slow() -> str:
        await asyncio.sleep(0.5)
        finished.append("slow")
        return "slow"

    async def failing() -> str:
        await asyncio.sleep(0.01)
        raise sa.exc.OperationalError("INSERT", {}, ConnectionError("closed"))

    async def run() -> list[asyncio.Task[Any]]:
        with pytest.raises(sa.exc.OperationalError):
            await _all([slow(), failing()])
        return [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]

    # When: the run ends with the exception
    loop = asyncio.new_event_loop()
    try:
        left = loop.run_until_complete(run())
        loop.run_until_complete(asyncio.sleep(0.6))  # the loop runs again (next message)
    finally:
        loop.close()

    # Then: the other attempt was stopped, not left to go on later
    assert left == []
    assert finished == []
