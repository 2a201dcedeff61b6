"""The engine end to end: real workers (in-process with SQLite, Redis with PostgreSQL)
running stored workflows, with the node runs as the memo."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.engine.helpers import (
    WAIT_S,
    edge,
    jsonata,
    make_workflow,
    node,
    stored_execution,
    wait_for,
    wait_node_status,
    wait_status,
)
from tests.support.local_server import LocalServer, Request, Response, serve
from tests.support.sandbox import BusySandbox
from workfuse.engine import broker
from workfuse.engine.events import UpdateType, get_event_bus
from workfuse.engine.runner import ExecutionRunner
from workfuse.models import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    NodeRun,
    NodeRunStatus,
    User,
)
from workfuse.sandbox.pool import default_pool
from workfuse.secrets import process_secret_store
from workfuse.services import secrets as secret_service
from workfuse.services.executions import cancel_execution, retry_execution, start_execution

TOKEN = "tok-canary-5d2e8f"
FAST_RETRY = {"maxAttempts": 3, "initialDelayMs": 200, "backoffMultiplier": 2}


def start(session: Session, workflow: Any, data: Any = None, **options: Any) -> str:
    trigger = {"source": "manual", "data": data if data is not None else {}, "headers": {}}
    return start_execution(session=session, workflow=workflow, trigger=trigger, **options).id


def test_a_linear_workflow_passes_outputs_along(engine: str, session: Session, user: User) -> None:
    # Given: trigger -> double -> describe
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            jsonata("double", "trigger.data.n * 2"),
            node(
                "describe",
                "transform",
                {"language": "javascript", "code": "return `n2=${nodes.double.result}`"},
            ),
        ],
        [edge("start", "double"), edge("double", "describe")],
    )

    # When: it runs
    execution, runs = wait_for(start(session, workflow, {"n": 21}))

    # Then: every node succeeded once, in order, with its output kept
    assert execution.status is ExecutionStatus.COMPLETED, execution.error
    assert runs["double"].output == {"result": 42, "logs": []}
    assert runs["describe"].output["result"] == "n2=42"
    assert {run.attempt for run in runs.values()} == {1}
    assert execution.duration is not None and execution.completed_at is not None
    assert execution.node_results == dict.fromkeys(("start", "double", "describe"), "SUCCEEDED")
    assert runs["describe"].input == {
        "language": "javascript",
        "code": "return `n2=${nodes.double.result}`",
        "timeout": None,
    }


def test_a_condition_runs_one_branch_and_skips_the_rest(
    engine: str, session: Session, user: User
) -> None:
    # Given: a condition with two branches, and a node behind the untaken one
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node(
                "route",
                "condition",
                {
                    "conditions": [
                        {
                            "field": "{{ trigger.data.total }}",
                            "operator": "gt",
                            "value": 100,
                            "branch": "big",
                        }
                    ],
                    "defaultBranch": "small",
                },
            ),
            jsonata("big", "'big'"),
            jsonata("small", "'small'"),
            jsonata("after-small", "'after'"),
        ],
        [
            edge("start", "route"),
            edge("route", "big", "big"),
            edge("route", "small", "small"),
            edge("small", "after-small"),
        ],
    )

    # When: it runs with a big total
    execution, runs = wait_for(start(session, workflow, {"total": 500}))

    # Then: the big branch ran; the small one and what follows it are skipped
    assert execution.status is ExecutionStatus.COMPLETED
    assert runs["route"].output == {"branch": "big", "matchedRule": 0}
    assert runs["big"].status is NodeRunStatus.SUCCEEDED
    assert runs["small"].status is NodeRunStatus.SKIPPED
    assert runs["after-small"].status is NodeRunStatus.SKIPPED


def test_a_diamond_joins_once_after_both_sides(engine: str, session: Session, user: User) -> None:
    # Given: start -> (left, right) -> join, the join reading both sides
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            jsonata("left", "1"),
            jsonata("right", "2"),
            jsonata("join", "nodes.left.result + nodes.right.result"),
        ],
        [
            edge("start", "left"),
            edge("start", "right"),
            edge("left", "join"),
            edge("right", "join"),
        ],
    )

    # When: it runs
    execution, runs = wait_for(start(session, workflow))

    # Then: the join ran once, after both, with both results
    assert execution.status is ExecutionStatus.COMPLETED
    assert runs["join"].output["result"] == 3
    assert runs["join"].attempt == 1
    assert runs["join"].started_at >= max(runs["left"].finished_at, runs["right"].finished_at)


@pytest.fixture
def flaky(allow_loopback: None) -> Iterator[LocalServer]:
    """``/flaky`` fails with 503 twice, then answers; ``/fail`` always answers 400."""
    calls = itertools.count(1)

    def flaky_route(request: Request) -> Response:
        if next(calls) <= 2:
            return Response.json({"error": "busy"}, 503)
        return Response.json({"ok": True, "auth": request.headers.get("authorization")})

    with serve(
        {
            "GET /flaky": flaky_route,
            "POST /fail": lambda request: Response.json({"error": "bad input"}, 400),
            "GET /echo": lambda request: Response.json(
                {"auth": request.headers.get("authorization")}
            ),
        }
    ) as server:
        yield server


def test_a_retryable_failure_waits_with_backoff_then_succeeds(
    engine: str, session: Session, user: User, flaky: LocalServer
) -> None:
    # Given: an HTTP node with a retry policy against a server that fails twice
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node("call", "http", {"url": f"{flaky.url}/flaky"}, retryPolicy=FAST_RETRY),
        ],
        [edge("start", "call")],
    )

    # When: it runs
    began = time.monotonic()
    execution, runs = wait_for(start(session, workflow))

    # Then: the third attempt succeeded, after waiting about 200 ms + 400 ms (±20%)
    assert execution.status is ExecutionStatus.COMPLETED, execution.error
    assert runs["call"].attempt == 3
    assert runs["call"].output["body"]["ok"] is True
    assert time.monotonic() - began >= 0.48
    keys = {request.headers["idempotency-key"] for request in flaky.requests}
    assert keys == {f"{execution.id}:call"}, "one idempotency key across attempts"
    with Session(session.get_bind()) as fresh:
        lines = fresh.exec(
            select(ExecutionLog).where(ExecutionLog.execution_id == execution.id)
        ).all()
    assert sum("retrying" in line.message for line in lines) == 2


def test_a_javascript_node_whose_sandbox_dies_runs_again_in_a_new_one(
    engine: str, session: Session, user: User
) -> None:
    # Given: a JavaScript transform of about 3 s with a retry policy
    code = "const end = Date.now() + 3000; while (Date.now() < end) {} return trigger.data.n"
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node(
                "slow",
                "transform",
                {"language": "javascript", "code": code},
                retryPolicy=FAST_RETRY,
            ),
        ],
        [edge("start", "slow")],
    )
    pool = default_pool()
    pool.check_javascript("return 1")  # a sandbox process with V8 is running
    busy = BusySandbox(pool)

    # When: the sandbox process running the code is killed once the code is running
    execution_id = start(session, workflow, {"n": 7})
    pid = busy.wait(within_s=WAIT_S)
    os.kill(pid, signal.SIGKILL)
    execution, runs = wait_for(execution_id)

    # Then: the node ran again, in a new sandbox process, and the execution completed
    assert execution.status is ExecutionStatus.COMPLETED, execution.error
    assert runs["slow"].attempt == 2
    assert runs["slow"].output == {"result": 7, "logs": []}
    assert pid not in pool.pids


def test_a_non_retryable_failure_fails_the_execution_at_once(
    engine: str, session: Session, user: User, flaky: LocalServer
) -> None:
    # Given: a node whose server answers 400 (not retryable), then a node after it
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node(
                "call",
                "http",
                {"method": "POST", "url": f"{flaky.url}/fail"},
                retryPolicy=FAST_RETRY,
            ),
            jsonata("after", "1"),
        ],
        [edge("start", "call"), edge("call", "after")],
    )

    # When: it runs
    execution, runs = wait_for(start(session, workflow))

    # Then: one attempt, the execution FAILED naming the node, the next node never ran
    assert execution.status is ExecutionStatus.FAILED
    assert "'call' failed" in (execution.error or "") and "400" in (execution.error or "")
    assert runs["call"].attempt == 1
    assert runs["call"].error["code"] == "HTTP_400"
    assert runs["call"].error["retryable"] is False
    assert "after" not in runs


def test_cancel_during_a_retry_wait_stops_the_execution(
    engine: str, session: Session, user: User, flaky: LocalServer
) -> None:
    # Given: a node that will wait 1.5 s before its second attempt
    policy = {"maxAttempts": 5, "initialDelayMs": 1500, "backoffMultiplier": 1}
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node("call", "http", {"url": f"{flaky.url}/flaky"}, retryPolicy=policy),
        ],
        [edge("start", "call")],
    )
    execution_id = start(session, workflow)
    wait_status(execution_id, ExecutionStatus.RETRYING)

    # When: it is cancelled while waiting
    cancel_execution(session=session, user=user, execution_id=execution_id)
    time.sleep(2.0)

    # Then: it stays CANCELLED and the pending retry never called the server again
    execution, runs = wait_for(execution_id)
    assert execution.status is ExecutionStatus.CANCELLED
    assert execution.duration is not None and execution.duration >= 0
    assert len(flaky.requests) == 1
    assert runs["call"].status is NodeRunStatus.RETRYING


def test_cancelled_while_one_call_runs_the_next_call_never_happens(
    engine: str, session: Session, user: User, allow_loopback: None
) -> None:
    # Given: first (HTTP) -> second (HTTP), and a server that holds the first call
    # until the test has cancelled the execution
    cancelled = threading.Event()

    def first(request: Request) -> Response:
        cancelled.wait(10)
        return Response.json({"ok": True})

    routes = {"GET /first": first, "GET /second": lambda request: Response.json({})}
    with serve(routes) as server:
        workflow = make_workflow(
            session,
            user,
            [
                node("start", "trigger", {}),
                node("first", "http", {"url": f"{server.url}/first"}),
                node("second", "http", {"url": f"{server.url}/second"}),
            ],
            [edge("start", "first"), edge("first", "second")],
        )
        execution_id = start(session, workflow)
        wait_node_status(execution_id, "first", NodeRunStatus.RUNNING)

        # When: it is cancelled while the first call is in flight
        cancel_execution(session=session, user=user, execution_id=execution_id)
        cancelled.set()

        # Then: the first call's result is kept, and the second call is never made
        wait_node_status(execution_id, "first", NodeRunStatus.SUCCEEDED)
        time.sleep(1.0)
        execution, runs = wait_for(execution_id)
        assert execution.status is ExecutionStatus.CANCELLED
        assert "second" not in runs
        assert [request.path for request in server.requests] == ["/first"]


def test_retry_from_the_failed_node_reuses_completed_outputs(
    engine: str, session: Session, user: User, flaky: LocalServer
) -> None:
    # Given: an execution whose http node failed after a transform succeeded
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            jsonata("prepare", "'prepared'"),
            node("call", "http", {"url": f"{flaky.url}/flaky"}),
        ],
        [edge("start", "prepare"), edge("prepare", "call")],
    )
    failed, _ = wait_for(start(session, workflow))
    assert failed.status is ExecutionStatus.FAILED
    retried, _ = wait_for(retry_execution(session=session, user=user, execution_id=failed.id).id)
    assert retried.status is ExecutionStatus.FAILED  # the server still answers 503 once more

    # When: it is retried from the failed node
    again = retry_execution(
        session=session, user=user, execution_id=retried.id, from_failed_node=True
    )
    execution, runs = wait_for(again.id)

    # Then: only the http node ran again; the transform's output was reused, not rerun
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.retry_of_id == retried.id
    assert runs["prepare"].output == {"result": "prepared", "logs": []}
    assert runs["prepare"].started_at < execution.started_at
    assert runs["call"].attempt == 1


def test_a_duplicate_message_runs_each_node_once(engine: str, session: Session, user: User) -> None:
    # Given: an execution that is sent three times (a redelivery, say)
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node(
                "wait",
                "transform",
                {
                    "language": "javascript",
                    "code": "let t = Date.now(); while (Date.now() - t < 200) {} return 1",
                },
            ),
        ],
        [edge("start", "wait")],
    )
    execution_id = start(session, workflow)
    broker.enqueue(execution_id)
    broker.enqueue(execution_id)

    # When: they are all processed
    execution, _runs = wait_for(execution_id)
    time.sleep(0.5)

    # Then: the execution completed once and no node ran twice
    assert execution.status is ExecutionStatus.COMPLETED
    with Session(session.get_bind()) as fresh:
        rows = fresh.exec(select(NodeRun).where(NodeRun.execution_id == execution_id)).all()
    assert sorted(row.node_id for row in rows) == ["start", "wait"]
    assert {row.attempt for row in rows} <= {1, 2}


def test_a_resumed_execution_skips_what_its_memo_says_is_done(
    database_url: str, session: Session, user: User
) -> None:
    # Given: an execution interrupted after its first transform (its run is on record)
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            jsonata("first", "'from the memo'"),
            jsonata("second", "nodes.first.result"),
        ],
        [edge("start", "first"), edge("first", "second")],
    )
    execution = stored_execution(session, workflow)
    for node_id, output in (
        ("start", {"source": "manual", "data": {}, "headers": {}}),
        ("first", {"result": "from the memo", "logs": []}),
    ):
        session.add(
            NodeRun(
                execution_id=execution.id,
                node_id=node_id,
                status=NodeRunStatus.SUCCEEDED,
                attempt=1,
                output=output,
            )
        )
    session.commit()

    # When: a worker picks it up again (in this thread, no broker)
    runner = ExecutionRunner(
        execution.id, bus=get_event_bus(), store=process_secret_store(), schedule=lambda *_: None
    )
    asyncio.run(runner.run())

    # Then: only the second node ran, using the remembered output
    execution, runs = wait_for(execution.id)
    assert execution.status is ExecutionStatus.COMPLETED
    assert runs["first"].attempt == 1 and runs["start"].attempt == 1
    assert runs["second"].output["result"] == "from the memo"


def test_credentials_reach_the_node_and_never_its_output(
    engine: str, session: Session, user: User, flaky: LocalServer
) -> None:
    # Given: a bearer credential and a server that echoes the Authorization header
    reference = secret_service.create_secret(
        session=session, store=process_secret_store(), user_id=user.id, name="api", value=TOKEN
    )
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node(
                "call",
                "http",
                {
                    "url": f"{flaky.url}/echo",
                    "auth": {"type": "bearer", "secretArn": reference.arn},
                },
            ),
        ],
        [edge("start", "call")],
    )

    # When: it runs
    execution, runs = wait_for(start(session, workflow))

    # Then: the server got the token; the stored output has it redacted
    assert execution.status is ExecutionStatus.COMPLETED, execution.error
    assert flaky.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    assert runs["call"].output["body"]["auth"] == "Bearer [REDACTED]"
    assert TOKEN not in repr(runs["call"].input)


def test_events_arrive_in_order_for_a_subscriber(engine: str, session: Session, user: User) -> None:
    # Given: a subscriber listening before the run starts
    workflow = make_workflow(
        session,
        user,
        [node("start", "trigger", {}), jsonata("a", "1"), jsonata("b", "2")],
        [edge("start", "a"), edge("a", "b")],
    )
    received: list[tuple[str, str | None]] = []
    ready = threading.Event()
    execution_holder: dict[str, str] = {}

    async def listen() -> None:
        while "id" not in execution_holder:
            await asyncio.sleep(0.001)
        async with get_event_bus().subscribe(execution_holder["id"]) as updates:
            ready.set()
            async for update in updates:
                received.append((update.type.value, update.node_id))
                if update.type in (UpdateType.COMPLETED, UpdateType.FAILED):
                    return

    # When: the execution is stored, the subscriber attaches, then the message is sent
    execution = Execution(
        status=ExecutionStatus.PENDING,
        trigger_data={"source": "manual", "data": {}},
        workflow_version=workflow.version,
        workflow_id=workflow.id,
        user_id=user.id,
    )
    session.add(execution)
    session.commit()
    execution_holder["id"] = execution.id
    listener = threading.Thread(target=lambda: asyncio.run(listen()))
    listener.start()
    assert ready.wait(10)
    broker.enqueue(execution.id)
    listener.join(15)

    # Then: started, each node started then completed in order, then completed
    assert received == [
        ("started", None),
        ("node_started", "start"),
        ("node_completed", "start"),
        ("node_started", "a"),
        ("node_completed", "a"),
        ("node_started", "b"),
        ("node_completed", "b"),
        ("completed", None),
    ]


def test_a_duplicate_message_does_not_repeat_a_side_effect_still_in_flight(
    engine: str, session: Session, user: User, allow_loopback: None
) -> None:
    # Given: an HTTP node whose server takes a second to answer
    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response.json({"ok": True})

    with serve({"POST /slow": slow}) as server:
        workflow = make_workflow(
            session,
            user,
            [
                node("start", "trigger", {}),
                node("call", "http", {"method": "POST", "url": f"{server.url}/slow"}),
            ],
            [edge("start", "call")],
        )
        execution_id = start(session, workflow)
        wait_node_status(execution_id, "call", NodeRunStatus.RUNNING)

        # When: the same execution's message arrives again while the call is in flight
        broker.enqueue(execution_id)
        execution, runs = wait_for(execution_id)

        # Then: the endpoint was called once, and the execution completed
        assert execution.status is ExecutionStatus.COMPLETED
        assert len(server.requests) == 1
        assert runs["call"].attempt == 1
