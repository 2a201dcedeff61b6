"""The step loop of one execution: the seed's execution algorithm, made durable.

One call of :meth:`ExecutionRunner.run` takes the execution as far as it can go: to
its end, to a retry wait (a delayed message is scheduled and the call returns, so no
thread sleeps), or to a cancellation. ``NodeRun`` rows are the memo
(:mod:`workfuse.engine.memo`): a run that is redelivered or resumed skips every node
already succeeded or skipped, so a worker killed mid-run loses nothing.

The loop is put together from four parts: the :class:`~workfuse.engine.scheduler.Scheduler`
says which nodes run next (and which are skipped), :class:`~workfuse.engine.transitions.Transitions`
makes every status change (checked, recorded, handed to the hooks), the hooks
(:mod:`workfuse.engine.hooks`) do what goes with a change (redaction, updates, log
lines, heartbeats), and this module decides when checkpoints are written, when
cancellation is checked, and what a failure leads to.

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
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col

from workfuse.db import statement_scope
from workfuse.db_types import new_id, utcnow
from workfuse.engine import retry
from workfuse.engine.events import EventBus
from workfuse.engine.hooks import Hooks, default_hooks
from workfuse.engine.memo import NOT_READ, LostClaim, Memo, RunRow
from workfuse.engine.plan import ExecutionPlan, NodePlan, PlanNotFound, load_plan
from workfuse.engine.scheduler import Scheduler
from workfuse.engine.state import STALE_AFTER_S, TERMINAL
from workfuse.engine.transitions import Transitions
from workfuse.logs import REDACTOR
from workfuse.models import Execution, ExecutionStatus, NodeRunStatus
from workfuse.nodes.base import NodeOutputModel
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.runner import prepare_config
from workfuse.secrets import SecretStore, SecretStoreError
from workfuse.secrets.for_run import values_for_run
from workfuse.secrets.redaction import Redactor
from workfuse.settings import get_settings

log = logging.getLogger(__name__)

NODE_TIMEOUT_S = 600.0  #: seconds, the most one attempt of any node may take
CANCEL_CHECK_S = 0.1  #: seconds between cancellation checks while pure nodes run

S = ExecutionStatus
N = NodeRunStatus
T = TypeVar("T")

#: ``schedule(execution_id, delay_ms)``: send the execution's message again, later.
Schedule = Callable[[str, int], None]

#: What a run needs of its execution row when it starts.
_STARTING = ("trigger_data", "started_at", "workflow_id", "workflow_version", "user_id")
_STATUS = sa.select(col(Execution.status)).where(col(Execution.id) == sa.bindparam("id"))


@dataclass(slots=True)
class _Outcome:
    """One attempt of ``node``: its ``error``, or none; ``values``: the run's columns it
    produced, recorded with its success or (later) its failure."""

    node: NodePlan
    run: RunRow
    error: ExecutionError | None = None
    values: dict[str, Any] = field(default_factory=dict)


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
        schedule: Schedule,
        lease: str | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.lease = lease
        self.store = store
        self.schedule = schedule
        self.memo = Memo(execution_id)
        self.redactor = Redactor()
        self.hooks = Hooks(default_hooks(bus=bus, memo=self.memo, redactor=self.redactor))
        self.states = Transitions(self.memo, self.hooks)
        #: outputs of the nodes that succeeded (redacted), as the next nodes see them
        self.outputs: dict[str, Any] = {}
        self.trigger: dict[str, Any] = {}
        self.secrets: dict[str, str] = {}
        self.env: dict[str, str] = {}
        self.started = utcnow()
        self._last_cancel_check = time.monotonic()  # the status was read when it began

    # --- the loop ---------------------------------------------------------------------

    async def run(self) -> None:
        plan = self._begin()
        if plan is None:
            return
        self.hooks.run_started()
        try:
            await self._run(plan)
        finally:
            self.hooks.run_stopped()

    async def _run(self, plan: ExecutionPlan) -> None:
        skipped = [node_id for node_id, run in self.memo.runs.items() if run.status is N.SKIPPED]
        scheduler = Scheduler(plan, succeeded=self.outputs, skipped=skipped)
        known_status: object = NOT_READ
        #: a side-effecting node finished since the last checkpoint: it is written before
        #: the next batch starts (with the claim of a side-effecting node that follows it,
        #: or with the completion)
        unsaved = False
        while step := scheduler.step():
            for node in step.skip:
                self.states.node(node, N.SKIPPED)
            live = step.run
            if not live:
                continue
            if self._waiting_for_retry(live):
                return
            try:
                claimed = False
                if unsaved or (len(live) == 1 and live[0].spec.side_effects):
                    unsaved = False
                    claimed = self._checkpoint_claiming(live)
                    known_status = self.memo.status_read  # the next check needs no read
                if self._cancelled(live, known_status):
                    return
                known_status = NOT_READ
                if len(live) == 1:  # the common case: no task to schedule
                    outcomes = [await self._attempt(live[0], claimed=claimed)]
                else:
                    outcomes = await _all(self._attempt(node) for node in live)
            except LostClaim as lost:
                self.memo.flush()
                if not lost.ended:  # another runner holds it: let it finish; look again later
                    self.schedule(self.execution_id, int(STALE_AFTER_S * 1000))
                return
            failed = [outcome for outcome in outcomes if outcome.error is not None]
            for outcome in outcomes:
                if outcome.error is None:
                    scheduler.succeeded(outcome.node.id, outcome.run.output)
            if failed:
                self.memo.flush()
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
        execution, status = self.states.claim(lease, held=self.lease, columns=_STARTING)
        if execution is None:
            if status == S.RUNNING:  # another runner has it: look again
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
        loaded = self._load(execution)
        if isinstance(loaded, str):
            self.states.execution(S.FAILED, error=loaded)
            return None
        self.env = get_settings().template_env()
        return loaded

    def _load(self, execution: Any) -> ExecutionPlan | str:
        """The plan, with the memo and the secrets loaded; or why the execution fails."""
        with statement_scope() as connection, Session(bind=connection) as session:
            try:
                plan = load_plan(session, execution.workflow_id, execution.workflow_version)
            except PlanNotFound as error:
                return str(error)
            self.memo.load(connection)
            self.outputs = {
                node_id: run.output
                for node_id, run in self.memo.runs.items()
                if run.status is N.SUCCEEDED
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
                return f"credentials could not be read: {type(error).__name__}"
        return plan

    # --- one batch --------------------------------------------------------------------

    def _waiting_for_retry(self, nodes: list[NodePlan]) -> bool:
        """A redelivered message that came before a node's retry time: wait again."""
        now = utcnow()
        for node in nodes:
            run = self.memo.runs.get(node.id)
            if run is None or run.status is not N.RETRYING:
                continue
            retry_at = retry.retry_at(run.error)
            remaining = (retry_at - now).total_seconds() if retry_at is not None else 0
            if remaining > 0:
                self.states.execution(S.RETRYING)
                self.schedule(self.execution_id, int(remaining * 1000) + 1)
                return True
        return False

    def _checkpoint_claiming(self, live: list[NodePlan]) -> bool:
        """The checkpoint before a batch starts (the last one's side effects are in
        it). When the batch is one side-effecting node, it is that node's claim (its
        RUNNING, see :class:`~workfuse.engine.transitions.Transitions`) and True is
        returned."""
        node = live[0]
        if len(live) > 1 or not node.spec.side_effects:
            self.memo.flush()
            return False
        self.states.node(node, N.RUNNING)
        return True

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
            self.memo.flush()
            return True
        return False

    # --- one node ---------------------------------------------------------------------

    async def _attempt(self, node: NodePlan, *, claimed: bool = False) -> _Outcome:
        """Run one attempt of ``node``; ``claimed``: the checkpoint before it already
        started this attempt (:meth:`_checkpoint_claiming`). Its success is recorded
        here, a failure by :meth:`_handle_failures` once the batch is over."""
        run = self.memo.runs[node.id] if claimed else self.states.node(node, N.RUNNING)
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
        values = outcome.values
        began = time.perf_counter()
        try:
            config = prepare_config(node.spec, node.config, context)
            values["input"] = config.model_dump(mode="json", by_alias=True)
            work: Awaitable[NodeOutputModel] = node.spec.execute(config, context)
            for wrap in self.hooks.wraps:  # (Hooks.wrap_attempt, inline: it runs per node)
                work = wrap(node, work)
            result = await asyncio.wait_for(work, NODE_TIMEOUT_S)
            values["output"] = result.model_dump(mode="json", by_alias=True)
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
        values["finished_at"] = utcnow()
        values["duration"] = round((time.perf_counter() - began) * 1000)
        if outcome.error is None:
            self.states.node(node, N.SUCCEEDED, **values)
            self.outputs[node.id] = run.output  # redacted
        return outcome

    def _token_sink(self, node_id: str) -> Callable[[str], Any]:
        """Hands a streaming node's text to the hooks as it comes."""

        async def forward(text: str) -> None:
            self.hooks.token(node_id, text)

        return forward

    def _handle_failures(self, failed: list[_Outcome]) -> None:
        """Retry what may be retried (a delayed message), else fail the execution."""
        waits = []
        final: _Outcome | None = None
        for outcome in failed:
            error, run, node = outcome.error, outcome.run, outcome.node
            assert error is not None
            details = error.to_dict()
            if retry.should_retry(node.retry_policy, run.attempt, error.retryable):
                assert node.retry_policy is not None
                delay = retry.delay_ms(node.retry_policy, run.attempt, error.retry_after)
                waiting = retry.waiting_error(details, delay, utcnow())
                self.states.node(node, N.RETRYING, delay_ms=delay, **outcome.values, error=waiting)
                waits.append(delay)
            else:
                self.states.node(node, N.FAILED, **outcome.values, error=details)
                final = final or outcome
        if final is not None:
            message = (final.run.error or {}).get("message")  # redacted
            reason = f"node {final.node.label!r} failed: {message}"
            self.states.execution(S.FAILED, error=reason, **self._summary())
        elif self.states.execution(S.RETRYING):
            self.schedule(self.execution_id, min(waits))

    def _complete(self) -> None:
        self.states.execution(S.COMPLETED, error=None, **self._summary())

    def _summary(self) -> dict[str, Any]:
        return {
            "duration": round((utcnow() - self.started).total_seconds() * 1000),
            "node_results": self.memo.results(),
        }


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
