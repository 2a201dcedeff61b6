"""The hooks of a run, on their own: their order, what each does with a change, tokens,
heartbeats. No database: the memo's writes are counted instead."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from tests.engine.helpers import jsonata, node
from workfuse.db_types import utcnow
from workfuse.engine.events import ExecutionUpdate, InProcessBus
from workfuse.engine.hooks import (
    Change,
    HeartbeatHook,
    Hook,
    Hooks,
    LogsHook,
    RedactionHook,
    UpdatesHook,
    default_hooks,
    heartbeat,
)
from workfuse.engine.memo import Memo
from workfuse.engine.plan import ExecutionPlan, NodePlan, build_plan
from workfuse.engine.retry import waiting_error
from workfuse.graph import WorkflowGraph
from workfuse.models import ExecutionStatus, LogLevel, NodeRunStatus
from workfuse.secrets.redaction import Redactor

S = ExecutionStatus
N = NodeRunStatus
T = TypeVar("T")
SECRET = "tok-canary-91c4e7"


class ListBus(InProcessBus):
    def __init__(self) -> None:
        super().__init__()
        self.updates: list[ExecutionUpdate] = []

    def publish(self, update: ExecutionUpdate) -> None:
        self.updates.append(update)


class CountingMemo(Memo):
    """A memo whose writes are counted, not made."""

    def __init__(self) -> None:
        super().__init__("execution")
        self.flushes = 0
        self.beats = 0

    def flush(self) -> None:
        self.flushes += 1
        self.pending.clear()
        self.pending_logs.clear()

    def beat(self) -> None:
        self.beats += 1


class Calls(Hook):
    """Notes every call it gets, as (name, method)."""

    def __init__(self, name: str, calls: list[tuple[str, str]]) -> None:
        self.name, self.calls = name, calls

    def before_change(self, change: Change) -> None:
        self.calls.append((self.name, "before_change"))

    def after_change(self, change: Change) -> None:
        self.calls.append((self.name, "after_change"))

    def token(self, node_id: str, text: str) -> str:
        self.calls.append((self.name, f"token {text}"))
        return text.removeprefix("x")

    def wrap_attempt(self, node: NodePlan, work: Awaitable[T]) -> Awaitable[T]:
        self.calls.append((self.name, "wrap_attempt"))
        return work

    def run_started(self) -> None:
        self.calls.append((self.name, "run_started"))

    def run_stopped(self) -> None:
        self.calls.append((self.name, "run_stopped"))


class OnlyAfter(Hook):
    def __init__(self, calls: list[tuple[str, str]]) -> None:
        self.calls = calls

    def after_change(self, change: Change) -> None:
        self.calls.append(("only-after", "after_change"))


@pytest.fixture
def plan() -> ExecutionPlan:
    graph = WorkflowGraph.model_validate(
        {
            "name": "test",
            "nodes": [
                node("start", "trigger", {}),
                jsonata("shape", "1"),
                node("call", "http", {"url": "http://127.0.0.1:9/"}),
            ],
            "edges": [],
        }
    )
    return build_plan("workflow", 1, graph)


def test_the_default_hooks_are_redaction_updates_logs_then_heartbeat() -> None:
    hooks = default_hooks(bus=ListBus(), memo=CountingMemo(), redactor=Redactor())

    assert [type(hook) for hook in hooks] == [RedactionHook, UpdatesHook, LogsHook, HeartbeatHook]


def test_each_method_goes_through_the_hooks_in_order_and_stopping_in_reverse(
    plan: ExecutionPlan,
) -> None:
    # Given: two hooks that note every call, and one that only listens after changes
    calls: list[tuple[str, str]] = []
    hooks = Hooks([Calls("a", calls), OnlyAfter(calls), Calls("b", calls)])
    change = Change(N.RUNNING, N.PENDING, plan.nodes["shape"])

    # When: each method is called once
    hooks.run_started()
    hooks.before_change(change)
    hooks.after_change(change)
    hooks.token("shape", "xxy")
    work = asyncio.sleep(0)
    for wrap in hooks.wraps:
        assert wrap(plan.nodes["shape"], work) is work
    work.close()
    hooks.run_stopped()

    # Then: first to last (each token is what the hook before returned), stop reversed;
    # a hook is called only for what it overrides
    assert calls == [
        ("a", "run_started"),
        ("b", "run_started"),
        ("a", "before_change"),
        ("b", "before_change"),
        ("a", "after_change"),
        ("only-after", "after_change"),
        ("b", "after_change"),
        ("a", "token xxy"),
        ("b", "token xy"),
        ("a", "wrap_attempt"),
        ("b", "wrap_attempt"),
        ("b", "run_stopped"),
        ("a", "run_stopped"),
    ]


def test_an_empty_token_stops_at_the_hook_that_emptied_it() -> None:
    calls: list[tuple[str, str]] = []
    hooks = Hooks([Calls("a", calls), Calls("b", calls)])

    hooks.token("shape", "x")

    assert calls == [("a", "token x")]


def test_secrets_are_redacted_before_the_change_is_recorded_published_or_logged(
    plan: ExecutionPlan,
) -> None:
    # Given: the default hooks of a run that read a credential
    bus, memo, redactor = ListBus(), CountingMemo(), Redactor([SECRET])
    hooks = Hooks(default_hooks(bus=bus, memo=memo, redactor=redactor))
    shape = plan.nodes["shape"]
    run = memo.row("shape")
    run.attempt = 1

    # When: a node fails with the secret in its input and its error, and the execution
    # fails with it in its reason
    error = {"message": f"rejected {SECRET}", "code": "X", "retryable": False}
    failed = Change(N.FAILED, N.RUNNING, shape, run, {"input": {"key": SECRET}, "error": error})
    hooks.before_change(failed)
    run.status, run.input, run.error = N.FAILED, failed.values["input"], failed.values["error"]
    hooks.after_change(failed)
    ended = Change(S.FAILED, values={"error": f"node 'shape' failed: {SECRET}"})
    hooks.before_change(ended)
    hooks.after_change(ended)

    # Then: nothing recorded, published or logged holds it
    assert run.input == {"key": "[REDACTED]"}
    assert run.error == {"message": "rejected [REDACTED]", "code": "X", "retryable": False}
    assert ended.values["error"] == "node 'shape' failed: [REDACTED]"
    assert [update.model_dump(mode="json") for update in bus.updates] == [
        {
            "execution_id": "execution",
            "type": "node_failed",
            "node_id": "shape",
            "data": {"error": run.error},
            "timestamp": bus.updates[0].model_dump(mode="json")["timestamp"],
        },
        {
            "execution_id": "execution",
            "type": "failed",
            "node_id": None,
            "data": {"error": "node 'shape' failed: [REDACTED]"},
            "timestamp": bus.updates[1].model_dump(mode="json")["timestamp"],
        },
    ]
    assert [(line["level"], line["message"]) for line in memo.pending_logs] == [
        (LogLevel.ERROR, "shape failed: rejected [REDACTED]")
    ]


def test_a_retrying_node_is_published_with_its_wait_but_not_its_retry_time(
    plan: ExecutionPlan,
) -> None:
    bus, memo = ListBus(), CountingMemo()
    hooks = Hooks(default_hooks(bus=bus, memo=memo, redactor=Redactor()))
    run = memo.row("call")
    run.attempt = 1
    error = {"message": "503", "code": "HTTP_ERROR", "retryable": True}
    run.status, run.error = N.RETRYING, waiting_error(error, 200, utcnow())

    hooks.after_change(Change(N.RETRYING, N.RUNNING, plan.nodes["call"], run, delay_ms=200))

    assert [(u.type.value, u.data) for u in bus.updates] == [
        ("retrying", {"error": error, "attempt": 1, "delayMs": 200})
    ]
    assert [(line["level"], line["message"]) for line in memo.pending_logs] == [
        (LogLevel.WARN, "call failed, retrying: 503")
    ]


def test_streamed_text_is_redacted_across_pieces_before_it_is_published() -> None:
    # Given: the default hooks, and a node streaming a secret split in two pieces
    bus = ListBus()
    hooks = Hooks(default_hooks(bus=bus, memo=CountingMemo(), redactor=Redactor([SECRET])))

    # When: the pieces come
    hooks.token("ask", "The key is tok-canary")
    hooks.token("ask", "-91c4e7, as asked. Anything else you need today?")

    # Then: what was published never holds the secret, whole or in part
    published = "".join(update.data for update in bus.updates)
    assert all(update.type.value == "token" for update in bus.updates)
    assert published.startswith("The key is [REDACTED], as asked.")
    assert "tok-canary" not in published


def test_a_side_effecting_attempt_beats_while_it_runs_and_a_pure_one_is_left_alone(
    plan: ExecutionPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: heartbeats every 20 ms
    monkeypatch.setattr(heartbeat, "HEARTBEAT_S", 0.02)
    memo = CountingMemo()
    hook = HeartbeatHook(memo)

    async def slow() -> str:
        await asyncio.sleep(0.2)
        return "done"

    # When: a pure node's attempt and an HTTP node's attempt run
    pure = slow()
    assert hook.wrap_attempt(plan.nodes["shape"], pure) is pure
    result = asyncio.run(_await(hook.wrap_attempt(plan.nodes["call"], slow()), pure))

    # Then: only the side-effecting attempt beat, several times, and its result came through
    assert result == "done"
    assert memo.beats >= 2


async def _await(work: Awaitable[Any], other: Awaitable[Any]) -> Any:
    await other
    return await work


def test_finished_pure_nodes_are_written_while_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given: checkpoints every 10 ms and beats every 50 ms, while a run goes on
    monkeypatch.setattr(heartbeat, "CHECKPOINT_S", 0.01)
    monkeypatch.setattr(heartbeat, "HEARTBEAT_S", 0.05)
    memo = CountingMemo()
    hook = HeartbeatHook(memo)

    async def run() -> None:
        hook.run_started()
        try:
            memo.stage(memo.row("shape"))  # a pure node finished
            await asyncio.sleep(0.2)
        finally:
            hook.run_stopped()

    # When: the run goes on for 0.2 s
    asyncio.run(run())

    # Then: its row was written once, then the execution only beat
    assert memo.flushes == 1
    assert memo.beats >= 1
