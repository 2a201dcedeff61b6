"""The one place a run changes a status: its execution's, or one of its node runs'.

Like Prefect's ``set_state``, every change goes through :class:`Transitions`: it is
checked against the transition tables (:mod:`workfuse.engine.state`), handed to the
hooks' ``before_change`` (which may rewrite its values: redaction), recorded, then
handed to their ``after_change`` in order (updates, log lines; see
:mod:`workfuse.engine.hooks`). A change that is refused reaches no ``after_change``.

Where each change is recorded:

- the execution's claim (-> RUNNING): a compare-and-set of its own
  (:func:`~workfuse.engine.state.claim_pending`, else :func:`~workfuse.engine.state.claim`);
- the execution's other changes: the compare-and-set UPDATE that ends a checkpoint with
  the pending node runs (:meth:`~workfuse.engine.memo.Memo.flush_with`); refused when
  the table does not allow it from the stored status (a person cancelled meanwhile,
  say), and a terminal status is never overwritten;
- a side-effecting node's RUNNING (its next attempt): claimed in the database at once,
  with the pending node runs (:meth:`~workfuse.engine.memo.Memo.claim`, which raises
  :class:`~workfuse.engine.memo.LostClaim` when another runner claimed it first or the
  execution ended);
- a pure node's RUNNING: in the memo only, never written (running a pure node again
  after a crash is harmless, and a stored RUNNING row makes the reconciler wait for a
  node that may still be running);
- a node's other changes: in the memo, written by the next checkpoint.

A node run's change that its table does not allow (a node that succeeded run again,
say) is a bug in the caller: :class:`InvalidTransition`. Cancellation from outside a
run (``services.executions.cancel_execution``) changes the execution's status with the
same table (:func:`~workfuse.engine.state.transition`) but not through here.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from workfuse.db import statement_scope
from workfuse.db_types import utcnow
from workfuse.engine.hooks import Change, Hooks
from workfuse.engine.memo import Memo, RunRow
from workfuse.engine.plan import NodePlan
from workfuse.engine.state import (
    NODE_TRANSITIONS,
    TERMINAL,
    claim,
    claim_pending,
    transition_statement,
)
from workfuse.models import Execution, ExecutionStatus, NodeRunStatus

S = ExecutionStatus
N = NodeRunStatus


class InvalidTransition(RuntimeError):
    """A node run's status change that :data:`~workfuse.engine.state.NODE_TRANSITIONS`
    does not allow."""


class Transitions:
    """The status changes of one run of the execution whose node runs ``memo`` holds,
    each handed to ``hooks``. Not shared between threads."""

    def __init__(self, memo: Memo, hooks: Hooks) -> None:
        self.memo = memo
        self.hooks = hooks

    def claim(
        self, lease: str, *, held: str | None, columns: tuple[str, ...]
    ) -> tuple[sa.Row[Any] | None, ExecutionStatus | None]:
        """Take the execution for this run (RUNNING, with the new ``lease``; ``held``:
        the lease this run may take back at once, see
        :func:`~workfuse.engine.state.claim`), committed before this returns. Returns
        the execution's ``columns`` (None when it was not claimed) and the status it
        had (None: the execution is gone)."""
        execution_id = self.memo.execution_id
        change = Change(S.RUNNING, S.PENDING)
        self.hooks.before_change(change)
        previous = S.PENDING
        with statement_scope() as connection:
            execution = claim_pending(connection, execution_id, lease, columns)
            if execution is None:  # started before: retried, resumed or held elsewhere
                execution = connection.execute(_read(columns), {"id": execution_id}).first()
                if execution is None:
                    return None, None
                previous = change.previous = ExecutionStatus(execution.status)
                if previous in TERMINAL or not claim(connection, execution_id, lease, held=held):
                    return None, previous
        self.hooks.after_change(change)
        return execution, previous

    def execution(self, target: ExecutionStatus, **values: Any) -> bool:
        """Change the execution's status to ``target`` with ``values`` (other columns),
        in one checkpoint with the pending node runs and log lines; returns whether it
        changed (the rows are written either way)."""
        change = Change(target, values=values)
        self.hooks.before_change(change)
        statement = transition_statement(self.memo.execution_id, target, **change.values)
        if not self.memo.flush_with(statement):
            return False
        self.hooks.after_change(change)
        return True

    def node(
        self, node: NodePlan, target: NodeRunStatus, *, delay_ms: int | None = None, **values: Any
    ) -> RunRow:
        """Change ``node``'s run to ``target`` with ``values`` (columns of the run);
        returns the run. RUNNING starts the next attempt (its number, start time, no
        error; ``values`` are not used). ``delay_ms``: for RETRYING, the wait before
        the next attempt."""
        memo = self.memo
        run = memo.runs.get(node.id) or memo.row(node.id)
        previous = run.status
        if previous not in NODE_TRANSITIONS[target]:
            raise InvalidTransition(f"node {node.id!r} cannot go from {previous} to {target}")
        seen_attempt = run.attempt
        if target is N.RUNNING:
            values = {"attempt": seen_attempt + 1, "started_at": utcnow(), "error": None}
        change = Change(target, previous, node, run, values, delay_ms)
        for before in self.hooks.before:  # (the hooks' list, unrolled: it runs per node)
            before(change)
        run.status = target
        for name, value in change.values.items():
            setattr(run, name, value)
        if target is not N.RUNNING:
            memo.pending[node.id] = run  # (Memo.stage, inline: it runs per node)
        elif node.spec.side_effects:
            memo.claim(run, seen_attempt)
        for after in self.hooks.after:
            after(change)
        return run


@functools.cache
def _read(columns: tuple[str, ...]) -> sa.Select[Any]:
    """SELECT the status and ``columns`` of the execution ``id`` (built once)."""
    names = ("status", *columns)
    return sa.select(*(getattr(Execution, name) for name in names)).where(
        col(Execution.id) == sa.bindparam("id")
    )
