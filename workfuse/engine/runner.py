"""The step loop of one execution: the seed's execution algorithm, made durable.

One call of :meth:`ExecutionRunner.run` takes the execution as far as it can go: to
its end, to a retry wait (a delayed message is scheduled and the call returns, so no
thread sleeps), or to a cancellation. ``NodeRun`` rows are the memo: a run that is
redelivered or resumed skips every node already succeeded or skipped, so a worker
killed mid-run loses nothing.

Checkpoints: a side-effecting node (``NodeSpec.side_effects``: http, ai) has its
attempt written *before* it starts and its result *before* the next node starts; the
results of pure nodes (transform, condition, trigger) are written in batches, at the
next side-effecting node, a failure or the end (running a pure node twice after a
crash is harmless). The result of a side-effecting node and the attempt of the one
after it go in one checkpoint, read back with the status (the cancellation check before
the call needs no read of its own); the last result goes with the completion. Nodes
whose inputs are all done run concurrently.

Limits: a node attempt may take at most :data:`NODE_TIMEOUT_S`; cancellation is
noticed before a batch of nodes starts (at most every :data:`CANCEL_CHECK_S`, and
always before a side-effecting node), not inside a running node.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from workfuse.db import statement_scope
from workfuse.db_types import new_id, utcnow
from workfuse.engine import checkpoint, retry
from workfuse.engine.events import EventBus, ExecutionUpdate, UpdateType
from workfuse.engine.plan import ExecutionPlan, NodePlan, PlanNotFound, load_plan
from workfuse.engine.state import (
    STALE_AFTER_S,
    TERMINAL,
    claim,
    claim_pending,
    transition,
    transition_statement,
)
from workfuse.logs import REDACTOR
from workfuse.models import (
    Execution,
    ExecutionStatus,
    LogLevel,
    NodeRun,
    NodeRunStatus,
)
from workfuse.nodes.base import NodeOutputModel
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.runner import prepare_config
from workfuse.secrets import SecretStore, SecretStoreError
from workfuse.secrets.redaction import Redactor, StreamRedactor
from workfuse.services.secrets import values_for_run
from workfuse.settings import get_settings

log = logging.getLogger(__name__)

NODE_TIMEOUT_S = 600.0  #: seconds, the most one attempt of any node may take
CANCEL_CHECK_S = 0.1  #: seconds between cancellation checks while pure nodes run
NOT_READ = object()  #: a status not read (as against None: the execution is gone)
HEARTBEAT_S = 10.0  #: seconds between heartbeats while a side-effecting node runs
CHECKPOINT_S = 0.2  #: seconds the results of finished pure nodes may wait to be written

S = ExecutionStatus
T = TypeVar("T")
DONE = frozenset({NodeRunStatus.SUCCEEDED, NodeRunStatus.SKIPPED})

#: ``schedule(execution_id, delay_ms)``: send the execution's message again, later.
Scheduler = Callable[[str, int], None]


@dataclass
class _Run:
    """The runner's copy of a ``NodeRun`` row (plain data: ORM objects cost too much
    per node); written with one upsert per checkpoint."""

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
    def of(cls, row: Any) -> _Run:
        return cls(**{name: getattr(row, name) for name in _RUN_FIELDS})

    def values(self, execution_id: str) -> dict[str, Any]:
        return {"execution_id": execution_id, **{name: getattr(self, name) for name in _RUN_FIELDS}}


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


class _LostClaim(Exception):
    """A node's attempt could not be put on record: another runner did first, or
    (``ended``) the execution was finished, cancelled or deleted meanwhile."""

    def __init__(self, node_id: str, *, ended: bool) -> None:
        super().__init__(node_id)
        self.ended = ended


@dataclass
class _Outcome:
    node: NodePlan
    run: _Run
    output: Any = None
    error: ExecutionError | None = None


class ExecutionRunner:
    """Runs one execution (one message). Not shared between threads.

    ``lease``: the lease (claim token) that an earlier delivery of the same message
    held when it ended by raising, if any; this runner may take that claim back at
    once (:func:`~workfuse.engine.state.claim`). Afterwards :attr:`lease` is the one
    to carry if this run raises: its own once its claim is committed, else the same.
    """

    def __init__(
        self,
        execution_id: str,
        *,
        bus: EventBus,
        store: SecretStore,
        schedule: Scheduler,
        lease: str | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.lease = lease
        self.bus = bus
        self.store = store
        self.schedule = schedule
        self.runs: dict[str, _Run] = {}
        self.outputs: dict[str, Any] = {}
        self.pending: dict[str, _Run] = {}
        self.pending_logs: list[dict[str, Any]] = []
        self.redactor = Redactor()
        self.trigger: dict[str, Any] = {}
        self.secrets: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.started = utcnow()
        self._last_cancel_check = time.monotonic()  # the status was read when it began
        #: The status the last checkpoint read (None: the execution is gone) or NOT_READ.
        self._status_read_by_flush: object = NOT_READ

    # --- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        plan = self._begin()
        if plan is None:
            return
        checkpoints = asyncio.ensure_future(self._checkpoint_periodically())
        try:
            await self._run(plan)
        finally:
            checkpoints.cancel()

    async def _checkpoint_periodically(self) -> None:
        """Write finished pure nodes at least every :data:`CHECKPOINT_S` while slow nodes
        run, so someone reloading the page sees them done (fast runs never wait for this),
        and beat at least every :data:`HEARTBEAT_S` (this runner holds the execution)."""
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(CHECKPOINT_S)
            if self.pending or self.pending_logs:
                self._flush()
                last_beat = time.monotonic()
            elif time.monotonic() - last_beat >= HEARTBEAT_S:
                self._beat()
                last_beat = time.monotonic()

    async def _run(self, plan: ExecutionPlan) -> None:
        known_status: object = NOT_READ
        #: a side-effecting node finished since the last checkpoint: it is written before
        #: the next batch starts (with the claim of a side-effecting node that follows it,
        #: or with the completion)
        unsaved = False
        finished = {node_id for node_id, run in self.runs.items() if run.status in DONE}
        skipped = {n for n, run in self.runs.items() if run.status is NodeRunStatus.SKIPPED}
        while True:
            ready = [
                node_id
                for node_id in plan.order
                if node_id not in finished and plan.nodes[node_id].predecessors <= finished
            ]
            if not ready:
                break
            live = []
            for node_id in ready:
                node = plan.nodes[node_id]
                if self._is_live(plan, node, skipped):
                    live.append(node)
                else:
                    self._skip(node)
                    finished.add(node_id)
                    skipped.add(node_id)
            if not live:
                continue
            if self._waiting_for_retry(live):
                return
            try:
                claimed = False
                if unsaved or (len(live) == 1 and live[0].spec.side_effects):
                    unsaved = False
                    claimed = self._checkpoint_claiming(live)
                    known_status = self._status_read_by_flush  # the next check needs no read
                if self._cancelled(live, known_status):
                    return
                known_status = NOT_READ
                if len(live) == 1:  # the common case: no task to schedule
                    outcomes = [await self._attempt(live[0], claimed=claimed)]
                else:
                    outcomes = await _all(self._attempt(node) for node in live)
            except _LostClaim as lost:
                self._flush()
                if not lost.ended:  # another runner holds it: let it finish; look again later
                    self.schedule(self.execution_id, int(STALE_AFTER_S * 1000))
                return
            failed = [outcome for outcome in outcomes if outcome.error is not None]
            for outcome in outcomes:
                if outcome.error is None:
                    finished.add(outcome.node.id)
            if failed:
                self._flush()
                self._handle_failures(failed)
                return
            unsaved = any(outcome.node.spec.side_effects for outcome in outcomes)
        self._complete()

    def _begin(self) -> ExecutionPlan | None:
        """Claim the execution (status RUNNING) and load its plan, memo and secrets.

        The claim is committed by itself (on PostgreSQL every statement here runs in
        autocommit: a read needs no transaction), so from then on a run that raises
        carries the new lease."""
        lease = new_id()
        with statement_scope() as connection:
            execution: Any = claim_pending(connection, self.execution_id, lease, _STARTING)
            first_start = execution is not None
            if execution is None:  # started before: retried, resumed or held elsewhere
                execution = connection.execute(_EXECUTION, {"id": self.execution_id}).first()
                if execution is None or execution.status in TERMINAL:
                    return None
                if not claim(connection, self.execution_id, lease, held=self.lease):
                    if execution.status == S.RUNNING:  # another runner has it: look again
                        log.info(
                            "execution %s is held by another runner; looking again in %g s",
                            self.execution_id,
                            STALE_AFTER_S,
                        )
                        self.schedule(self.execution_id, int(STALE_AFTER_S * 1000))
                    return None
        self.lease = lease  # committed: the claim is this runner's
        self.trigger = dict(execution.trigger_data)
        self.started = execution.started_at
        with statement_scope() as connection, Session(bind=connection) as session:
            try:
                plan = load_plan(session, execution.workflow_id, execution.workflow_version)
            except PlanNotFound as error:
                transition(session, self.execution_id, S.FAILED, error=str(error))
                self._publish(UpdateType.FAILED, data={"error": str(error)})
                return None
            rows = connection.execute(_NODE_RUNS, {"id": self.execution_id})
            self.runs = {row.node_id: _Run.of(row) for row in rows}
            self.outputs = {
                node_id: run.output
                for node_id, run in self.runs.items()
                if run.status is NodeRunStatus.SUCCEEDED
            }
            try:
                self.secrets = values_for_run(
                    session=session,
                    store=self.store,
                    user_id=execution.user_id,
                    arns=plan.secret_arns,
                    redactors=(self.redactor, REDACTOR),
                )
            except SecretStoreError as error:
                message = f"credentials could not be read: {type(error).__name__}"
                transition(session, self.execution_id, S.FAILED, error=message)
                self._publish(UpdateType.FAILED, data={"error": message})
                return None
        self.env = get_settings().template_env()
        if first_start:
            self._publish(UpdateType.STARTED)
        return plan

    # --- one node ---------------------------------------------------------------------

    def _is_live(self, plan: ExecutionPlan, node: NodePlan, skipped: set[str]) -> bool:
        """Does some incoming edge carry the run here? (An edge out of a node that
        chooses one output, like a condition's branch, does only through that one.)"""
        if not node.incoming:
            return True
        for edge in node.incoming:
            if edge.source in skipped:
                continue
            chosen = self._chosen_output(plan.nodes[edge.source])
            if edge.source_handle is None or chosen is None or edge.source_handle == chosen:
                return True
        return False

    def _chosen_output(self, node: NodePlan) -> str | None:
        """The one output handle a finished node continued through (None: all)."""
        choose = node.spec.chosen_output
        output = self.outputs.get(node.id)
        if choose is None or not isinstance(output, dict):
            return None
        return choose(output)

    def _skip(self, node: NodePlan) -> None:
        run = self._run_row(node.id)
        run.status = NodeRunStatus.SKIPPED
        self.pending[node.id] = run
        self._publish(UpdateType.NODE_SKIPPED, node.id)

    def _waiting_for_retry(self, nodes: list[NodePlan]) -> bool:
        """A redelivered message that came before a node's retry time: wait again."""
        now = utcnow()
        for node in nodes:
            run = self.runs.get(node.id)
            retry_at = (run.error or {}).get("retryAt") if run is not None else None
            if run is not None and run.status is NodeRunStatus.RETRYING and retry_at:
                remaining = (datetime.fromisoformat(retry_at) - now).total_seconds()
                if remaining > 0:
                    self._flush(S.RETRYING)
                    self.schedule(self.execution_id, int(remaining * 1000) + 1)
                    return True
        return False

    def _cancelled(self, nodes: list[NodePlan], known_status: object = NOT_READ) -> bool:
        """Has the execution been cancelled (or deleted)? ``known_status``: its status as
        the checkpoint that just ended the previous batch read it (nothing ran since),
        so no transaction of its own is needed; :data:`NOT_READ` reads it now."""
        side_effects = any(node.spec.side_effects for node in nodes)
        now = time.monotonic()
        if not side_effects and now - self._last_cancel_check < CANCEL_CHECK_S:
            return False
        self._last_cancel_check = now
        status = known_status
        if status is NOT_READ:
            with statement_scope() as connection:
                status = connection.execute(_STATUS, {"id": self.execution_id}).scalar_one_or_none()
        if status is None or status in TERMINAL:
            self._flush()
            return True
        return False

    async def _attempt(self, node: NodePlan, *, claimed: bool = False) -> _Outcome:
        """Run one attempt of ``node``; ``claimed``: the checkpoint before it already
        put this attempt on record (:meth:`_checkpoint_claiming`)."""
        run = self._run_row(node.id)
        if not claimed:
            seen_attempt = _start_attempt(run)
            if node.spec.side_effects:
                self._claim(run, seen_attempt)
        self._publish(UpdateType.NODE_STARTED, node.id, {"attempt": run.attempt})
        context = NodeContext(
            execution_id=self.execution_id,
            node_id=node.id,
            trigger=self.trigger,
            nodes=self.outputs,
            env=self.env,
            secrets=self.secrets,
            on_token=self._token_sink(node.id),
        )
        outcome = _Outcome(node=node, run=run)
        began = time.perf_counter()
        try:
            config = prepare_config(node.spec, node.config, context)
            run.input = self.redactor.redact(config.model_dump(mode="json", by_alias=True))
            work: Awaitable[NodeOutputModel] = node.spec.execute(config, context)
            if node.spec.side_effects:
                work = self._with_heartbeat(work)
            result = await asyncio.wait_for(work, NODE_TIMEOUT_S)
            outcome.output = self.redactor.redact(result.model_dump(mode="json", by_alias=True))
        except ExecutionError as error:
            outcome.error = error
        except TimeoutError:
            outcome.error = ExecutionError(
                f"node {node.label!r} took longer than {NODE_TIMEOUT_S:g} s",
                code="NODE_TIMEOUT",
                retryable=True,
            )
        except Exception as error:  # a bug in an executor must not kill the worker
            log.exception("node %s of execution %s crashed", node.id, self.execution_id)
            outcome.error = ExecutionError(
                f"node {node.label!r} crashed: {type(error).__name__}", code="NODE_CRASHED"
            )
        run.finished_at = utcnow()
        run.duration = round((time.perf_counter() - began) * 1000)
        if outcome.error is None:
            run.status, run.output = NodeRunStatus.SUCCEEDED, outcome.output
            self.outputs[node.id] = outcome.output
            self.pending[node.id] = run
            self._log(node.id, LogLevel.INFO, f"{node.label} succeeded in {run.duration} ms")
            self._publish(
                UpdateType.NODE_COMPLETED,
                node.id,
                {"output": outcome.output, "duration": run.duration, "attempt": run.attempt},
            )
        return outcome

    async def _with_heartbeat(self, work: Awaitable[T]) -> T:
        """``work``, with a heartbeat every :data:`HEARTBEAT_S` while it runs."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_S)
                if done:
                    return task.result()
                await asyncio.to_thread(self._beat)
        finally:
            task.cancel()  # a no-op when it finished; stops it on timeout or cancellation

    def _beat(self) -> None:
        with statement_scope() as connection:
            connection.execute(*self._heartbeat()).all()  # (RETURNING read out)

    def _heartbeat(self) -> checkpoint.FinalUpdate:
        return checkpoint.HEARTBEAT, {"execution_id": self.execution_id, "now": utcnow()}

    def _token_sink(self, node_id: str) -> Callable[[str], Any]:
        """Publishes a streaming node's text as it comes, redacted across pieces (the
        held-back tail arrives with the node's final, redacted output)."""
        stream = StreamRedactor(self.redactor)

        async def forward(text: str) -> None:
            shown = stream.feed(text)
            if shown:
                self._publish(UpdateType.TOKEN, node_id, shown)

        return forward

    def _handle_failures(self, failed: list[_Outcome]) -> None:
        """Retry what may be retried (a delayed message), else fail the execution."""
        waits = []
        final: _Outcome | None = None
        for outcome in failed:
            error, run, node = outcome.error, outcome.run, outcome.node
            assert error is not None
            message = self.redactor.redact_text(error.message)
            details = {**error.to_dict(), "message": message}
            if retry.should_retry(node.retry_policy, run.attempt, error.retryable):
                assert node.retry_policy is not None
                delay = retry.delay_ms(node.retry_policy, run.attempt, error.retry_after)
                retry_at = utcnow() + timedelta(milliseconds=delay)
                run.status, run.error = (
                    NodeRunStatus.RETRYING,
                    {
                        **details,
                        "retryAt": retry_at.isoformat(),
                    },
                )
                waits.append(delay)
                self._log(node.id, LogLevel.WARN, f"{node.label} failed, retrying: {message}")
                self._publish(
                    UpdateType.RETRYING,
                    node.id,
                    {"error": details, "attempt": run.attempt, "delayMs": delay},
                )
            else:
                run.status, run.error = NodeRunStatus.FAILED, details
                final = final or outcome
                self._log(node.id, LogLevel.ERROR, f"{node.label} failed: {message}")
                self._publish(UpdateType.NODE_FAILED, node.id, {"error": details})
            self.pending[node.id] = run
        if final is not None:
            assert final.error is not None
            message = self.redactor.redact_text(final.error.message)
            reason = f"node {final.node.label!r} failed: {message}"
            if self._flush(S.FAILED, error=reason, **self._summary()):
                self._publish(UpdateType.FAILED, data={"error": reason})
        elif self._flush(S.RETRYING):
            self.schedule(self.execution_id, min(waits))

    def _complete(self) -> None:
        summary = self._summary()
        if self._flush(S.COMPLETED, error=None, **summary):
            self._publish(UpdateType.COMPLETED, data={"duration": summary["duration"]})

    # --- storage and events -----------------------------------------------------------

    def _run_row(self, node_id: str) -> _Run:
        run = self.runs.get(node_id)
        if run is None:
            run = self.runs[node_id] = _Run(node_id=node_id, status=NodeRunStatus.PENDING)
        return run

    def _log(self, node_id: str, level: LogLevel, message: str) -> None:
        self.pending_logs.append(
            {
                "id": new_id(),
                "execution_id": self.execution_id,
                "node_id": node_id,
                "level": level,
                "message": self.redactor.redact_text(message),
                "data": None,
                "timestamp": utcnow(),
            }
        )

    def _flush(self, target: ExecutionStatus | None = None, **values: Any) -> bool:
        """Write the pending node runs and log lines, and a heartbeat or the status
        change to ``target`` (with ``values``), in one transaction. Returns whether the
        status change happened (True when there was none to make)."""
        self._status_read_by_flush = NOT_READ
        if not self.pending and not self.pending_logs and target is None:
            return True
        runs, logs = self._take_pending()
        final = (
            self._heartbeat()
            if target is None
            else transition_statement(self.execution_id, target, **values)
        )
        with statement_scope() as connection:
            result = checkpoint.save(connection, runs, logs, final)
            if target is not None:
                return bool(result.rowcount)
            self._status_read_by_flush = result.scalar_one_or_none()
        return True

    def _checkpoint_claiming(self, live: list[NodePlan]) -> bool:
        """The checkpoint before a batch starts (the last one's side effects are in
        it). When the batch is one side-effecting node, it is that node's claim
        (:meth:`_claim`) and True is returned."""
        node = live[0]
        if len(live) > 1 or not node.spec.side_effects:
            self._flush()
            return False
        run = self._run_row(node.id)
        self._claim(run, _start_attempt(run))
        return True

    def _take_pending(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The pending node runs (as rows) and log lines, no longer pending."""
        runs = [run.values(self.execution_id) for run in self.pending.values()]
        logs, self.pending, self.pending_logs = self.pending_logs, {}, []
        return runs, logs

    def _claim(self, run: _Run, seen_attempt: int) -> None:
        """Put this attempt on record before its side effect happens, in one checkpoint
        with the pending rows and a heartbeat
        (:func:`~workfuse.engine.checkpoint.save_and_claim`): a compare-and-set on the
        attempt number, so of two runners holding the same execution (a duplicate
        message) only one gets to call the endpoint. The status it reads serves the next
        cancellation check. Raises :class:`_LostClaim` when the claim is refused."""
        self.pending.pop(run.node_id, None)  # its row is the claim
        runs, logs = self._take_pending()
        with statement_scope() as connection:
            status, won = checkpoint.save_and_claim(
                connection, runs, logs, utcnow(), run.values(self.execution_id), seen_attempt
            )
        self._status_read_by_flush = status
        if not won:
            raise _LostClaim(run.node_id, ended=status is None or status in TERMINAL)

    def _summary(self) -> dict[str, Any]:
        return {
            "duration": round((utcnow() - self.started).total_seconds() * 1000),
            "node_results": {node_id: run.status.value for node_id, run in self.runs.items()},
        }

    def _publish(self, kind: UpdateType, node_id: str | None = None, data: Any = None) -> None:
        self.bus.publish(
            ExecutionUpdate(execution_id=self.execution_id, type=kind, node_id=node_id, data=data)
        )


def _start_attempt(run: _Run) -> int:
    """Move ``run`` to its next attempt, running from now; returns the attempt it had."""
    seen_attempt = run.attempt
    run.attempt += 1
    run.status = NodeRunStatus.RUNNING
    run.started_at = utcnow()
    run.error = None
    return seen_attempt


async def _all(work: Iterable[Awaitable[T]]) -> list[T]:
    """Await ``work`` concurrently. When one raises, the others are cancelled, and
    awaited, before the exception propagates: no attempt outlives the run (a retry of
    the message may take the execution over at once, see ``lease``)."""
    tasks = [asyncio.ensure_future(item) for item in work]
    try:
        return await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()  # a no-op for a finished one
        await asyncio.gather(*tasks, return_exceptions=True)


#: What a run needs of its execution row when it starts.
_STARTING = ("trigger_data", "started_at", "workflow_id", "workflow_version", "user_id")
_EXECUTION = sa.select(*(getattr(Execution, name) for name in ("status", *_STARTING))).where(
    col(Execution.id) == sa.bindparam("id")
)
_NODE_RUNS = sa.select(*(getattr(NodeRun, name) for name in _RUN_FIELDS)).where(
    col(NodeRun.execution_id) == sa.bindparam("id")
)
_STATUS = sa.select(col(Execution.status)).where(col(Execution.id) == sa.bindparam("id"))
