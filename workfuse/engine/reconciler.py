"""The reconciler: re-sends executions whose message was lost.

A message can go missing in three ways: the broker was down when the execution was
stored (or the process died between the commit and the send), so a PENDING execution
waits for nothing; the worker running it died and the broker will not redeliver (the
in-process broker keeps messages in memory only), so a RUNNING execution stops moving;
or the delayed message of a retry was lost the same way, so a RETRYING execution
waits past its retry time. :func:`reconcile` finds each and sends its message again;
the runner skips every node already done, so a needless second message is harmless.

Each execution it sends gets ``heartbeat_at`` stamped first, with a compare-and-set, so
several reconcilers (one per app process) send it once, and a stale execution is
re-sent at most once per ``stale_after_s``, not on every pass.

With the in-process broker (no Redis: the embedded default) the messages live in the
app's memory, so when the app starts, every execution its last run left unfinished
has lost its message: :func:`resume_interrupted` sends each again, without waiting
``stale_after_s`` or a node's timeout. A RUNNING one resumes at once when the app holds
the database's runner lock (:mod:`workfuse.engine.runner_lock`: every earlier app on
that SQLite file has exited), else once its runner has been silent for ``STALE_AFTER_S``
(the rule by which any runner takes over another's run), so a run that an app still
shutting down is finishing is not run twice; a node that was running when its app died
runs again (its call may have been made once already).

Limits: a runner beats (``heartbeat_at``) at least every 10 s while it holds an
execution, and a second runner takes a RUNNING execution only once that heartbeat is
older than ``STALE_AFTER_S``; the reconciler's stamp is set that far in the past so
the runner it sends can start at once. A RUNNING execution whose side-effecting node
started less than the node timeout plus ``stale_after_s`` ago is still left alone
(the stricter, older rule). A large backlog of PENDING messages still in the queue is
re-sent once, then every ``stale_after_s``. :func:`resume_interrupted` reads the ids of
all the unfinished executions at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from workfuse.db import session_scope
from workfuse.db_types import utcnow
from workfuse.engine.broker import send
from workfuse.engine.retry import retry_at
from workfuse.engine.runner import NODE_TIMEOUT_S
from workfuse.engine.state import STALE_AFTER_S
from workfuse.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus

log = logging.getLogger(__name__)

S = ExecutionStatus

DEFAULT_STALE_AFTER_S = 120.0  #: seconds without a heartbeat before a run counts as lost
RESUME_MARGIN_S = 1.0  #: seconds past STALE_AFTER_S before a resumed RUNNING run is sent
PENDING_AFTER_S = 5.0  #: seconds a never-sent PENDING execution waits before a re-send
DEFAULT_INTERVAL_S = 60.0  #: seconds between passes of the reconciler thread
BATCH_SIZE = 500  #: executions examined per query


def reconcile(
    *, stale_after_s: float = DEFAULT_STALE_AFTER_S, pending_after_s: float = PENDING_AFTER_S
) -> int:
    """Re-send every lost execution; returns how many messages were sent.

    Parameters:
      stale_after_s: a RUNNING execution is lost when its ``heartbeat_at`` (or its
        start) is older than this and no side-effecting node may still be running
        (see the module's limits); a RETRYING one when both its heartbeat and its
        earliest ``retryAt`` are; a PENDING one sent before (by a reconciler) when its
        stamp is. Default 120 s.
      pending_after_s: a PENDING execution never stamped is lost when it was stored
        longer ago than this (it should have started by then). Default 5 s.

    An execution whose send fails (broker down) is not counted; it is tried again on a
    later pass.
    """
    sent = 0
    while True:
        now = utcnow()
        stale = now - timedelta(seconds=stale_after_s)
        with session_scope() as session:
            candidates = _candidates(
                session, stale=stale, pending=now - timedelta(seconds=pending_after_s)
            )
            due = [item for item in candidates if _lost(session, item[0], item[1], stale)]
        claimed = [item for item in due if _claim(*item, now=now)]
        sent += _send_claimed(claimed, now=now)
        if len(candidates) < BATCH_SIZE or not claimed:
            return sent


def resume_interrupted(*, before: datetime, runners_gone: bool = False) -> int:
    """Send again every execution still PENDING, RUNNING or RETRYING whose last sign of
    life (heartbeat, or start) is older than ``before``, the moment this app process
    started; returns how many messages were sent. Only for a process with the in-process
    broker, once its workers run: those messages were in the memory of the app's last
    run.

    A RUNNING execution's message is delayed until its heartbeat is
    :data:`STALE_AFTER_S` (plus :data:`RESUME_MARGIN_S`) old, when a runner may take it
    over; with ``runners_gone`` (this process holds the database's runner lock, so no
    other process runs any), it is sent at once with the lease of the runner that held
    it, which the new runner takes over. PENDING and RETRYING ones are sent at once,
    stamped as :func:`reconcile` stamps what it sends (so its passes do not send them
    again)."""
    now = utcnow()
    last_sign = sa.func.coalesce(col(Execution.heartbeat_at), col(Execution.started_at))
    with session_scope() as session:
        rows = cast(
            "list[tuple[str, ExecutionStatus, datetime | None, datetime, str | None]]",
            session.execute(
                sa.select(
                    col(Execution.id),
                    col(Execution.status),
                    col(Execution.heartbeat_at),
                    col(Execution.started_at),
                    col(Execution.lease),
                )
                .where(col(Execution.status).in_([S.PENDING, S.RUNNING, S.RETRYING]))
                .where(last_sign < before)
                .order_by(col(Execution.started_at))
            ).all(),
        )
    sent = 0
    waiting: list[tuple[str, ExecutionStatus, datetime | None]] = []
    for execution_id, status, heartbeat, started, lease in rows:
        if ExecutionStatus(status) is not S.RUNNING:
            waiting.append((execution_id, ExecutionStatus(status), heartbeat))
            continue
        if runners_gone and lease is not None:
            log.info("reconciler: resuming RUNNING execution %s now", execution_id)
            sent += send(execution_id, lease=lease)
            continue
        silent_s = (now - (heartbeat or started)).total_seconds()
        delay_s = max(STALE_AFTER_S + RESUME_MARGIN_S - silent_s, 0.0)
        log.info("reconciler: resuming RUNNING execution %s in %.0f s", execution_id, delay_s)
        if send(execution_id, delay_ms=round(delay_s * 1000)):
            sent += 1
    return sent + _send_claimed([item for item in waiting if _claim(*item, now=now)], now=now)


def _send_claimed(
    claimed: list[tuple[str, ExecutionStatus, datetime | None]], *, now: datetime
) -> int:
    """Send each claimed execution's message; release the claim of a failed send."""
    sent = 0
    for execution_id, status, heartbeat in claimed:
        log.info("reconciler: re-sending %s execution %s", status, execution_id)
        if send(execution_id):
            sent += 1
        else:  # the broker is down: the next pass tries again, not stale_after_s later
            _release(execution_id, status, heartbeat, now=now)
    return sent


def _candidates(
    session: Session, *, stale: datetime, pending: datetime
) -> list[tuple[str, ExecutionStatus, datetime | None]]:
    last_sign = sa.func.coalesce(col(Execution.heartbeat_at), col(Execution.started_at))
    query = (
        select(Execution.id, Execution.status, Execution.heartbeat_at)
        .where(
            sa.or_(
                sa.and_(
                    col(Execution.status) == S.PENDING,
                    col(Execution.heartbeat_at).is_(None),
                    col(Execution.started_at) < pending,
                ),
                sa.and_(
                    col(Execution.status).in_([S.PENDING, S.RUNNING, S.RETRYING]),
                    last_sign < stale,
                ),
            )
        )
        .order_by(col(Execution.started_at))
        .limit(BATCH_SIZE)
    )
    return [
        (execution_id, ExecutionStatus(status), heartbeat)
        for execution_id, status, heartbeat in session.exec(query)
    ]


def _lost(session: Session, execution_id: str, status: ExecutionStatus, stale: datetime) -> bool:
    """The checks the candidate query cannot make: retry times and nodes in flight."""
    if status is S.RETRYING:
        return _retry_overdue(session, execution_id, stale)
    if status is S.RUNNING:
        return not _node_in_flight(session, execution_id, stale - timedelta(seconds=NODE_TIMEOUT_S))
    return True


def _retry_overdue(session: Session, execution_id: str, stale: datetime) -> bool:
    """Is the earliest retry of the execution's waiting nodes older than ``stale``?"""
    errors = session.exec(
        select(NodeRun.error).where(
            NodeRun.execution_id == execution_id, NodeRun.status == NodeRunStatus.RETRYING
        )
    ).all()
    known = [moment for moment in map(retry_at, errors) if moment is not None]
    return not known or min(known) < stale


def _node_in_flight(session: Session, execution_id: str, since: datetime) -> bool:
    """Did a node of the execution start after ``since`` and not finish?"""
    started = session.exec(
        select(NodeRun.id)
        .where(
            NodeRun.execution_id == execution_id,
            NodeRun.status == NodeRunStatus.RUNNING,
            col(NodeRun.started_at) > since,
        )
        .limit(1)
    ).first()
    return started is not None


def _claim(
    execution_id: str, status: ExecutionStatus, heartbeat: datetime | None, *, now: datetime
) -> bool:
    """Stamp ``heartbeat_at`` if nobody changed the row since it was read. The stamp is
    :data:`STALE_AFTER_S` in the past, so the runner that gets the message may claim the
    execution at once, while the next passes still see it as just re-sent."""
    unchanged = (
        col(Execution.heartbeat_at).is_(None)
        if heartbeat is None
        else col(Execution.heartbeat_at) == heartbeat
    )
    with session_scope() as session:
        result = session.execute(
            sa.update(Execution)
            .where(col(Execution.id) == execution_id, col(Execution.status) == status, unchanged)
            .values(heartbeat_at=now - timedelta(seconds=STALE_AFTER_S))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _release(
    execution_id: str, status: ExecutionStatus, heartbeat: datetime | None, *, now: datetime
) -> None:
    """Undo :func:`_claim` after a failed send (if nobody changed the row since)."""
    with session_scope() as session:
        session.execute(
            sa.update(Execution)
            .where(
                col(Execution.id) == execution_id,
                col(Execution.status) == status,
                col(Execution.heartbeat_at) == now - timedelta(seconds=STALE_AFTER_S),
            )
            .values(heartbeat_at=heartbeat)
        )


@dataclass(frozen=True)
class Periodic:
    """Other work for the reconciler's thread: ``run`` after the thread's first pass,
    then after the first pass that ends ``interval_s`` seconds or more after it last
    ran. A failure is logged (as ``"<name> pass failed"``), never raised."""

    name: str
    interval_s: float
    run: Callable[[], object]


def start_reconciler_thread(
    interval_s: float = DEFAULT_INTERVAL_S,
    *,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
    resume_before: datetime | None = None,
    runners_gone: bool = False,
    stop: threading.Event | None = None,
    periodic: Sequence[Periodic] = (),
) -> threading.Thread:
    """Run :func:`reconcile` now and then every ``interval_s`` seconds in a daemon
    thread, until ``stop`` is set; with ``resume_before`` (the start of an app with the
    in-process broker), :func:`resume_interrupted` (with ``runners_gone``) instead of
    the first pass. The ``periodic`` work (the app's retention passes) runs in the same
    thread, after the passes. A failed pass (database down) is logged and the next pass
    tries again."""
    stopped = stop or threading.Event()

    def loop() -> None:
        due = [time.monotonic()] * len(periodic)  #: when each periodic work runs next
        resume = resume_before
        while not stopped.is_set():
            try:
                if resume is not None:  # it covers everything a first pass would send
                    resume_interrupted(before=resume, runners_gone=runners_gone)
                    resume = None
                else:
                    reconcile(stale_after_s=stale_after_s)
            except Exception:  # the thread must outlive a database outage
                log.exception("reconciler pass failed")
            for index, work in enumerate(periodic):
                if time.monotonic() >= due[index]:
                    due[index] = time.monotonic() + work.interval_s
                    try:
                        work.run()
                    except Exception:
                        log.exception("%s pass failed", work.name)
            stopped.wait(interval_s)

    thread = threading.Thread(target=loop, name="workfuse-reconciler", daemon=True)
    thread.start()
    return thread
