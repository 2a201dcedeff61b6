"""How the runner's checkpoints and attempt claims reach the database.

A checkpoint (:func:`save`) writes the node runs and log lines the runner holds and,
in the same transaction, ends with one UPDATE of the execution: its heartbeat
(:data:`HEARTBEAT`, which reads the status back, so the next cancellation check needs
no read of its own) or a status change
(:func:`~workfuse.engine.state.transition_statement`).

On SQLite that is up to three statements in one transaction. On PostgreSQL it is one
statement: the rows travel as two JSON arrays that ``jsonb_to_recordset`` unpacks in
data-modifying CTEs in front of the UPDATE (PostgreSQL runs every part of a statement,
read or not, and a single statement is atomic, so it is sent in autocommit, without
``BEGIN``/``COMMIT``). Each round trip to PostgreSQL costs about 0.1 ms here, and
sending a batch of 41 node runs and 41 log lines row by row took about 4 ms of the
database's time against under 2 ms as arrays.

The claim of a side-effecting node's attempt (:func:`claim_attempt`) is one statement
on both databases. When a side-effecting node is followed by another, the checkpoint of
the first and the claim of the second are one statement on PostgreSQL as well
(:func:`save_and_claim`): one commit per side-effecting node instead of two. Run them
on a :func:`~workfuse.db.statement_scope` connection.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from workfuse.engine.state import TERMINAL, status_is
from workfuse.models import Execution, ExecutionLog, ExecutionStatus, NodeRun

Row = Mapping[str, Any]
#: An UPDATE of the execution and its parameters: what a checkpoint ends with.
FinalUpdate = tuple[sa.Update, Mapping[str, Any]]

_RUNS = NodeRun.__table__  # type: ignore[attr-defined]
_LOGS = ExecutionLog.__table__  # type: ignore[attr-defined]
_EXECUTIONS = Execution.__table__  # type: ignore[attr-defined]
_KEY = ("execution_id", "node_id")  #: one node run per node per execution
#: Columns a checkpoint overwrites when the node run exists (never its id or key).
_UPSERT_COLUMNS = tuple(c.name for c in _RUNS.columns if c.name not in ("id", *_KEY))

#: The heartbeat: parameters ``execution_id`` and ``now``; returns the status (no row:
#: the execution was deleted).
HEARTBEAT = (
    sa.update(_EXECUTIONS)
    .where(_EXECUTIONS.c.id == sa.bindparam("execution_id"))
    .values(heartbeat_at=sa.bindparam("now"))
    .returning(_EXECUTIONS.c.status)
)


def save(
    connection: sa.Connection, runs: Sequence[Row], logs: Sequence[Row], final: FinalUpdate
) -> sa.CursorResult[Any]:
    """Upsert ``runs`` (node runs, every column), insert ``logs`` (log lines, every
    column), then run ``final``; returns ``final``'s result (its row count, its
    RETURNING rows)."""
    statement, parameters = final
    if connection.dialect.name == "postgresql":
        arrays = {"_runs": _json_array(runs), "_logs": _json_array(logs)}
        return connection.execute(_with_rows_written(statement), {**parameters, **arrays})
    if runs:
        connection.execute(_SQLITE_UPSERT, list(runs))
    if logs:
        connection.execute(_INSERT_LOGS, list(logs))
    return connection.execute(statement, parameters)


def save_and_claim(
    connection: sa.Connection,
    runs: Sequence[Row],
    logs: Sequence[Row],
    now: datetime,
    claim: Row,
    seen_attempt: int,
) -> tuple[ExecutionStatus | None, bool]:
    """:func:`save` with the :data:`HEARTBEAT` at ``now``, and :func:`claim_attempt` of
    the run ``claim`` (of the same execution, not among ``runs``) at once, atomically.
    The claim is refused while the execution is finished or cancelled. Returns the
    status the heartbeat read (None: the execution is gone) and whether the claim won."""
    if connection.dialect.name == "postgresql":
        parameters = {
            "now": now,
            **_attempt_parameters(claim, seen_attempt),
            "_runs": _json_array(runs),
            "_logs": _json_array(logs),
            "_claim": _json_array([claim]),
        }
        row = connection.execute(_saved_and_claimed(first=seen_attempt == 0), parameters).first()
        return (None, False) if row is None else (row[0], bool(row[1]))
    heartbeat = {"execution_id": claim["execution_id"], "now": now}
    status = save(connection, runs, logs, (HEARTBEAT, heartbeat)).scalar_one_or_none()
    if status is None or status in TERMINAL:
        return status, False
    return status, claim_attempt(connection, claim, seen_attempt)


def claim_attempt(connection: sa.Connection, run: Row, seen_attempt: int) -> bool:
    """Put a node's attempt on record unless another runner did first: insert the run
    when no row exists (``seen_attempt`` 0), else move its attempt number on from
    ``seen_attempt`` (a compare-and-set). Returns whether this call won."""
    if seen_attempt == 0:
        # rowcount is not reported for INSERT ... ON CONFLICT: RETURNING says it.
        insert = _INSERT_IF_ABSENT[connection.dialect.name]
        return connection.execute(insert, dict(run)).first() is not None
    parameters = _attempt_parameters(run, seen_attempt)
    return bool(connection.execute(_NEXT_ATTEMPT, parameters).rowcount)


def _attempt_parameters(run: Row, seen_attempt: int) -> dict[str, Any]:
    """The parameters of :data:`_NEXT_ATTEMPT` for ``run``."""
    return {
        "_execution_id": run["execution_id"],
        "_node_id": run["node_id"],
        "_seen_attempt": seen_attempt,
        "_attempt": run["attempt"],
        "_status": run["status"],
        "_started_at": run["started_at"],
    }


# --- statements (built once: building one costs more than running it) ------------------


def _upsert(insert: Any) -> Any:
    """``insert`` of node runs, overwriting the run of the same node (never its id)."""
    return insert.on_conflict_do_update(
        index_elements=_KEY, set_={name: insert.excluded[name] for name in _UPSERT_COLUMNS}
    )


_INSERT_LOGS = sa.insert(_LOGS)
_SQLITE_UPSERT = _upsert(sqlite_insert(_RUNS))  #: executemany on SQLite
#: INSERT ... ON CONFLICT DO NOTHING RETURNING id for a node run, per dialect name.
_INSERT_IF_ABSENT = {
    name: insert(_RUNS).on_conflict_do_nothing(index_elements=_KEY).returning(_RUNS.c.id)
    for name, insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_NEXT_ATTEMPT = (
    sa.update(_RUNS)
    .where(
        _RUNS.c.execution_id == sa.bindparam("_execution_id"),
        _RUNS.c.node_id == sa.bindparam("_node_id"),
        _RUNS.c.attempt == sa.bindparam("_seen_attempt"),
    )
    .values(
        attempt=sa.bindparam("_attempt"),
        status=sa.bindparam("_status"),
        started_at=sa.bindparam("_started_at"),
        error=sa.null(),
    )
)


@functools.cache
def _with_rows_written(final: sa.Update) -> Any:
    """``final`` behind two CTEs: the node runs upserted from the JSON array ``_runs``
    and the log lines inserted from ``_logs`` (PostgreSQL; built once per UPDATE, and
    the UPDATEs are themselves built once)."""
    runs = _records("_runs", _RUNS)
    upsert = _upsert(
        postgresql_insert(_RUNS).from_select([c.name for c in _RUNS.columns], sa.select(*runs.c))
    )
    logs = _records("_logs", _LOGS)
    insert_logs = sa.insert(_LOGS).from_select([c.name for c in _LOGS.columns], sa.select(*logs.c))
    return final.add_cte(upsert.cte("runs_written"), insert_logs.cte("logs_written"))


@functools.cache
def _saved_and_claimed(*, first: bool) -> Any:
    """The heartbeat behind the CTEs of :func:`_with_rows_written` and one that claims a
    node's attempt while the execution is live: the run inserted from the one-row JSON
    array ``_claim`` when ``first`` (no row yet), else its attempt moved on from
    ``_seen_attempt``. Returns the status and how many claims won (PostgreSQL). The
    execution's id is ``_execution_id``: a parameter named like a column of the table a
    CTE updates (``execution_id``) would be added to that UPDATE's SET clause."""
    executions = _EXECUTIONS.alias("live")
    live = (
        sa.select(executions.c.id)
        .where(
            executions.c.id == sa.bindparam("_execution_id"),
            status_is(executions, set(ExecutionStatus) - TERMINAL),
        )
        .exists()
    )
    claim: Any
    if first:
        run = _records("_claim", _RUNS)
        claim = (
            postgresql_insert(_RUNS)
            .from_select([c.name for c in _RUNS.columns], sa.select(*run.c).where(live))
            .on_conflict_do_nothing(index_elements=_KEY)
            .returning(_RUNS.c.id)
        )
    else:
        claim = _NEXT_ATTEMPT.where(live).returning(_RUNS.c.id)
    claimed = claim.cte("claimed")
    won = sa.select(sa.func.count()).select_from(claimed).scalar_subquery()
    heartbeat = (
        sa.update(_EXECUTIONS)
        .where(_EXECUTIONS.c.id == sa.bindparam("_execution_id"))
        .values(heartbeat_at=sa.bindparam("now"))
        .returning(_EXECUTIONS.c.status, won)
    )
    return _with_rows_written(heartbeat).add_cte(claimed)


def _records(name: str, table: sa.Table) -> Any:
    """``jsonb_to_recordset(:name) AS name(<table's columns and types>)``."""
    rows = sa.cast(sa.bindparam(name, type_=sa.Text), JSONB)
    columns = [sa.column(c.name, c.type) for c in table.columns]
    return (
        sa.func.jsonb_to_recordset(rows)
        .table_valued(*columns)
        .render_derived(name=name.strip("_"), with_types=True)
    )


def _json_array(rows: Sequence[Row]) -> str:
    return json.dumps(list(rows), default=_iso_datetime, separators=(",", ":"))


def _iso_datetime(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
