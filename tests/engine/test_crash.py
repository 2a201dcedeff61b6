"""Crashes, outages and duplicates with real processes: PostgreSQL, a private Redis and
separate ``workfuse worker`` processes.

Every test starts its own ``redis-server`` on a free port (no persistence), so stopping
it never disturbs other tests, and uses a broker namespace of its own. Worker processes
run in their own process group (``start_new_session``): a SIGKILL of the group is a
machine dying, and the fixtures kill every group they started, whatever the outcome.
"""

from __future__ import annotations

import collections
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from dramatiq.brokers.redis import DEFAULT_HEARTBEAT_TIMEOUT, MAINTENANCE_SCALE, RedisBroker
from dramatiq.common import current_millis
from sqlmodel import Session, SQLModel, col, select

from tests.api.conftest import serve as serve_api
from tests.engine.helpers import edge, jsonata, make_workflow, node, wait_for
from tests.support.local_server import LocalServer, Request, Response
from tests.support.local_server import serve as serve_http
from workfuse.api.app import create_api
from workfuse.db import get_engine, session_scope, upgrade_database
from workfuse.db_types import utcnow
from workfuse.engine import broker
from workfuse.engine.reconciler import reconcile
from workfuse.engine.runner import STALE_AFTER_S
from workfuse.models import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    NodeRun,
    NodeRunStatus,
    User,
    Workflow,
)
from workfuse.services.executions import start_execution
from workfuse.services.users import create_user
from workfuse.settings import get_settings

pytestmark = pytest.mark.postgres

WORKFUSE = str(Path(sys.executable).parent / "workfuse")
READY_S = 30.0  #: seconds a worker process or redis-server may take to start
SLOW_S = 2.0  #: seconds the slow endpoint takes to answer
S = ExecutionStatus


# --- a private Redis ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PrivateRedis:
    """A ``redis-server`` of this test only, on a free port of 127.0.0.1."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def start(self) -> None:
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
                *("--logfile", str(self.directory / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_S
        client = self.client()
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.directory / "redis.log").read_text(errors="replace")
                    pytest.fail(f"redis-server did not start on {self.port}:\n{log[-2000:]}")
                time.sleep(0.02)
            finally:
                client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = PrivateRedis(directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --- PostgreSQL + the private Redis, for this process and its workers ------------------


@dataclass
class Stack:
    database_url: str
    redis: PrivateRedis
    namespace: str
    env: dict[str, str]

    def key(self, name: str) -> str:
        return f"{self.namespace}:{name}"


@contextlib.contextmanager
def stack_on(
    database_url: str, redis_server: PrivateRedis, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    """This process (and the workers it starts) configured for ``database_url`` (migrated)
    and the private Redis, under a broker namespace of its own; every table emptied
    afterwards (the database may be unreachable by then: a private cluster is thrown
    away)."""
    namespace = f"workfuse-crash-{secrets.token_hex(4)}"
    env = {
        "WORKFUSE_DATABASE_URL": database_url,
        "WORKFUSE_REDIS_URL": redis_server.url,
        "WORKFUSE_BROKER_NAMESPACE": namespace,
        "WORKFUSE_DATA_DIR": str(data_dir),
        "WORKFUSE_EGRESS_ALLOW": "127.0.0.1/32",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    broker.reset_engine()
    try:
        yield Stack(database_url, redis_server, namespace, env)
    finally:
        broker.reset_engine()
        get_settings.cache_clear()
        with contextlib.suppress(sa.exc.OperationalError), get_engine(database_url).begin() as db:
            for table in reversed(SQLModel.metadata.sorted_tables):
                db.execute(table.delete())


@pytest.fixture
def stack(
    postgres_url: str,
    private_redis: PrivateRedis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    _migrated: set[str],
) -> Iterator[Stack]:
    """The run's PostgreSQL database (migrated once) and this test's private Redis."""
    if postgres_url not in _migrated:
        upgrade_database(postgres_url)
        _migrated.add(postgres_url)
    with stack_on(postgres_url, private_redis, tmp_path / "data", monkeypatch) as stack:
        yield stack


# --- worker processes ---------------------------------------------------------------


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    broker_id: str = ""  #: its Dramatiq broker's id (its member of the heartbeats set)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class Workers:
    """``workfuse worker`` processes, each in its own process group."""

    def __init__(self, stack: Stack, directory: Path) -> None:
        self.stack = stack
        self.directory = directory
        self.started: list[Worker] = []

    def start(self, name: str, *, threads: int = 2, env: dict[str, str] | None = None) -> Worker:
        """Start one worker process and wait until it polls the queue."""
        known = self._heartbeats()
        log = self.directory / f"worker-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [WORKFUSE, "worker", "--processes", "1", "--threads", str(threads)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.stack.env, **(env or {})},
                start_new_session=True,
            )
        worker = Worker(name, process, log)
        self.started.append(worker)
        deadline = time.monotonic() + READY_S
        while True:
            new = self._heartbeats() - known
            if new:
                worker.broker_id = new.pop()
                return worker
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker {name} did not start:\n{worker.output()}")
            time.sleep(0.05)

    def kill(self, worker: Worker) -> None:
        """SIGKILL the worker's whole process group (Dramatiq's parent and children)."""
        _kill_group(worker.process, signal.SIGKILL)

    def stop_all(self) -> None:
        for worker in self.started:
            _kill_group(worker.process, signal.SIGKILL)

    def _heartbeats(self) -> set[str]:
        client = self.stack.redis.client()
        try:
            return {
                member.decode() for member in client.zrange(self.stack.key("__heartbeats__"), 0, -1)
            }
        finally:
            client.close()


def _kill_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def workers(stack: Stack, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(stack, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


# --- a side-effecting endpoint that counts ------------------------------------------


@dataclass
class Endpoint:
    """``POST /charge`` (quick) and ``POST /slow`` (answers after ``hold_s``, or as soon
    as ``release`` is set); every call counted per path and ``Idempotency-Key``."""

    server: LocalServer
    hold_s: float = SLOW_S
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return self.server.url

    def calls(self) -> collections.Counter[tuple[str, str]]:
        return collections.Counter(
            (request.path, request.headers.get("idempotency-key", ""))
            for request in list(self.server.requests)
        )

    def wait_for_call(self, path: str, timeout: float = READY_S) -> None:
        deadline = time.monotonic() + timeout
        while not any(request.path == path for request in list(self.server.requests)):
            if time.monotonic() > deadline:
                raise AssertionError(f"nobody called {path}")
            time.sleep(0.01)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    def slow(request: Request) -> Response:
        endpoint.release.wait(endpoint.hold_s)
        return Response.json({"ok": True, "slow": True})

    routes: dict[str, Callable[[Request], Response]] = {
        "POST /charge": lambda request: Response.json({"ok": True, "charged": 12}),
        "POST /slow": slow,
    }
    with serve_http(routes) as server:
        endpoint = Endpoint(server)
        try:
            yield endpoint
        finally:
            endpoint.release.set()  # no handler thread left waiting


# --- helpers ------------------------------------------------------------------------


@pytest.fixture
def owner(stack: Stack) -> User:
    with Session(get_engine(stack.database_url), expire_on_commit=False) as session:
        user = create_user(session=session, email="crash@example.com")
        session.commit()
        return user


def workflow_of(user: User, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Workflow:
    with session_scope() as session:
        merged = session.merge(user)
        return make_workflow(session, merged, nodes, edges)


def http(node_id: str, url: str) -> dict[str, Any]:
    return node(node_id, "http", {"method": "POST", "url": url, "timeout": 20_000})


def busy_javascript(node_id: str, milliseconds: int) -> dict[str, Any]:
    """A pure node that keeps its worker busy for ``milliseconds``."""
    code = f"let t = Date.now(); while (Date.now() - t < {milliseconds}) {{}} return 'prepared'"
    return node(node_id, "transform", {"language": "javascript", "code": code, "timeout": 10_000})


def start_manual(workflow: Workflow) -> str:
    """A manual run of ``workflow``, stored and sent (as "Run now" does); its id."""
    with session_scope() as session:
        return start_execution(
            session=session,
            workflow=session.merge(workflow),
            trigger={"source": "manual", "data": {}, "headers": {}},
        ).id


def store_pending(workflow: Workflow, data: Any = None) -> str:
    """A PENDING execution stored without its message (the test sends it)."""
    with session_scope() as session:
        execution = Execution(
            status=S.PENDING,
            trigger_data={"source": "manual", "data": data or {}, "headers": {}},
            workflow_version=workflow.version,
            workflow_id=workflow.id,
            user_id=workflow.user_id,
        )
        session.add(execution)
    return execution.id


def node_run(execution_id: str, node_id: str) -> NodeRun | None:
    with session_scope() as session:
        return session.exec(
            select(NodeRun).where(NodeRun.execution_id == execution_id, NodeRun.node_id == node_id)
        ).first()


def status_of(execution_id: str) -> ExecutionStatus | None:
    with session_scope() as session:
        execution = session.get(Execution, execution_id)
        return None if execution is None else execution.status


def success_lines(execution_id: str) -> collections.Counter[str]:
    """How many times each node's success was logged (one line per run of the node)."""
    with session_scope() as session:
        rows = session.exec(
            select(ExecutionLog.node_id).where(
                ExecutionLog.execution_id == execution_id,
                col(ExecutionLog.message).contains("succeeded"),
            )
        ).all()
    return collections.Counter(row for row in rows if row is not None)


def wait_until(check: Callable[[], bool], what: str, timeout: float = READY_S) -> None:
    """Poll ``check``; a timeout fails the test (``pytest.fail``, not an assertion, so
    an expected failure cannot hide it)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


def queued(stack: Stack) -> int:
    """Messages waiting in the queue (not yet fetched by any worker)."""
    client = stack.redis.client()
    try:
        return int(client.llen(stack.key(broker.QUEUE)))
    finally:
        client.close()


def queue_messages(stack: Stack, queue: str = broker.QUEUE) -> int:
    """Messages of ``queue`` not yet acknowledged (queued or being worked on)."""
    client = stack.redis.client()
    try:
        return int(client.hlen(stack.key(f"{queue}.msgs")))
    finally:
        client.close()


def unacked_by(stack: Stack, worker: Worker) -> set[bytes]:
    client = stack.redis.client()
    try:
        return set(client.smembers(stack.key(f"__acks__.{worker.broker_id}.{broker.QUEUE}")))
    finally:
        client.close()


def dramatiq_maintenance_after(stack: Stack, dead: Worker) -> None:
    """What Dramatiq's Redis broker does once a worker has sent no heartbeat for
    ``heartbeat_timeout`` (60 s): move the messages it fetched and never acknowledged
    back to the queue. Time is moved instead of waited for: the dead worker's last
    heartbeat is set 61 s back, then one broker command runs the maintenance that
    Dramatiq otherwise runs at random (0.1% of commands)."""
    client = stack.redis.client()
    try:
        past = current_millis() - DEFAULT_HEARTBEAT_TIMEOUT - 1_000
        client.zadd(stack.key("__heartbeats__"), {dead.broker_id: past})
    finally:
        client.close()
    maintenance = RedisBroker(
        url=stack.redis.url,
        namespace=stack.namespace,
        middleware=[],
        maintenance_chance=MAINTENANCE_SCALE,  # every command
    )
    try:
        maintenance.do_qsize(broker.QUEUE)
    finally:
        maintenance.close()


# --- a. a worker killed inside an HTTP call ------------------------------------------


def test_a_worker_killed_during_an_http_call_is_finished_by_another(
    stack: Stack, workers: Workers, endpoint: Endpoint, owner: User
) -> None:
    """SIGKILL of a worker process while its second HTTP node waits for the server.

    Path exercised: **Dramatiq's redelivery** of the dead worker's unacknowledged
    message (not the reconciler). Two waits are compressed instead of slept through:

    * Dramatiq requeues a dead worker's messages only when its heartbeat is older
      than 60 s and a maintenance pass happens to run; the test sets that heartbeat
      back 61 s in Redis and runs one maintenance pass itself
      (:func:`dramatiq_maintenance_after`), exactly the broker's own Lua code.
    * The runner treats a RUNNING side-effecting node as still in flight elsewhere
      while the execution's ``heartbeat_at`` is younger than ``STALE_AFTER_S`` (45 s)
      and would look again 45 s later; the test sets ``heartbeat_at`` back in the
      database instead (nothing in the worker process is patched).

    The reconciler is not used here. It re-sends a RUNNING execution only once its
    running HTTP node started more than ``NODE_TIMEOUT_S`` + ``stale_after_s`` ago,
    and it stamps ``heartbeat_at`` when it claims the execution, which the runner then
    reads as a live worker: the re-sent run waits one more ``STALE_AFTER_S`` (measured:
    49 s from ``reconcile()`` to COMPLETED), over this test's time budget.
    """
    # Given: charge (quick) -> slow (2 s) -> done, and one worker process
    workflow = workflow_of(
        owner,
        [
            node("start", "trigger", {}),
            http("charge", f"{endpoint.url}/charge"),
            http("slow", f"{endpoint.url}/slow"),
            jsonata("done", "nodes.charge.body.charged + 1"),
        ],
        [edge("start", "charge"), edge("charge", "slow"), edge("slow", "done")],
    )
    first = workers.start("first")
    execution_id = start_manual(workflow)

    # When: the worker is SIGKILLed while the slow call is in flight
    endpoint.wait_for_call("/slow")
    charged = node_run(execution_id, "charge")
    assert charged is not None and charged.status is NodeRunStatus.SUCCEEDED
    assert unacked_by(stack, first), "the worker held the message, unacknowledged"
    workers.kill(first)
    interrupted = node_run(execution_id, "slow")
    assert interrupted is not None
    assert (interrupted.status, interrupted.attempt) == (NodeRunStatus.RUNNING, 1)
    with session_scope() as session:
        execution = session.get(Execution, execution_id)
        assert execution is not None and execution.status is S.RUNNING

    # And: time passes (the worker's Redis heartbeat and the run's heartbeat go stale)
    assert queued(stack) == 0
    dramatiq_maintenance_after(stack, first)
    assert queued(stack) == 1, "Dramatiq put the dead worker's message back"
    with session_scope() as session:
        session.execute(
            sa.update(Execution)
            .where(col(Execution.id) == execution_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=STALE_AFTER_S + 15))
        )

    # And: a new worker process starts
    workers.start("second")

    # Then: the execution completes
    execution, runs = wait_for(execution_id, timeout=30)
    assert execution.status is S.COMPLETED, execution.error
    assert runs["done"].output["result"] == 13

    # And: the completed side-effecting node was not called again (nor re-run)
    calls = endpoint.calls()
    assert calls[("/charge", f"{execution_id}:charge")] == 1
    assert runs["charge"].attempt == 1
    assert runs["charge"].started_at == charged.started_at

    # And: the interrupted one was called at most twice, with the same idempotency key
    assert calls[("/slow", f"{execution_id}:slow")] <= 2
    assert sum(n for (path, _), n in calls.items() if path == "/slow") <= 2
    assert runs["slow"].attempt == 2
    assert runs["slow"].status is NodeRunStatus.SUCCEEDED


def test_a_stopped_worker_waits_its_grace_then_leaves_the_run_to_another(
    stack: Stack, workers: Workers, endpoint: Endpoint, owner: User
) -> None:
    # Given: a worker with a 1-second shutdown grace, in the middle of a long HTTP call
    endpoint.hold_s = 120.0
    workflow = workflow_of(
        owner,
        [node("start", "trigger", {}), http("slow", f"{endpoint.url}/slow")],
        [edge("start", "slow")],
    )
    worker = workers.start("graceful", env={"WORKFUSE_SHUTDOWN_GRACE_SECONDS": "1"})
    execution_id = start_manual(workflow)
    endpoint.wait_for_call("/slow")

    # When: it is asked to stop (SIGTERM, as a service manager does)
    began = time.monotonic()
    os.killpg(worker.process.pid, signal.SIGTERM)
    worker.process.wait(timeout=30)

    # Then: it exits after its grace, not after the call (2 minutes away)
    assert time.monotonic() - began < 20, worker.output()

    # And: the run is not lost: still RUNNING, its message still Dramatiq's to hand to
    # another worker once this one's heartbeat is stale
    assert status_of(execution_id) is S.RUNNING
    assert unacked_by(stack, worker), "the message stays unacknowledged"


def sandbox_processes_of(worker: Worker) -> list[int]:
    """The sandbox processes running under ``worker``'s process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError):
            if os.getpgid(int(entry.name)) != worker.process.pid:
                continue
            if b"workfuse.sandbox.host" in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


def test_a_stopped_worker_running_hostile_transforms_exits_within_its_grace(
    stack: Stack, workers: Workers, owner: User
) -> None:
    # Given: a worker with a 1-second grace running transforms that would run for a
    # minute inside built-ins nothing interrupts (JSONata and JavaScript, 60 s limits)
    hostile = [
        ("distinct", "jsonata", "$distinct([1..3000000])"),
        ("spread", "jsonata", "$spread([1..100000])"),
        ("fill", "javascript", "return Array(1e9).fill(0).length"),
    ]
    worker = workers.start("hostile", threads=4, env={"WORKFUSE_SHUTDOWN_GRACE_SECONDS": "1"})
    started = []
    for node_id, language, code in hostile:
        config = {"language": language, "code": code, "timeout": 60_000}
        workflow = workflow_of(
            owner,
            [node("start", "trigger", {}), node(node_id, "transform", config)],
            [edge("start", node_id)],
        )
        started.append(start_manual(workflow))
    wait_until(
        lambda: (
            all(status_of(execution) is S.RUNNING for execution in started)
            and len(sandbox_processes_of(worker)) >= len(hostile)
        ),
        "the hostile transforms run",
    )
    time.sleep(1.0)

    # When: it is asked to stop (SIGTERM, as a service manager does)
    began = time.monotonic()
    os.killpg(worker.process.pid, signal.SIGTERM)
    worker.process.wait(timeout=60)

    # Then: it exits within its grace plus the sandbox processes' shutdown wait, and
    # leaves no sandbox process running
    assert time.monotonic() - began < 1 + 5 + 5, worker.output()
    wait_until(lambda: not sandbox_processes_of(worker), "the sandbox processes end", 10)


# --- b. the broker stopped during a webhook ------------------------------------------


def test_a_webhook_while_redis_is_down_is_accepted_and_runs_after_it_returns(
    stack: Stack, workers: Workers, owner: User
) -> None:
    """Redis stops: ``POST /hooks/{token}`` still answers 202 and the execution is
    stored PENDING; when Redis is back, ``reconcile()`` sends it and the worker
    process (which lived through the outage) runs it."""
    # Given: a webhook workflow, the app's API on uvicorn, and a worker process
    workflow = workflow_of(
        owner,
        [node("start", "trigger", {"source": "webhook"}), jsonata("shape", "trigger.data.n * 2")],
        [edge("start", "shape")],
    )
    workers.start("survivor")
    with serve_api(create_api()) as api, httpx.Client(base_url=api, timeout=30) as client:
        path = f"/hooks/{workflow.webhook_token}"
        before = client.post(path, json={"n": 1})
        assert before.status_code == 202, before.text
        finished, _ = wait_for(before.json()["executionId"], timeout=20)
        assert finished.status is S.COMPLETED, finished.error

        # When: Redis stops and a webhook arrives
        stack.redis.stop()
        began = time.monotonic()
        response = client.post(path, json={"n": 21})
        answered_in = time.monotonic() - began

        # Then: 202 with the execution's id, stored PENDING
        assert response.status_code == 202, response.text
        execution_id = response.json()["executionId"]
        assert answered_in < 2, f"the 202 took {answered_in:.1f} s"
        time.sleep(0.5)
        with session_scope() as session:
            execution = session.get(Execution, execution_id)
            assert execution is not None
            assert execution.status is S.PENDING
            assert execution.trigger_data["data"] == {"n": 21}

    # When: Redis is back and the reconciler runs
    stack.redis.start()
    sent = 0
    deadline = time.monotonic() + 20
    while sent == 0 and time.monotonic() < deadline:
        sent = reconcile(stale_after_s=1, pending_after_s=0)
        if sent == 0:
            time.sleep(0.5)

    # Then: it was re-sent once, and the worker ran it to the end
    assert sent == 1
    execution, runs = wait_for(execution_id, timeout=30)
    assert execution.status is S.COMPLETED, execution.error
    assert runs["shape"].output["result"] == 42


# --- c. the same message delivered to two worker processes ---------------------------


DUPLICATE_WORKERS = {"dramatiq_queue_prefetch": "1"}  # a process holds one message at a time


def duplicate_workflow(owner: User, endpoint: Endpoint, prepare_ms: int) -> Workflow:
    """start -> prepare (pure, busy ``prepare_ms``) -> call (http, 2 s) -> after (pure)."""
    return workflow_of(
        owner,
        [
            node("start", "trigger", {}),
            busy_javascript("prepare", prepare_ms),
            http("call", f"{endpoint.url}/slow"),
            jsonata("after", "nodes.call.body.slow"),
        ],
        [edge("start", "prepare"), edge("prepare", "call"), edge("call", "after")],
    )


def assert_each_node_ran_once(execution_id: str, endpoint: Endpoint) -> None:
    execution, runs = wait_for(execution_id, timeout=30)
    assert execution.status is S.COMPLETED, execution.error
    assert runs["after"].output["result"] is True
    assert endpoint.calls() == {("/slow", f"{execution_id}:call"): 1}, "one HTTP call"
    assert {node_id: run.attempt for node_id, run in runs.items()} == dict.fromkeys(
        ("start", "prepare", "call", "after"), 1
    )
    assert success_lines(execution_id) == dict.fromkeys(("start", "prepare", "call", "after"), 1)


def test_a_duplicate_arriving_while_the_http_node_runs_elsewhere_runs_nothing_twice(
    stack: Stack, workers: Workers, endpoint: Endpoint, owner: User
) -> None:
    """The same message (one Dramatiq message id) delivered again, to a second worker
    process, while the first is inside the HTTP node; and once more after the end."""
    # Given: two worker processes that each hold at most one message
    workflow = duplicate_workflow(owner, endpoint, prepare_ms=50)
    workers.start("one", env=DUPLICATE_WORKERS)
    workers.start("two", env=DUPLICATE_WORKERS)
    execution_id = store_pending(workflow)
    engine = broker.get_engine()
    message = engine.actor.message(execution_id)

    # When: the message is delivered, and again while its HTTP call is in flight
    endpoint.hold_s = READY_S  # the call lasts until the test releases it
    engine.broker.enqueue(message)
    endpoint.wait_for_call("/slow")
    engine.broker.enqueue(message)

    # Then: the other process takes the duplicate and looks again later (a delayed
    # message) instead of calling the endpoint
    wait_until(
        lambda: queue_messages(stack, f"{broker.QUEUE}.DQ") == 1, "the duplicate is deferred"
    )
    assert queue_messages(stack) == 1, "only the first delivery is still being worked on"
    endpoint.release.set()
    wait_until(lambda: queue_messages(stack) == 0, "both deliveries are acknowledged")

    # And: the execution completed with every node run once, the endpoint called once
    assert_each_node_ran_once(execution_id, endpoint)

    # When: the message is delivered once more after the end
    engine.broker.enqueue(message)
    wait_until(lambda: queue_messages(stack) == 0, "the third delivery is acknowledged")

    # Then: nothing ran again
    assert_each_node_ran_once(execution_id, endpoint)


def test_a_duplicate_delivered_to_two_workers_at_once_runs_each_node_once(
    stack: Stack, workers: Workers, endpoint: Endpoint, owner: User
) -> None:
    """The same message delivered twice at once, each copy taken by a different worker
    process (each holds one message at a time); the first node after the trigger keeps
    a worker busy for 1.5 s, so both have begun before any HTTP call is on record."""
    # Given: two idle worker processes
    workflow = duplicate_workflow(owner, endpoint, prepare_ms=1500)
    workers.start("one", env=DUPLICATE_WORKERS)
    workers.start("two", env=DUPLICATE_WORKERS)
    execution_id = store_pending(workflow)
    engine = broker.get_engine()
    message = engine.actor.message(execution_id)

    # When: the same message is delivered twice at once
    engine.broker.enqueue(message)
    engine.broker.enqueue(message)
    wait_until(lambda: queue_messages(stack) == 0, "both deliveries are acknowledged", 40)
    wait_until(lambda: status_of(execution_id) is S.COMPLETED, "the execution completes")

    # Then: every node ran once; the HTTP endpoint was called once
    assert_each_node_ran_once(execution_id, endpoint)
