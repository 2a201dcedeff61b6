"""The runner's memo: its copy of an execution's node runs, and the writes that save it.

``NodeRun`` rows are the engine's memo: a redelivered or resumed run skips every node
they say is done. :class:`Memo` holds the runner's copy of them as plain data (ORM
objects cost too much per node), the rows and log lines not written yet, and the three
writes of the runner (SQL in :mod:`workfuse.engine.checkpoint`):

- a checkpoint (:meth:`Memo.flush`): the pending rows and log lines with a heartbeat,
  which reads the execution's status back (:attr:`Memo.status_read`, so the next
  cancellation check needs no read of its own);
- a checkpoint that ends with a status change of the execution
  (:meth:`Memo.flush_with`, called by :class:`~workfuse.engine.transitions.Transitions`
  only);
- the claim of a side-effecting node's attempt (:meth:`Memo.claim`), with the pending
  rows, a compare-and-set on the attempt number.

Which node runs are pending, and when a checkpoint is written, is the step loop's
decision (:mod:`workfuse.engine.runner`); the memo only writes. Not shared between
threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from workfuse.db import statement_scope
from workfuse.db_types import new_id, utcnow
from workfuse.engine import checkpoint
from workfuse.engine.state import TERMINAL
from workfuse.models import LogLevel, NodeRun, NodeRunStatus

NOT_READ = object()  #: a status not read (as against None: the execution is gone)

_RUN_FIELDS = (
    "node_id",
    "status",
    "attempt",
    "input",
    "output",
    "error",
    "started_at",
    "finished_at",
    "duration",
    "id",
)
_NODE_RUNS = sa.select(*(getattr(NodeRun, name) for name in _RUN_FIELDS)).where(
    col(NodeRun.execution_id) == sa.bindparam("id")
)


@dataclass(slots=True)
class RunRow:
    """The runner's copy of a ``NodeRun`` row, written with one upsert per checkpoint."""

    node_id: str
    status: NodeRunStatus
    attempt: int = 0
    input: Any = None
    output: Any = None
    error: dict[str, Any] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: int | None = None
    id: str = field(default_factory=new_id)

    @classmethod
    def of(cls, row: Any) -> RunRow:
        return cls(**{name: getattr(row, name) for name in _RUN_FIELDS})

    def values(self, execution_id: str) -> dict[str, Any]:
        """The row's columns, to write."""
        return {"execution_id": execution_id, **{name: getattr(self, name) for name in _RUN_FIELDS}}


class LostClaim(Exception):
    """A node's attempt could not be put on record: another runner did first, or
    (``ended``) the execution was finished, cancelled or deleted meanwhile."""

    def __init__(self, node_id: str, *, ended: bool) -> None:
        super().__init__(node_id)
        self.ended = ended


class Memo:
    """The node runs of execution ``execution_id`` as this runner knows them."""

    def __init__(self, execution_id: str) -> None:
        self.execution_id = execution_id
        self.runs: dict[str, RunRow] = {}
        #: rows changed since the last write, by node id
        self.pending: dict[str, RunRow] = {}
        #: log lines (``ExecutionLog`` columns) not written yet
        self.pending_logs: list[dict[str, Any]] = []
        #: the status the last checkpoint read (None: the execution is gone) or NOT_READ
        self.status_read: object = NOT_READ

    def load(self, connection: sa.Connection) -> None:
        """Read the stored node runs (what earlier runs of the execution did)."""
        rows = connection.execute(_NODE_RUNS, {"id": self.execution_id})
        self.runs = {row.node_id: RunRow.of(row) for row in rows}

    def row(self, node_id: str) -> RunRow:
        """The node's run; a new PENDING one if it never ran."""
        run = self.runs.get(node_id)
        if run is None:
            run = self.runs[node_id] = RunRow(node_id=node_id, status=NodeRunStatus.PENDING)
        return run

    def stage(self, run: RunRow) -> None:
        """Write ``run`` with the next checkpoint."""
        self.pending[run.node_id] = run

    def log(self, node_id: str, level: LogLevel, message: str) -> None:
        """Write a log line of the node with the next checkpoint (``message`` as given:
        redact it first)."""
        self.pending_logs.append(
            {
                "id": new_id(),
                "execution_id": self.execution_id,
                "node_id": node_id,
                "level": level,
                "message": message,
                "data": None,
                "timestamp": utcnow(),
            }
        )

    def flush(self) -> None:
        """A checkpoint: the pending rows and log lines with a heartbeat, in one
        transaction; nothing when nothing is pending. Sets :attr:`status_read`."""
        self.status_read = NOT_READ
        if not self.pending and not self.pending_logs:
            return
        runs, logs = self._take_pending()
        with statement_scope() as connection:
            result = checkpoint.save(connection, runs, logs, self.heartbeat())
            self.status_read = result.scalar_one_or_none()

    def flush_with(self, final: checkpoint.FinalUpdate) -> bool:
        """A checkpoint that ends with ``final``, a compare-and-set of the execution's
        status (:func:`~workfuse.engine.state.transition_statement`); returns whether
        the status changed. The rows land either way."""
        self.status_read = NOT_READ
        runs, logs = self._take_pending()
        with statement_scope() as connection:
            return bool(checkpoint.save(connection, runs, logs, final).rowcount)

    def claim(self, run: RunRow, seen_attempt: int) -> None:
        """Put ``run``'s attempt on record before its side effect happens, in one
        checkpoint with the pending rows and a heartbeat
        (:func:`~workfuse.engine.checkpoint.save_and_claim`): a compare-and-set on the
        attempt number (``seen_attempt``: the one the row had), so of two runners
        holding the same execution (a duplicate message) only one gets to call the
        endpoint. Sets :attr:`status_read`. Raises :class:`LostClaim` when refused."""
        self.pending.pop(run.node_id, None)  # its row is the claim
        runs, logs = self._take_pending()
        with statement_scope() as connection:
            status, won = checkpoint.save_and_claim(
                connection, runs, logs, utcnow(), run.values(self.execution_id), seen_attempt
            )
        self.status_read = status
        if not won:
            raise LostClaim(run.node_id, ended=status is None or status in TERMINAL)

    def beat(self) -> None:
        """Only the heartbeat (this runner still holds the execution)."""
        with statement_scope() as connection:
            connection.execute(*self.heartbeat()).all()  # (RETURNING read out)

    def heartbeat(self) -> checkpoint.FinalUpdate:
        return checkpoint.HEARTBEAT, {"execution_id": self.execution_id, "now": utcnow()}

    def results(self) -> dict[str, str]:
        """Each node's status, as an execution's ``node_results`` stores it."""
        return {node_id: run.status.value for node_id, run in self.runs.items()}

    def _take_pending(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The pending node runs (as rows) and log lines, no longer pending."""
        runs = [run.values(self.execution_id) for run in self.pending.values()]
        logs, self.pending, self.pending_logs = self.pending_logs, {}, []
        return runs, logs
