"""Execution and node-run statuses and the tables of allowed transitions.

Every status change of an execution is a compare-and-set in the database (``UPDATE ...
WHERE status IN (allowed sources)``), so two workers, or a worker and a person pressing
Cancel, cannot both win, and a terminal status is never overwritten. A node run's status
is changed by the one runner holding the execution, in its memory first
(:class:`~workfuse.engine.transitions.Transitions` checks :data:`NODE_TRANSITIONS`); a
side-effecting node's attempt is also a compare-and-set in the database
(:func:`~workfuse.engine.checkpoint.claim_attempt`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from workfuse.db_types import utcnow
from workfuse.models import Execution, ExecutionStatus, NodeRunStatus

S = ExecutionStatus
N = NodeRunStatus

#: target status -> the statuses it may be reached from.
TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    S.RUNNING: frozenset({S.PENDING, S.RETRYING, S.RUNNING}),  # RUNNING: a redelivery resumes
    S.RETRYING: frozenset({S.RUNNING}),
    S.COMPLETED: frozenset({S.RUNNING}),
    S.FAILED: frozenset({S.PENDING, S.RUNNING, S.RETRYING}),
    S.CANCELLED: frozenset({S.PENDING, S.RUNNING, S.RETRYING}),
}
TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELLED})

#: target node-run status -> the statuses it may be reached from. A node run that
#: succeeded or was skipped is never changed again; a failed one neither, since its
#: failure ends the execution in the same checkpoint. RUNNING from RUNNING: an attempt
#: interrupted by a crash runs again; from RETRYING: the next attempt.
NODE_TRANSITIONS: dict[NodeRunStatus, frozenset[NodeRunStatus]] = {
    N.RUNNING: frozenset({N.PENDING, N.RUNNING, N.RETRYING}),
    N.SUCCEEDED: frozenset({N.RUNNING}),
    N.RETRYING: frozenset({N.RUNNING}),
    N.FAILED: frozenset({N.RUNNING}),
    N.SKIPPED: frozenset({N.PENDING}),
}
#: Node runs that are done: a resumed run does not run them again.
NODE_DONE = frozenset({N.SUCCEEDED, N.SKIPPED})
STALE_AFTER_S = 45.0  #: seconds without a heartbeat after which a runner counts as gone


def transition(
    session: Session,
    execution_id: str,
    target: ExecutionStatus,
    **values: object,
) -> bool:
    """Move the execution to ``target`` if its current status allows it; set ``values``
    (other columns) in the same statement. False when it did not (changed elsewhere)."""
    # On the connection, not the ORM session: an ORM-enabled UPDATE would also sync
    # the session's objects, which costs more than the statement.
    statement, parameters = transition_statement(execution_id, target, **values)
    return bool(session.connection().execute(statement, parameters).rowcount)


def transition_statement(
    execution_id: str, target: ExecutionStatus, **values: object
) -> tuple[sa.Update, dict[str, object]]:
    """The compare-and-set UPDATE of :func:`transition` and its parameters (its row
    count says whether the status changed)."""
    now = utcnow()
    if target in TERMINAL:
        values.setdefault("completed_at", now)
    parameters = {"_execution_id": execution_id, "_now": now, **values}
    return _statement(target, frozenset(values)), parameters


@functools.cache
def _statement(target: ExecutionStatus, columns: frozenset[str]) -> sa.Update:
    """The compare-and-set UPDATE for ``target`` setting ``columns`` (built once)."""
    table = Execution.__table__  # type: ignore[attr-defined]
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("_execution_id"))
        .where(status_is(table, TRANSITIONS[target]))
        .values(
            status=target,
            heartbeat_at=sa.bindparam("_now"),
            **{column: sa.bindparam(column) for column in columns},
        )
    )


def claim(
    connection: sa.Connection, execution_id: str, lease: str, *, held: str | None = None
) -> bool:
    """Take the execution for this runner (status RUNNING, a fresh heartbeat, ``lease``
    as the claim's token; ``lease`` must be new for each claim): from PENDING or
    RETRYING; from RUNNING if its runner's heartbeat is older than
    :data:`STALE_AFTER_S` (that runner is gone), or at once if its lease is ``held``.

    ``held`` is the lease of a run that ended by raising (its database write failed,
    say), carried by the retry of the same message: while the row still bears that
    lease, nobody has claimed the execution since, and that run holds nothing any
    more. A claim by any other runner put a new lease on the row, so a live one is
    never taken over; and two copies of one retry cannot both win (the first changes
    the lease). So of two copies of a message, one runs the execution and the other
    stops at once."""
    now = utcnow()
    parameters = {
        "_execution_id": execution_id,
        "_now": now,
        "_stale": now - timedelta(seconds=STALE_AFTER_S),
        "_lease": lease,
        "_held": held,
    }
    return bool(connection.execute(_CLAIM, parameters).rowcount)


def claim_pending(
    connection: sa.Connection, execution_id: str, lease: str, columns: Sequence[str]
) -> sa.Row[Any] | None:
    """:func:`claim` for its common case, an execution never started (PENDING), in one
    statement that also returns the execution's ``columns``; ``None`` when it is not
    PENDING (then :func:`claim` decides)."""
    parameters = {"_execution_id": execution_id, "_now": utcnow(), "_lease": lease}
    return connection.execute(_claim_pending_statement(tuple(columns)), parameters).first()


@functools.cache
def _claim_pending_statement(columns: tuple[str, ...]) -> sa.Update:
    table = Execution.__table__  # type: ignore[attr-defined]
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("_execution_id"))
        .where(table.c.status == S.PENDING.value)
        .values(status=S.RUNNING, heartbeat_at=sa.bindparam("_now"), lease=sa.bindparam("_lease"))
        .returning(*(table.c[name] for name in columns))
    )


def _claim_statement() -> sa.Update:
    table = Execution.__table__  # type: ignore[attr-defined]
    return (
        sa.update(table)
        .where(table.c.id == sa.bindparam("_execution_id"))
        .where(
            sa.or_(
                status_is(table, (S.PENDING, S.RETRYING)),
                sa.and_(
                    table.c.status == S.RUNNING.value,
                    sa.or_(
                        table.c.heartbeat_at.is_(None),
                        table.c.heartbeat_at < sa.bindparam("_stale"),
                        # NULL when nothing is held: never true
                        table.c.lease == sa.bindparam("_held"),
                    ),
                ),
            )
        )
        .values(status=S.RUNNING, heartbeat_at=sa.bindparam("_now"), lease=sa.bindparam("_lease"))
    )


def status_is(table: sa.Table, statuses: Iterable[ExecutionStatus]) -> sa.ColumnElement[bool]:
    """``status = a OR status = b ...``: unlike ``IN (list)``, whose list SQLAlchemy
    renders anew at every execution, a statement with plain bound values is reused
    as it is (on PostgreSQL, prepared once)."""
    return sa.or_(*(table.c.status == status.value for status in sorted(statuses)))


_CLAIM = _claim_statement()
