"""What the chaos scenarios share: a private PostgreSQL cluster, a counting endpoint,
"time passing" for a dead worker, and the one summary line each scenario prints.

The private Redis, the worker processes and the stack come from
:mod:`tests.engine.test_crash` (every process this harness starts runs in its own
process group, on a free port of 127.0.0.1, and is stopped whatever the outcome).
"""

from __future__ import annotations

import collections
import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from glob import glob
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from dramatiq import Message
from dramatiq.brokers.redis import DEFAULT_HEARTBEAT_TIMEOUT, MAINTENANCE_SCALE, RedisBroker
from dramatiq.common import current_millis
from sqlmodel import col, func, select

from tests.api.conftest import serve as serve_api
from tests.engine.helpers import edge, jsonata, node
from tests.engine.test_crash import (
    READY_S,
    Stack,
    Worker,
    Workers,
    free_port,
    http,
    workflow_of,
)
from tests.support.local_server import LocalServer, Request, Response
from tests.support.local_server import serve as serve_http
from workfuse.api.app import create_api
from workfuse.db import session_scope
from workfuse.db_types import utcnow
from workfuse.engine import broker
from workfuse.engine.reconciler import reconcile, start_reconciler_thread
from workfuse.engine.state import STALE_AFTER_S, TERMINAL
from workfuse.models import (
    Execution,
    ExecutionLog,
    ExecutionStatus,
    NodeRun,
    NodeRunStatus,
    User,
    Workflow,
)

S = ExecutionStatus


# --- a private PostgreSQL cluster -----------------------------------------------------


def _postgres_bin(name: str) -> str:
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.fail(f"no PostgreSQL server binaries ({name}) under /usr/lib/postgresql")
    return found[-1]


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of this test only (``initdb`` in a temporary directory, trust
    auth, a free port of 127.0.0.1). PostgreSQL refuses to run as root, so as root it
    runs as the ``postgres`` OS user, in a directory that user owns."""

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=READY_S, check=False
        )
        if done.returncode != 0:
            log = self.directory / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            pytest.fail(f"{command[0]} failed:\n{done.stdout}{done.stderr}\n{tail}")

    def init(self) -> None:
        self._run(
            _postgres_bin("initdb"),
            *("-D", str(self.directory / "data"), "-U", "postgres", "--auth=trust"),
            *("--no-sync", "--encoding=UTF8"),
        )

    def _pg_ctl(self, action: str, *options: str) -> None:
        server_options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            _postgres_bin("pg_ctl"),
            *("-D", str(self.directory / "data"), "-l", str(self.directory / "postgres.log")),
            *("-o", server_options, "-w", "-t", str(int(READY_S)), *options, action),
        )

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: the server ends every session and shuts down cleanly."""
        self._pg_ctl("stop", "-m", mode)


# --- an endpoint that counts calls per execution ---------------------------------------


@dataclass
class CountingEndpoint:
    """``POST /work``: answers ``{"n": <call number>}`` after ``hold_s``; every call is
    counted per ``Idempotency-Key`` (``<execution id>:<node id>``)."""

    server: LocalServer
    hold_s: float
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counts: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def url(self) -> str:
        return f"{self.server.url}/work"

    def handle(self, request: Request) -> Response:
        with self._lock:
            self._counts[request.headers.get("idempotency-key", "")] += 1
        time.sleep(self.hold_s)
        return Response.json({"ok": True})

    def calls(self, execution_id: str, node_id: str) -> int:
        with self._lock:
            return self._counts[f"{execution_id}:{node_id}"]


@contextlib.contextmanager
def counting_endpoint(hold_s: float) -> Iterator[CountingEndpoint]:
    routes: dict[str, Callable[[Request], Response]] = {}
    with serve_http(routes) as server:
        endpoint = CountingEndpoint(server, hold_s)
        routes["POST /work"] = endpoint.handle
        yield endpoint


# --- worker processes, and time passing for a dead one -----------------------------------


class ChaosWorkers(Workers):
    """:class:`Workers` that may start one while this process talks to Redis: a start
    takes the first new member of Dramatiq's heartbeats set as the worker's broker id,
    and every broker that sends a command joins that set, so the brokers of this process
    (the app's, and the maintenance passes of :func:`let_time_pass_for`) are left out."""

    def __init__(self, stack: Stack, directory: Path) -> None:
        super().__init__(stack, directory)
        self.foreign: set[str] = set()  #: broker ids of this process

    def _heartbeats(self) -> set[str]:
        own = broker.get_engine().broker
        mine = {own.broker_id} if isinstance(own, RedisBroker) else set()
        return super()._heartbeats() - self.foreign - mine


def requeue_messages_of(stack: Stack, workers: ChaosWorkers, dead: Worker) -> None:
    """What Dramatiq's Redis broker does once a worker has sent no heartbeat for 60 s:
    its unacknowledged messages go back to their queues. The dead worker's heartbeat is
    set 61 s back, then one broker command runs the maintenance (the broker's own Lua
    code), as :func:`tests.engine.test_crash.dramatiq_maintenance_after` does."""
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
    workers.foreign.add(maintenance.broker_id)  # before its first command
    try:
        maintenance.do_qsize(broker.QUEUE)
    finally:
        maintenance.close()


def executions_held_by(stack: Stack, worker: Worker) -> set[str]:
    """The executions whose messages ``worker`` fetched and never acknowledged (being
    run, prefetched or delayed), read from its Dramatiq ack sets."""
    client = stack.redis.client()
    held: set[str] = set()
    try:
        for queue in (broker.QUEUE, f"{broker.QUEUE}.DQ"):
            ids = client.smembers(stack.key(f"__acks__.{worker.broker_id}.{queue}"))
            for data in client.hmget(stack.key(f"{queue}.msgs"), list(ids)) if ids else []:
                if data is not None:
                    held.add(str(Message.decode(data).args[0]))
    finally:
        client.close()
    return held


def let_time_pass_for(stack: Stack, workers: ChaosWorkers, dead: Worker) -> dict[str, list[str]]:
    """What a minute of waiting does after a worker process died, without the wait:

    * its runs' ``heartbeat_at`` goes stale (older than the runner's ``STALE_AFTER_S``,
      45 s), so the next runner may take them over;
    * Dramatiq's maintenance puts its unacknowledged messages back in their queues
      (after its 60 s heartbeat timeout; :func:`requeue_messages_of`).

    Returns the nodes it interrupted, by execution: node runs of its executions still
    RUNNING (their attempt was on record; the call may or may not have happened)."""
    held = executions_held_by(stack, dead)
    interrupted: dict[str, list[str]] = collections.defaultdict(list)
    if held:
        with session_scope() as session:
            rows = session.exec(
                select(NodeRun.execution_id, NodeRun.node_id).where(
                    col(NodeRun.execution_id).in_(held), NodeRun.status == NodeRunStatus.RUNNING
                )
            ).all()
            for execution_id, node_id in rows:
                interrupted[execution_id].append(node_id)
            session.execute(
                sa.update(Execution)
                .where(col(Execution.id).in_(held), col(Execution.status) == S.RUNNING)
                .values(heartbeat_at=utcnow() - timedelta(seconds=STALE_AFTER_S + 15))
            )
    requeue_messages_of(stack, workers, dead)
    return interrupted


# --- waiting and counting --------------------------------------------------------------


def statuses(execution_ids: Iterable[str]) -> dict[str, ExecutionStatus]:
    ids = list(execution_ids)
    with session_scope() as session:
        rows = session.exec(
            select(Execution.id, Execution.status).where(col(Execution.id).in_(ids))
        ).all()
    return {execution_id: ExecutionStatus(status) for execution_id, status in rows}


def wait_all_finished(
    execution_ids: Iterable[str], *, timeout: float, reconcile_every_s: float | None = None
) -> dict[str, ExecutionStatus]:
    """Poll until every execution is terminal or ``timeout`` passes; returns the last
    statuses read. With ``reconcile_every_s``, a pass of the reconciler runs that often
    (as the app's reconciler thread does, every 60 s with its defaults)."""
    ids = set(execution_ids)
    deadline = time.monotonic() + timeout
    next_reconcile = time.monotonic()
    while True:
        with contextlib.suppress(sa.exc.OperationalError):
            now = statuses(ids)
            if all(now.get(i) in TERMINAL for i in ids) or time.monotonic() > deadline:
                return now
        if reconcile_every_s is not None and time.monotonic() >= next_reconcile:
            next_reconcile = time.monotonic() + reconcile_every_s
            with contextlib.suppress(sa.exc.OperationalError):
                reconcile()
        time.sleep(0.2)


def finished_at(execution_ids: Iterable[str]) -> dict[str, datetime]:
    """When each execution that is terminal reached its end (``completed_at``)."""
    ids = list(execution_ids)
    with session_scope() as session:
        rows = session.exec(
            select(Execution.id, Execution.completed_at).where(
                col(Execution.id).in_(ids), col(Execution.completed_at).is_not(None)
            )
        ).all()
    return {execution_id: end for execution_id, end in rows if end is not None}


def success_lines(execution_ids: Iterable[str]) -> collections.Counter[tuple[str, str]]:
    """How many times each (execution, node) success was logged: once per run."""
    ids = list(execution_ids)
    with session_scope() as session:
        rows = session.exec(
            select(ExecutionLog.execution_id, ExecutionLog.node_id, func.count())
            .where(
                col(ExecutionLog.execution_id).in_(ids),
                col(ExecutionLog.message).contains("succeeded"),
            )
            .group_by(col(ExecutionLog.execution_id), col(ExecutionLog.node_id))
        ).all()
    return collections.Counter({(e, str(n)): int(c) for e, n, c in rows})


def attempts(execution_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    ids = list(execution_ids)
    with session_scope() as session:
        rows = session.exec(
            select(NodeRun.execution_id, NodeRun.node_id, NodeRun.attempt).where(
                col(NodeRun.execution_id).in_(ids)
            )
        ).all()
    return {(e, n): a for e, n, a in rows}


def describe(execution_ids: Iterable[str], limit: int = 5) -> list[str]:
    """A few executions as ``id status started heartbeat`` (for failure messages)."""
    ids = list(execution_ids)[:limit]
    with session_scope() as session:
        rows = session.exec(select(Execution).where(col(Execution.id).in_(ids))).all()
        runs = session.exec(select(NodeRun).where(col(NodeRun.execution_id).in_(ids))).all()
    nodes = collections.defaultdict(list)
    for run in runs:
        nodes[run.execution_id].append(f"{run.node_id}:{run.status}#{run.attempt}")
    return [
        f"{row.id} {row.status} started {row.started_at:%H:%M:%S.%f} "
        f"heartbeat {row.heartbeat_at and f'{row.heartbeat_at:%H:%M:%S.%f}'} "
        f"nodes {sorted(nodes[row.id])} (now {utcnow():%H:%M:%S})"
        for row in rows
    ]


@dataclass
class Tally:
    """One scenario's figures; :meth:`line` is what it prints."""

    scenario: str
    sent: int = 0
    completed: int = 0
    failed: int = 0
    lost: int = 0
    duplicates: int = 0
    notes: dict[str, object] = field(default_factory=dict)

    def count(self, final: dict[str, ExecutionStatus], sent: Iterable[str]) -> None:
        ids = list(sent)
        self.sent = len(ids)
        self.completed = sum(final.get(i) is S.COMPLETED for i in ids)
        self.failed = sum(final.get(i) in (S.FAILED, S.CANCELLED) for i in ids)
        self.lost = self.sent - self.completed - self.failed

    def line(self) -> str:
        extra = "".join(f", {name} {value}" for name, value in self.notes.items())
        return (
            f"chaos: {self.scenario}, sent {self.sent}, completed {self.completed}, "
            f"failed {self.failed}, lost {self.lost}, duplicates {self.duplicates}{extra}"
        )

    def report(self, capsys: pytest.CaptureFixture[str]) -> None:
        with capsys.disabled():
            print(f"\n{self.line()}")


# --- a webhook burst across a broker outage ---------------------------------------------

BURST_CLIENTS = 4  #: concurrent webhook callers
BURST_PAUSE_S = 0.15  #: seconds each caller waits between its calls
BURST_BEFORE_S = 3.0  #: seconds of calls before the outage
BURST_AFTER_S = 3.0  #: seconds of calls after it
RECONCILE_EVERY_S = 2.0  #: the app's reconciler interval (60 s), compressed
FINISH_S = 60.0  #: seconds the accepted executions may take after the burst


@dataclass
class Burst:
    """What :func:`webhook_burst` saw: the answers by status (or client error name), a
    few bodies of answers other than 202, the slowest answer, and the scenario's tally
    (duplicates: node successes logged, or endpoint calls made, more than once)."""

    tally: Tally
    answers: collections.Counter[int | str] = field(default_factory=collections.Counter)
    bodies: list[str] = field(default_factory=list)
    slowest_s: float = 0.0
    accepted: list[str] = field(default_factory=list)
    final: dict[str, ExecutionStatus] = field(default_factory=dict)
    repeated: list[object] = field(default_factory=list)

    def check(self) -> None:
        """Every call answered 202 or 503; nothing lost, nothing run twice."""
        assert set(self.answers) <= {202, 503}, (self.answers, self.bodies)
        unfinished = (i for i in self.accepted if self.final.get(i) not in TERMINAL)
        assert self.tally.lost == 0, describe(unfinished)
        assert self.tally.duplicates == 0, self.repeated
        assert self.tally.completed == len(self.accepted)


def webhook_workflow(owner: User, endpoint: CountingEndpoint) -> Workflow:
    """webhook -> shape (JSONata) -> call (HTTP to ``endpoint``) -> after (JSONata)."""
    return workflow_of(
        owner,
        [
            node("start", "trigger", {"source": "webhook"}),
            jsonata("shape", "trigger.data.n * 2"),
            http("call", endpoint.url),
            jsonata("after", "nodes.shape.result + 1"),
        ],
        [edge("start", "shape"), edge("shape", "call"), edge("call", "after")],
    )


def webhook_burst(
    scenario: str,
    owner: User,
    workers: Workers,
    outage: Callable[[], None],
    *,
    client_timeout_s: float,
    capsys: pytest.CaptureFixture[str],
) -> Burst:
    """Webhook calls from :data:`BURST_CLIENTS` callers for :data:`BURST_BEFORE_S`, then
    during ``outage()`` (which returns when the outage is over), then for
    :data:`BURST_AFTER_S`, against the API served in this process with the app's
    reconciler thread and two worker processes; waits until every accepted execution
    has finished and prints the scenario's line."""
    burst = Burst(Tally(scenario))
    with counting_endpoint(0.05) as endpoint:
        workflow = webhook_workflow(owner, endpoint)
        workers.start("w0")
        workers.start("w1")
        stop = threading.Event()
        start_reconciler_thread(RECONCILE_EVERY_S, stop=stop)
        calling = threading.Event()
        calling.set()

        def call(api: str, first: int) -> None:
            with httpx.Client(base_url=api, timeout=client_timeout_s) as client:
                n = first
                while calling.is_set():
                    began = time.monotonic()
                    try:
                        response = client.post(f"/hooks/{workflow.webhook_token}", json={"n": n})
                    except httpx.HTTPError as error:
                        burst.answers[type(error).__name__] += 1
                        continue
                    finally:
                        burst.slowest_s = max(burst.slowest_s, time.monotonic() - began)
                    burst.answers[response.status_code] += 1
                    if response.status_code == 202:
                        burst.accepted.append(response.json()["executionId"])
                    elif len(burst.bodies) < 5:
                        burst.bodies.append(f"{response.status_code} {response.text[:300]}")
                    n += BURST_CLIENTS
                    time.sleep(BURST_PAUSE_S)

        try:
            with serve_api(create_api()) as api:
                callers = [
                    threading.Thread(target=call, args=(api, first))
                    for first in range(BURST_CLIENTS)
                ]
                for caller in callers:
                    caller.start()
                time.sleep(BURST_BEFORE_S)
                outage()
                time.sleep(BURST_AFTER_S)
                calling.clear()
                for caller in callers:
                    caller.join()
                burst.final = wait_all_finished(burst.accepted, timeout=FINISH_S)
        finally:
            stop.set()

        logged = success_lines(burst.accepted)
        calls = {i: endpoint.calls(i, "call") for i in burst.accepted}
    burst.tally.duplicates = sum(n - 1 for n in logged.values() if n > 1) + sum(
        n - 1 for n in calls.values() if n > 1
    )
    burst.repeated = [key for key, n in logged.items() if n > 1] + [
        (i, "call", n) for i, n in calls.items() if n > 1
    ]
    burst.tally.count(burst.final, burst.accepted)
    slowest = round(burst.slowest_s, 2)
    burst.tally.notes = {"answers": dict(burst.answers), "slowest answer s": slowest}
    burst.tally.report(capsys)
    return burst
