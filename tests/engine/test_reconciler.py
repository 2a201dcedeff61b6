"""The reconciler: executions whose message was lost are sent again, and only those."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.engine.helpers import edge, jsonata, make_workflow, node, wait_for
from workfuse.db_types import utcnow
from workfuse.engine import broker
from workfuse.engine.reconciler import (
    Periodic,
    reconcile,
    resume_interrupted,
    start_reconciler_thread,
)
from workfuse.engine.runner import NODE_TIMEOUT_S
from workfuse.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, User, Workflow

S = ExecutionStatus


@pytest.fixture
def workflow(session: Session, user: User) -> Workflow:
    return make_workflow(
        session,
        user,
        [node("start", "trigger", {}), jsonata("double", "trigger.data.n * 2")],
        [edge("start", "double")],
    )


def stored(
    session: Session,
    workflow: Workflow,
    status: ExecutionStatus,
    *,
    age_s: float,
    heartbeat_age_s: float | None = None,
    lease: str | None = None,
) -> Execution:
    """An execution row as a crash would leave it: stored, but no message on its way."""
    now = utcnow()
    execution = Execution(
        status=status,
        trigger_data={"source": "manual", "data": {"n": 21}, "headers": {}},
        workflow_version=workflow.version,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        started_at=now - timedelta(seconds=age_s),
        heartbeat_at=None if heartbeat_age_s is None else now - timedelta(seconds=heartbeat_age_s),
        lease=lease,
    )
    session.add(execution)
    session.commit()
    return execution


def node_run(session: Session, execution: Execution, node_id: str, **fields: Any) -> NodeRun:
    run = NodeRun(execution_id=execution.id, node_id=node_id, **fields)
    session.add(run)
    session.commit()
    return run


def status_of(session: Session, execution: Execution) -> ExecutionStatus:
    session.expire_all()
    row = session.get(Execution, execution.id)
    assert row is not None
    return row.status


def test_a_stored_but_never_sent_execution_is_run(
    engine: str, session: Session, workflow: Workflow
) -> None:
    # Given: a PENDING execution stored 10 s ago whose message was never sent
    execution = stored(session, workflow, S.PENDING, age_s=10)

    # When: the reconciler runs, twice
    first = reconcile()
    second = reconcile()

    # Then: it was sent once, and the workers ran it to the end
    assert (first, second) == (1, 0)
    finished, runs = wait_for(execution.id)
    assert finished.status is S.COMPLETED, finished.error
    assert runs["double"].output == {"result": 42, "logs": []}


def test_a_running_execution_with_an_old_heartbeat_is_sent_again(
    engine: str, session: Session, workflow: Workflow
) -> None:
    # Given: a RUNNING execution whose worker died ten minutes ago after its first node
    execution = stored(session, workflow, S.RUNNING, age_s=700, heartbeat_age_s=600)
    before = utcnow() - timedelta(seconds=650)
    node_run(
        session,
        execution,
        "start",
        status=NodeRunStatus.SUCCEEDED,
        attempt=1,
        output={"source": "manual", "data": {"n": 21}, "headers": {}},
        started_at=before,
        finished_at=before,
    )

    # When: the reconciler runs
    sent = reconcile(stale_after_s=120)

    # Then: it is sent again and finishes, without running the finished node again
    assert sent == 1
    finished, runs = wait_for(execution.id)
    assert finished.status is S.COMPLETED, finished.error
    assert runs["start"].started_at == before
    assert runs["double"].output == {"result": 42, "logs": []}


@pytest.mark.parametrize(("node_age_s", "sent"), [(60, 0), (NODE_TIMEOUT_S + 200, 1)])
def test_a_node_that_may_still_be_running_keeps_its_execution_alive(
    engine: str, session: Session, workflow: Workflow, node_age_s: float, sent: int
) -> None:
    # Given: a RUNNING execution with an old heartbeat whose node started ``node_age_s``
    # ago and is on record as running (as a side-effecting node is while it runs)
    execution = stored(session, workflow, S.RUNNING, age_s=3600, heartbeat_age_s=3600)
    started = utcnow() - timedelta(seconds=node_age_s)
    node_run(
        session, execution, "double", status=NodeRunStatus.RUNNING, attempt=1, started_at=started
    )

    # When: the reconciler runs
    count = reconcile(stale_after_s=120)

    # Then: within the node timeout (plus stale_after_s) it is left to its worker; after
    # that it is sent again and finishes
    assert count == sent
    if sent:
        assert wait_for(execution.id)[0].status is S.COMPLETED
    else:
        time.sleep(0.3)
        assert status_of(session, execution) is S.RUNNING


def test_a_retry_whose_delayed_message_was_lost_is_sent_again(
    engine: str, session: Session, workflow: Workflow
) -> None:
    # Given: a RETRYING execution whose retry was due five minutes ago
    execution = stored(session, workflow, S.RETRYING, age_s=900, heartbeat_age_s=800)
    retry_at: datetime = utcnow() - timedelta(seconds=300)
    node_run(
        session,
        execution,
        "double",
        status=NodeRunStatus.RETRYING,
        attempt=1,
        error={"message": "boom", "code": "X", "retryable": True, "retryAt": retry_at.isoformat()},
    )

    # When: the reconciler runs
    sent = reconcile(stale_after_s=120)

    # Then: the retry happens (attempt 2) and the execution completes
    assert sent == 1
    finished, runs = wait_for(execution.id)
    assert finished.status is S.COMPLETED, finished.error
    assert runs["double"].attempt == 2


def test_live_and_finished_executions_are_left_alone(
    engine: str, session: Session, workflow: Workflow
) -> None:
    # Given: a fresh PENDING one, a RUNNING one with a fresh heartbeat, a RETRYING one
    # waiting for a retry due in an hour, and old finished ones
    pending = stored(session, workflow, S.PENDING, age_s=0.5)
    running = stored(session, workflow, S.RUNNING, age_s=3600, heartbeat_age_s=5)
    waiting = stored(session, workflow, S.RETRYING, age_s=3600, heartbeat_age_s=600)
    later = (utcnow() + timedelta(hours=1)).isoformat()
    node_run(
        session,
        waiting,
        "double",
        status=NodeRunStatus.RETRYING,
        attempt=1,
        error={"message": "boom", "code": "X", "retryable": True, "retryAt": later},
    )
    for status in (S.COMPLETED, S.FAILED, S.CANCELLED):
        stored(session, workflow, status, age_s=3600, heartbeat_age_s=3600)

    # When: the reconciler runs
    sent = reconcile(stale_after_s=120)

    # Then: nothing is sent, and nothing moves
    assert sent == 0
    time.sleep(0.3)
    assert status_of(session, pending) is S.PENDING
    assert status_of(session, running) is S.RUNNING
    assert status_of(session, waiting) is S.RETRYING


def test_a_refused_send_is_not_counted_and_is_tried_again(
    engine: str, session: Session, workflow: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a never-sent execution and a broker that refuses messages
    execution = stored(session, workflow, S.PENDING, age_s=10)

    def refuse(execution_id: str, delay_ms: int | None = None) -> None:
        raise ConnectionError("broker down")

    # When: the reconciler runs while the broker is down, then after it is back
    with monkeypatch.context() as patch:
        patch.setattr(broker, "enqueue", refuse)
        while_down = reconcile()
    after = reconcile()  # the next pass, with the app's defaults

    # Then: only the second pass counts (the failed send did not leave the execution
    # stamped as re-sent, which would delay it by ``stale_after_s``), and it runs
    assert (while_down, after) == (0, 1)
    assert wait_for(execution.id)[0].status is S.COMPLETED


def test_the_reconciler_thread_runs_passes_until_stopped(
    engine: str, session: Session, workflow: Workflow
) -> None:
    # Given: a never-sent execution
    execution = stored(session, workflow, S.PENDING, age_s=10)
    stop = threading.Event()

    # When: the reconciler thread runs
    thread = start_reconciler_thread(interval_s=0.05, stop=stop)

    # Then: the execution runs; the thread is a daemon and ends when told to
    try:
        assert wait_for(execution.id)[0].status is S.COMPLETED
        assert thread.daemon and thread.is_alive()
    finally:
        stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_reconciler_thread_runs_its_periodic_work_and_outlives_its_failures(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: work due at every pass, work due once an hour that fails, passes every 20 ms
    counted: list[float] = []
    failed: list[float] = []

    def failing() -> None:
        failed.append(time.monotonic())
        raise RuntimeError("disk full")

    periodic = [
        Periodic("count", 0.0, lambda: counted.append(time.monotonic())),
        Periodic("cleanup", 3600.0, failing),
    ]
    stop = threading.Event()

    # When: the thread runs for a while
    thread = start_reconciler_thread(interval_s=0.02, stop=stop, periodic=periodic)
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=5)

    # Then: the frequent work ran after pass after pass, the hourly one once; its failure
    # was logged and stopped nothing
    assert len(counted) >= 3
    assert len(failed) == 1
    assert "cleanup pass failed" in caplog.text
    assert not thread.is_alive()


def test_an_app_that_holds_the_runner_lock_resumes_a_running_execution_at_once(
    engine: str, session: Session, workflow: Workflow
) -> None:
    # Given: a RUNNING execution inside a node, whose runner beat 2 s ago (its app has
    # exited: the restarted app holds the database's runner lock)
    beating = stored(session, workflow, S.RUNNING, age_s=30, heartbeat_age_s=2, lease="gone")
    started = utcnow() - timedelta(seconds=3)
    node_run(
        session, beating, "double", status=NodeRunStatus.RUNNING, attempt=1, started_at=started
    )
    restarted = utcnow() - timedelta(seconds=1)

    # When: the restarted app resumes what was left before it started
    sent = resume_interrupted(before=restarted, runners_gone=True)

    # Then: it is taken over at once (not 45 s later), the interrupted node running again
    assert sent == 1
    finished, runs = wait_for(beating.id, timeout=10)
    assert finished.status is S.COMPLETED, finished.error
    assert runs["double"].attempt == 2
    assert finished.lease != "gone"


def test_an_app_restart_resumes_what_its_last_run_left_once_its_runner_is_silent(
    engine: str, session: Session, workflow: Workflow
) -> None:
    # Given: what an app running its workers in-process left, which the reconciler
    # leaves alone for now: a PENDING execution, a RUNNING one inside a node (left
    # alone for the node's timeout) whose runner has been silent for 50 s, and a RUNNING
    # one whose runner beat 2 s ago (an app still shutting down may be finishing it);
    # and one started after the restart
    queued = stored(session, workflow, S.PENDING, age_s=4)
    silent = stored(session, workflow, S.RUNNING, age_s=60, heartbeat_age_s=50)
    in_flight = {"status": NodeRunStatus.RUNNING, "attempt": 1}
    node_run(session, silent, "double", started_at=utcnow() - timedelta(seconds=55), **in_flight)
    beating = stored(session, workflow, S.RUNNING, age_s=30, heartbeat_age_s=2)
    node_run(session, beating, "double", started_at=utcnow() - timedelta(seconds=20), **in_flight)
    restarted = utcnow() - timedelta(seconds=1)
    assert reconcile() == 0
    new = stored(session, workflow, S.RUNNING, age_s=0.5, heartbeat_age_s=0.5)

    # When: the restarted app resumes what was left before it started
    sent = resume_interrupted(before=restarted)

    # Then: the PENDING one and the silent one finish (the interrupted node runs again)
    assert sent == 3
    assert wait_for(queued.id)[0].status is S.COMPLETED
    finished, runs = wait_for(silent.id)
    assert finished.status is S.COMPLETED, finished.error
    assert runs["double"].attempt == 2
    # And: the one whose runner beats is not taken over yet (its message waits until
    # it has been silent for STALE_AFTER_S), nor is the new one
    time.sleep(0.5)
    for execution in (beating, new):
        assert status_of(session, execution) is S.RUNNING
    attempts = session.exec(select(NodeRun.attempt).where(NodeRun.execution_id == beating.id)).all()
    assert attempts == [1]
