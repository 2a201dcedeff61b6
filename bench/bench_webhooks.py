"""Benchmark webhook intake: accept rate and latency of ``POST /hooks/{token}``, the
executions completed meanwhile, and the memory of the app and worker processes.

Two deployments, each served as it runs in production, on 127.0.0.1 only:

* **embedded**: SQLite and the in-process broker; the app is the Reflex backend
  (``reflex run --env prod --backend-only``, the backend half of ``workfuse serve``:
  granian, Reflex's Starlette app with the mounted API, and the start-up task that
  migrates and starts the embedded worker threads and the reconciler), so the
  executions run inside the process that answers the webhooks;
* **postgres**: PostgreSQL (a scratch database, dropped at the end) and Redis (a
  private ``redis-server`` on a free port unless ``--redis`` names one), the same app
  process plus one ``workfuse worker --processes 1`` process.

The workflow is webhook -> transform (JSONata) -> condition -> two branches (a
transform each); the bodies alternate between the branches. A load generator keeps 20
keep-alive connections busy for ``--duration`` seconds (``wrk`` if installed, else a
small Node.js loader; a Python loader tops out near 600 req/s here). Per scenario:
one warm-up, then ``--runs`` timed runs, each followed by waiting until every
accepted execution has finished. Printed per run and as medians: accepted requests/s,
p50/p99 latency, non-202 answers, executions completed per second during the load,
the backlog left when the load stopped and how long it took to drain, the CPU the app
and the worker used during the load (from /proc); RSS of the app and worker processes
at rest before the first run and after the last. ``--reference`` adds cheaper paths
through the same app (see :data:`REFERENCE_PATHS`), which show where a webhook's time
goes. The verdict against the aims is informational: the exit status is 0.

Run: ``.venv/bin/python bench/bench_webhooks.py`` (``--scenario embedded|postgres``,
``--runs N``, ``--duration S``, ``--loader wrk|node``, ``--reference``, ``--redis URL``,
``--postgres-admin URL``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
BIN = Path(sys.executable).parent

from bench_engine import SMALL  # noqa: E402  (after the path is set)

from bench.report import record  # noqa: E402

CONCURRENCY = 20
REFERENCE_S = 5.0  #: seconds of load per reference path
#: Cheaper paths through the same app (the same POST), each a layer less than a
#: webhook: Reflex's own ``/ping`` (405: granian and Reflex's Starlette, no FastAPI);
#: the webhook route refusing a token too long to exist (FastAPI, WorkFuse's
#: middlewares, the thread hop, an error answer; no database); an unknown token of a
#: valid length (plus one SELECT).
REFERENCE_PATHS = (
    ("POST /ping (405 from Reflex, no FastAPI)", "/ping"),
    ("404, token too long (no database)", "/hooks/" + "x" * 80),
    ("404, unknown token (one SELECT)", "/hooks/" + "x" * 40),
)
ACCEPT_TARGET = 1000.0  #: requests/s
P99_TARGET_MS = 50.0
START_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 600.0
MAX_REQUESTS = 1_000_000  #: per run, a bound besides the duration (Node loader)
POSTGRES_ADMIN_URL = os.environ.get(
    "WORKFUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

#: The workflow of ``bench_engine.py``: trigger -> transform -> condition -> two branches.
GRAPH = SMALL

WRK_SCRIPT = r"""
local n = 0
local headers = {["Content-Type"] = "application/json"}
request = function()
  n = n + 1
  local total = (n % 2 == 0) and 150 or 50
  return wrk.format("POST", nil, headers, string.format('{"total": %d, "id": %d}', total, n))
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests": %d, "bad": %d, "errors": %d, "seconds": %f, '
      .. '"p50": %f, "p99": %f, "max": %f}\n',
    summary.requests, summary.errors.status, errors, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""

NODE_LOADER = r"""
const http = require("http");
const [url, concurrency, seconds, maxRequests, rate] = process.argv.slice(2);
const interval = Number(rate) > 0 ? 1000 / Number(rate) : 0;  // ms between sends; 0: no pause
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(concurrency) });
const latencies = [];
let sent = 0, bad = 0, errors = 0;
const end = Date.now() + Number(seconds) * 1000;
const began = process.hrtime.bigint();
function once() {
  return new Promise((resolve) => {
    sent += 1;
    const body = JSON.stringify({ total: sent % 2 === 0 ? 150 : 50, id: sent });
    const start = process.hrtime.bigint();
    const request = http.request({
      agent, host: target.hostname, port: target.port, path: target.pathname, method: "POST",
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    }, (response) => {
      response.resume();
      response.on("end", () => {
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        if (response.statusCode !== 202) bad += 1;
        resolve();
      });
    });
    request.on("error", () => { errors += 1; resolve(); });
    request.end(body);
  });
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let slots = 0;
async function loop() {
  while (Date.now() < end && sent < Number(maxRequests)) {
    if (interval) {
      const due = Number(began / 1000000n) + slots++ * interval;
      const wait = due - Number(process.hrtime.bigint() / 1000000n);
      if (wait > 0) await sleep(wait);
      if (Date.now() >= end) break;
    }
    await once();
  }
}
Promise.all(Array.from({ length: Number(concurrency) }, loop)).then(() => {
  const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  console.log("RESULT " + JSON.stringify({
    requests: latencies.length, bad, errors, seconds: elapsed,
    p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1],
  }));
  agent.destroy();
});
"""


# --- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(
    command: list[str], log: Path, env: dict[str, str], cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own process group (so the whole tree can be stopped)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM the process group, then SIGKILL what is left."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_mb(pid: int) -> float:
    try:
        import psutil  # type: ignore[import-not-found, import-untyped, unused-ignore]

        return float(psutil.Process(pid).memory_info().rss) / 2**20
    except ImportError:
        pass
    except Exception:  # gone meanwhile
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages divided among the processes sharing them."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Memory:
    serving: float  #: MB RSS of the processes doing the work, their sandbox processes included
    total: float  #: MB RSS summed over the tree (pages shared after fork counted twice)
    pss: float  #: MB PSS summed over the tree (shared pages counted once)
    processes: int
    sandbox: float = 0.0  #: MB RSS of the sandbox processes (part of ``serving``)

    def __str__(self) -> str:
        sandbox = f", sandbox processes {self.sandbox:.0f} MB of it" if self.sandbox else ""
        return (
            f"{self.serving:.0f} MB{sandbox} (whole tree of {self.processes}:"
            f" RSS {self.total:.0f} MB, PSS {self.pss:.0f} MB)"
        )


def is_sandbox(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"workfuse.sandbox.host" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def memory_of(process: subprocess.Popen[bytes]) -> Memory:
    """RSS of the processes doing the work (granian's worker, Dramatiq's worker process:
    the leaves of the tree, plus the sandbox processes they started) and of
    the whole tree (supervisors included)."""
    tree = process_tree(process.pid)
    sandboxes = [pid for pid in tree if is_sandbox(pid)]
    parents = set()
    for pid in tree:
        if pid in sandboxes:
            continue
        with contextlib.suppress(OSError):
            parents.add(int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]))
    leaves = [pid for pid in tree if pid not in parents and pid not in sandboxes] or tree
    sandbox = sum(map(rss_mb, sandboxes))
    return Memory(
        sum(map(rss_mb, leaves)) + sandbox,
        sum(map(rss_mb, tree)),
        sum(map(pss_mb, tree)),
        len(tree),
        sandbox,
    )


def cpu_seconds(process: subprocess.Popen[bytes] | None) -> float:
    """User + system CPU time of the process tree so far (from /proc)."""
    if process is None:
        return 0.0
    ticks = 0
    for pid in process_tree(process.pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far (from /proc/stat)."""
    numbers = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = numbers[3] + numbers[4]  # idle + iowait
    return sum(numbers) - idle, sum(numbers)


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"the app did not start; its log:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.1)


# --- the load -------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    bad: int  #: answers other than 202
    errors: int  #: connection errors and timeouts
    seconds: float
    p50: float  #: ms
    p99: float  #: ms

    @property
    def rate(self) -> float:
        return (self.requests - self.bad) / self.seconds


def loader_name(choice: str) -> str:
    if choice != "auto":
        return choice
    if shutil.which("wrk"):
        return "wrk"
    if shutil.which("node"):
        return "node"
    sys.exit("no load generator: install wrk (apt-get install -y wrk) or Node.js")


def run_load(loader: str, url: str, seconds: float, scratch: Path, rate: float = 0) -> Load:
    """``seconds`` of load on ``url`` from :data:`CONCURRENCY` connections, as fast as
    they are answered or (Node.js loader only) at most ``rate`` requests/s."""
    if rate and loader != "node":
        sys.exit("a fixed request rate needs the Node.js loader (--loader node)")
    if loader == "wrk":
        script = scratch / "webhook.lua"
        script.write_text(WRK_SCRIPT)
        command = ["wrk", "-t", "2", "-c", str(CONCURRENCY), "-d", f"{seconds:g}s"]
        command += ["--timeout", "10s", "-s", str(script), url]
    else:
        script = scratch / "loader.js"
        script.write_text(NODE_LOADER)
        command = ["node", str(script), url, str(CONCURRENCY), f"{seconds:g}", str(MAX_REQUESTS)]
        command.append(f"{rate:g}")
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        sys.exit(f"the load generator failed:\n{result.stdout}\n{result.stderr}")
    data = json.loads(line.removeprefix("RESULT "))
    return Load(
        requests=data["requests"],
        bad=data["bad"],
        errors=data["errors"],
        seconds=data["seconds"],
        p50=data["p50"],
        p99=data["p99"],
    )


# --- one scenario ---------------------------------------------------------------------


@dataclass
class Run:
    load: Load
    completed_per_s: float
    backlog: int  #: executions not finished when the load stopped
    drain_s: float  #: seconds until they were
    failed: int  #: executions that did not complete
    app_cpu: float  #: CPU cores the app used during the load
    worker_cpu: float  #: CPU cores the worker process used during the load
    machine_cpu: float  #: share of all CPUs busy during the load (every process)


@dataclass
class Scenario:
    name: str
    runs: list[Run] = field(default_factory=list)
    app_start: Memory | None = None
    app_end: Memory | None = None
    worker_start: Memory | None = None
    worker_end: Memory | None = None
    reference: list[tuple[str, Load, float]] = field(default_factory=list)  #: (path, load, ms)


def _count(database_url: str, *conditions: Any) -> int:
    import sqlalchemy as sa

    from workfuse.db import get_engine
    from workfuse.models import Execution

    with get_engine(database_url).connect() as connection:
        query = sa.select(sa.func.count()).select_from(Execution).where(*conditions)
        return int(connection.execute(query).scalar_one())


def _unfinished(database_url: str) -> int:
    from workfuse.models import Execution, ExecutionStatus

    waiting = [ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.RETRYING]
    return _count(database_url, Execution.status.in_(waiting))  # type: ignore[attr-defined]


def drain(database_url: str) -> float:
    """Wait until no execution is waiting or running; seconds waited."""
    began = time.monotonic()
    while _unfinished(database_url):
        if time.monotonic() - began > DRAIN_TIMEOUT_S:
            sys.exit(f"executions still unfinished after {DRAIN_TIMEOUT_S:g} s")
        time.sleep(0.1)
    return time.monotonic() - began


def prepare_database(database_url: str, graph: dict[str, Any] = GRAPH) -> str:
    """Migrate, create a user and the webhook workflow; the webhook token."""
    from workfuse.db import session_scope, upgrade_database
    from workfuse.services.users import create_user
    from workfuse.services.workflows import WorkflowCreate, create_workflow

    upgrade_database(database_url)
    with session_scope(database_url) as session:
        user = create_user(session=session, email="bench@example.com")
        workflow = create_workflow(
            session=session, user=user, data=WorkflowCreate(name="webhook bench", graph=graph)
        )
        assert workflow.is_active and workflow.webhook_token
        return workflow.webhook_token


@contextlib.contextmanager
def scratch_postgres(admin_url: str) -> Iterator[str]:
    import psycopg
    import sqlalchemy as sa

    from workfuse.db import get_engine

    name = f"workfuse_bench_{secrets.token_hex(4)}"
    admin = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = (
        sa.engine.make_url(admin_url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def private_redis(scratch: Path, given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    if not shutil.which("redis-server"):
        sys.exit("redis-server is not installed: pass --redis URL")
    port = free_port()
    process = start_process(
        [
            *("redis-server", "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(scratch)),
        ],
        scratch / "redis.log",
        dict(os.environ),
    )
    try:
        import redis

        client = redis.Redis(port=port)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    sys.exit("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


@dataclass
class Deployment:
    """A running app (and worker) on a scratch database, ready for load."""

    name: str
    database_url: str
    url: str  #: the webhook's URL
    base_url: str
    app: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes] | None
    scratch: Path


@contextlib.contextmanager
def deployment(name: str, args: argparse.Namespace) -> Iterator[Deployment]:
    """Start the ``embedded`` or ``postgres`` deployment (see the module docstring) and
    stop it, with its scratch database and Redis, afterwards. ``args``: ``redis``,
    ``postgres_admin``, ``threads``."""
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wf-bench-hooks-")))
        namespace = f"workfuse-bench-{secrets.token_hex(4)}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFUSE_")}
        env.update(
            {
                "WORKFUSE_DATA_DIR": str(scratch / "data"),
                "WORKFUSE_BROKER_NAMESPACE": namespace,
                "REFLEX_TELEMETRY_ENABLED": "false",
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        if name == "embedded":
            database_url = f"sqlite:///{scratch / 'workfuse.db'}"
        else:
            database_url = stack.enter_context(scratch_postgres(args.postgres_admin))
            env["WORKFUSE_REDIS_URL"] = stack.enter_context(private_redis(scratch, args.redis))
        env["WORKFUSE_DATABASE_URL"] = database_url
        token = prepare_database(database_url, getattr(args, "graph", GRAPH))

        port = free_port()
        app = start_process(
            [
                *(str(BIN / "reflex"), "run", "--env", "prod", "--backend-only"),
                *("--backend-host", "127.0.0.1", "--backend-port", str(port)),
            ],
            scratch / "app.log",
            env,
        )
        stack.callback(stop_process, app)
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base_url}/api/health", app, scratch / "app.log")
        worker = None
        if name == "postgres":
            worker = start_process(
                [
                    str(BIN / "workfuse"),
                    "worker",
                    "--processes",
                    "1",
                    "--threads",
                    str(args.threads),
                ],
                scratch / "worker.log",
                env,
            )
            stack.callback(stop_process, worker)
            time.sleep(3)  # imports and the first fetch; the warm-up covers the rest
            if worker.poll() is not None:
                sys.exit((scratch / "worker.log").read_text(errors="replace")[-3000:])
        time.sleep(1)
        yield Deployment(
            name=name,
            database_url=database_url,
            url=f"{base_url}/hooks/{token}",
            base_url=base_url,
            app=app,
            worker=worker,
            scratch=scratch,
        )


def run_scenario(name: str, args: argparse.Namespace, loader: str) -> Scenario:
    result = Scenario(name)
    with deployment(name, args) as running:
        app, worker, scratch = running.app, running.worker, running.scratch
        database_url, url = running.database_url, running.url
        result.app_start = memory_of(app)
        result.worker_start = memory_of(worker) if worker else None

        from workfuse.db_types import utcnow
        from workfuse.models import Execution, ExecutionStatus

        run_load(loader, url, min(3.0, args.duration), scratch)  # warm-up
        drain(database_url)
        for number in range(1, args.runs + 1):
            cpu_before = (cpu_seconds(app), cpu_seconds(worker), machine_busy())
            clock = time.monotonic()
            began = utcnow()
            load = run_load(loader, url, args.duration, scratch)
            ended = utcnow()
            elapsed = time.monotonic() - clock
            busy, total = machine_busy()
            app_cpu = (cpu_seconds(app) - cpu_before[0]) / elapsed
            worker_cpu = (cpu_seconds(worker) - cpu_before[1]) / elapsed
            backlog = _unfinished(database_url)
            completed = _count(
                database_url,
                Execution.status == ExecutionStatus.COMPLETED,
                Execution.completed_at >= began,  # type: ignore[operator]
                Execution.completed_at < ended,  # type: ignore[operator]
            )
            drain_s = drain(database_url)
            failed = _count(database_url, Execution.status != ExecutionStatus.COMPLETED)
            run = Run(
                load=load,
                completed_per_s=completed / (ended - began).total_seconds(),
                backlog=backlog,
                drain_s=drain_s,
                failed=failed,
                app_cpu=app_cpu,
                worker_cpu=worker_cpu,
                machine_cpu=(busy - cpu_before[2][0]) / max(1, total - cpu_before[2][1]),
            )
            result.runs.append(run)
            print(
                f"  {name} run {number}: {load.rate:7.0f} accepted/s"
                f"  p50 {load.p50:6.1f} ms  p99 {load.p99:6.1f} ms"
                f"  non-202 {load.bad}  errors {load.errors}"
                f"  | completed {run.completed_per_s:5.0f}/s during the load,"
                f" backlog {backlog} drained in {drain_s:.1f} s, not completed {failed}"
                f" | CPU: app {run.app_cpu:.2f}, worker {run.worker_cpu:.2f} cores,"
                f" machine {run.machine_cpu:.0%} busy",
                flush=True,
            )
        result.app_end = memory_of(app)
        result.worker_end = memory_of(worker) if worker else None
        if args.reference:
            for label, path in REFERENCE_PATHS:
                clock, cpu = time.monotonic(), cpu_seconds(app)
                load = run_load(loader, running.base_url + path, REFERENCE_S, scratch)
                used = (cpu_seconds(app) - cpu) / (time.monotonic() - clock)
                per_request = used / (load.requests / load.seconds) * 1000
                result.reference.append((label, load, per_request))
    return result


def report(scenario: Scenario) -> None:
    runs = scenario.runs
    rate = statistics.median(run.load.rate for run in runs)
    p50 = statistics.median(run.load.p50 for run in runs)
    p99 = statistics.median(run.load.p99 for run in runs)
    completed = statistics.median(run.completed_per_s for run in runs)
    drain_s = statistics.median(run.drain_s for run in runs)
    bad = sum(run.load.bad + run.load.errors for run in runs)
    failed = max(run.failed for run in runs)
    verdict = "OK" if rate >= ACCEPT_TARGET and p99 < P99_TARGET_MS else "UNDER TARGET"
    label = {
        "embedded": "embedded (SQLite + in-process broker)",
        "postgres": "PostgreSQL + Redis, 1 worker process",
    }[scenario.name]
    print(f"{label}: medians of {len(runs)} runs")
    print(
        f"  accept {rate:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        f" (target >= {ACCEPT_TARGET:.0f} req/s, p99 < {P99_TARGET_MS:.0f} ms -> {verdict});"
        f" non-202 or errors: {bad}"
    )
    print(
        f"  completed {completed:.0f} executions/s during the load; backlog drained in"
        f" {drain_s:.1f} s; executions not completed: {failed}"
    )
    app_cpu = statistics.median(run.app_cpu for run in runs)
    worker_cpu = statistics.median(run.worker_cpu for run in runs)
    machine = statistics.median(run.machine_cpu for run in runs)
    print(
        f"  CPU during the load: app {app_cpu:.2f} cores"
        f" ({app_cpu / rate * 1000:.1f} ms per accepted webhook), worker {worker_cpu:.2f}"
        f" cores, machine {machine:.0%} busy (all processes)"
    )
    figure = f"webhooks.{scenario.name}"
    record(f"{figure}.accepted", rate, "req/s", (">=", ACCEPT_TARGET))
    record(f"{figure}.latency p50", p50, "ms")
    record(f"{figure}.latency p99", p99, "ms", ("<", P99_TARGET_MS))
    record(f"{figure}.completed during the load", completed, "per s")
    record(f"{figure}.backlog drained in", drain_s, "s")
    record(f"{figure}.app CPU per accepted webhook", app_cpu / rate * 1000, "ms")
    print(f"  app RSS: start {scenario.app_start}, end {scenario.app_end}")
    if scenario.worker_start is not None:
        print(f"  worker RSS: start {scenario.worker_start}, end {scenario.worker_end}")
    for label, load, per_request in scenario.reference:
        print(
            f"  reference, {label}: {load.requests / load.seconds:.0f} req/s,"
            f" p50 {load.p50:.1f} ms, p99 {load.p99:.1f} ms, app CPU {per_request:.2f} ms/request"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["embedded", "postgres", "all"], default="all")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per run")
    parser.add_argument("--threads", type=int, default=8, help="threads of the worker process")
    parser.add_argument("--loader", choices=["auto", "wrk", "node"], default="auto")
    parser.add_argument("--redis", help="a Redis URL (default: a private redis-server)")
    parser.add_argument("--postgres-admin", default=POSTGRES_ADMIN_URL)
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also load cheaper paths of the same app (where the time per webhook goes)",
    )
    args = parser.parse_args()
    loader = loader_name(args.loader)
    names = ["embedded", "postgres"] if args.scenario == "all" else [args.scenario]
    print(
        f"webhook benchmark: {CONCURRENCY} connections, {args.duration:g} s per run,"
        f" {args.runs} runs, loader {loader}, Python {sys.version.split()[0]},"
        f" {os.cpu_count()} CPUs",
        flush=True,
    )
    scenarios = [run_scenario(name, args, loader) for name in names]
    print()
    for scenario in scenarios:
        report(scenario)


if __name__ == "__main__":
    main()
