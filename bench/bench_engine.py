"""Benchmark the execution engine.

1. **Engine overhead per node**: a chain of 40 trivial transform nodes (JSONata, then
   JavaScript), then of 40 HTTP nodes (GET to a local server on 127.0.0.1), run by one
   ``ExecutionRunner`` in this thread (no broker), N times. Prints the wall time per
   node and the part of it spent outside the node executors (aim: at most 0.3 ms per
   pure node, which may be checkpointed in batches, and 2 ms per side-effecting node,
   which is checkpointed, committed, before the next node starts).
2. **Completed executions per second** for webhook -> transform -> condition -> two
   branches: N calls accepted by the webhook service (``receive_webhook``, what
   ``POST /hooks/{token}`` runs, without HTTP) in this process, timed until every
   execution has completed. The embedded default runs them on 4 worker threads of the
   in-process broker in this process; with ``--redis URL --database URL``, on one
   ``workfuse worker --processes 1 --threads 8`` process (aim: at least 400/s).

Run: ``.venv/bin/python bench/bench_engine.py`` (``--runs N``, ``--executions N``).
Each run uses a fresh SQLite database in a temporary directory unless ``--database``
is given (a PostgreSQL URL; its tables are emptied first).
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import record

CHAIN_LENGTH = 40
OVERHEAD_TARGET_MS = {"jsonata": 0.3, "javascript": 0.3, "http": 2.0}  #: per node, by chain
THROUGHPUT_TARGET = 400.0  #: completed executions per second


def _chain(kind: str, url: str = "") -> dict[str, Any]:
    """Trigger, then :data:`CHAIN_LENGTH` nodes: trivial transforms (``jsonata``,
    ``javascript``) or ``http`` GETs of ``url``."""
    config: dict[str, Any] = {
        "jsonata": {"language": "jsonata", "code": "1"},
        "javascript": {"language": "javascript", "code": "return 1"},
        "http": {"method": "GET", "url": url},
    }[kind]
    node_type = "http" if kind == "http" else "transform"
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "trigger", "data": {"label": "start", "config": {}}}
    ]
    edges = []
    for index in range(CHAIN_LENGTH):
        nodes.append(
            {
                "id": f"n{index}",
                "type": node_type,
                "data": {"label": f"n{index}", "config": config},
            }
        )
        edges.append({"id": f"e{index}", "source": nodes[-2]["id"], "target": f"n{index}"})
    return {"nodes": nodes, "edges": edges}


SMALL = {
    "nodes": [
        {"id": "start", "type": "trigger", "data": {"label": "start", "config": {}}},
        {
            "id": "shape",
            "type": "transform",
            "data": {
                "label": "shape",
                "config": {"language": "jsonata", "code": "trigger.data.total"},
            },
        },
        {
            "id": "route",
            "type": "condition",
            "data": {
                "label": "route",
                "config": {
                    "conditions": [
                        {
                            "field": "{{ nodes.shape.result }}",
                            "operator": "gt",
                            "value": 100,
                            "branch": "big",
                        }
                    ],
                    "defaultBranch": "small",
                },
            },
        },
        {
            "id": "big",
            "type": "transform",
            "data": {"label": "big", "config": {"language": "jsonata", "code": "'big'"}},
        },
        {
            "id": "small",
            "type": "transform",
            "data": {"label": "small", "config": {"language": "jsonata", "code": "'small'"}},
        },
    ],
    "edges": [
        {"id": "e1", "source": "start", "target": "shape"},
        {"id": "e2", "source": "shape", "target": "route"},
        {"id": "e3", "source": "route", "target": "big", "sourceHandle": "big"},
        {"id": "e4", "source": "route", "target": "small", "sourceHandle": "small"},
    ],
}


def _local_json_server() -> http.server.ThreadingHTTPServer:
    """A server on 127.0.0.1 (a free port) answering every GET with ``{"ok": true}``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real API would
        disable_nagle_algorithm = True  # headers and body leave at once, no delayed ACK

        def do_GET(self) -> None:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--redis", help="a Redis URL (default: the in-process broker)")
    parser.add_argument(
        "--threads",
        type=int,
        help="worker threads (default: 4 in this process, as embedded; 8 in the worker process)",
    )
    args = parser.parse_args()
    args.threads = args.threads or (8 if args.redis else 4)

    os.environ["WORKFUSE_DATA_DIR"] = tempfile.mkdtemp(prefix="workfuse-bench-")
    os.environ["WORKFUSE_EGRESS_ALLOW"] = "127.0.0.1/32"  # the HTTP chain's local server
    server = _local_json_server()
    os.environ.pop("WORKFUSE_REDIS_URL", None)
    if args.database:
        os.environ["WORKFUSE_DATABASE_URL"] = args.database
    if args.redis:
        os.environ["WORKFUSE_REDIS_URL"] = args.redis

    import sqlalchemy as sa
    from sqlmodel import SQLModel

    from workfuse.db import get_engine, session_scope, upgrade_database
    from workfuse.engine.events import get_event_bus
    from workfuse.engine.runner import ExecutionRunner
    from workfuse.models import Execution, ExecutionStatus
    from workfuse.nodes.registry import REGISTRY
    from workfuse.secrets import process_secret_store
    from workfuse.services.users import create_user
    from workfuse.services.webhooks import receive_webhook
    from workfuse.services.workflows import WorkflowCreate, create_workflow

    upgrade_database()
    if args.database:
        with get_engine().begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())
    if args.redis:
        import redis

        redis.Redis.from_url(args.redis).flushdb()
    with session_scope() as session:
        user = create_user(session=session, email="bench@example.com")
        workflows = {
            name: create_workflow(
                session=session, user=user, data=WorkflowCreate(name=name, graph=graph)
            )
            for name, graph in (
                ("jsonata", _chain("jsonata")),
                ("javascript", _chain("javascript")),
                ("http", _chain("http", f"http://127.0.0.1:{server.server_port}/")),
                ("small", SMALL),
            )
        }
    database = "PostgreSQL" if args.database else "SQLite"
    backend = f"{database} + {'Redis' if args.redis else 'in-process broker'}"
    print(f"engine benchmark on {backend}, Python {sys.version.split()[0]}")

    # --- 1. overhead per node ------------------------------------------------------
    spent = [0.0]
    originals = {name: REGISTRY.get(name).execute for name in ("transform", "http")}

    def timed(original: Any) -> Any:
        async def timed_execute(config: Any, context: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(config, context)
            finally:
                spent[0] += time.perf_counter() - began

        return timed_execute

    for name, original in originals.items():
        object.__setattr__(REGISTRY.get(name), "execute", timed(original))
    loop = asyncio.new_event_loop()
    for language in ("jsonata", "javascript", "http"):
        workflow = workflows[language]
        per_node, outside = [], []
        for run in range(args.runs + 1):
            with session_scope() as session:
                execution = Execution(
                    status=ExecutionStatus.PENDING,
                    trigger_data={"source": "manual", "data": {}},
                    workflow_version=workflow.version,
                    workflow_id=workflow.id,
                    user_id=user.id,
                )
                session.add(execution)
            spent[0] = 0.0
            runner = ExecutionRunner(
                execution.id,
                bus=get_event_bus(),
                store=process_secret_store(),
                schedule=lambda *_: None,
            )
            began = time.perf_counter()
            loop.run_until_complete(runner.run())
            wall = time.perf_counter() - began
            if run == 0:
                continue  # warm-up: plan cache, isolates, compiled expressions
            nodes = CHAIN_LENGTH + 1
            per_node.append(wall / nodes * 1000)
            outside.append((wall - spent[0]) / nodes * 1000)
        target = OVERHEAD_TARGET_MS[language]
        verdict = "OK" if statistics.median(outside) <= target else "OVER TARGET"
        print(
            f"chain of {CHAIN_LENGTH} {language:<10} per node:"
            f" median {statistics.median(per_node):6.3f} ms"
            f"  outside executors: median {statistics.median(outside):6.3f} ms"
            f" (min {min(outside):.3f}, max {max(outside):.3f}; {args.runs} runs)"
            f"  target <= {target} ms -> {verdict}"
        )
        chain = f"engine.chain of {CHAIN_LENGTH} {language}"
        record(f"{chain}: per node", statistics.median(per_node), "ms")
        record(f"{chain}: outside executors", statistics.median(outside), "ms", ("<=", target))
    for name, original in originals.items():
        object.__setattr__(REGISTRY.get(name), "execute", original)
    server.shutdown()

    # --- 2. throughput -----------------------------------------------------------
    workers, worker_cpu = _start_workers(args)
    rates = []
    cpu_ms = []  #: CPU of the process(es) running the executions, per execution
    small = workflows["small"]
    assert small.webhook_token
    for _ in range(max(3, args.runs // 2)):
        began = time.perf_counter()
        cpu_began = worker_cpu()
        ids = []
        with session_scope() as session:
            for index in range(args.executions):
                accepted = receive_webhook(
                    session=session,
                    token=small.webhook_token,
                    method="POST",
                    headers=[("content-type", "application/json")],
                    query=[],
                    body=b'{"total": %d}' % (index % 200),
                    content_type="application/json",
                )
                ids.append(accepted.execution_id)
        started = time.perf_counter() - began
        while True:
            with get_engine().connect() as connection:
                left = connection.execute(
                    sa.select(sa.func.count())
                    .select_from(Execution)
                    .where(Execution.id.in_(ids), Execution.status.not_in(["COMPLETED", "FAILED"]))  # type: ignore[attr-defined]
                ).scalar_one()
            if not left:
                break
            time.sleep(0.02)
        rates.append(args.executions / (time.perf_counter() - began))
        cpu_ms.append((worker_cpu() - cpu_began) / args.executions * 1000)
        accepted_in = f"{args.executions} webhooks accepted in {started:.2f} s"
        print(f"  {accepted_in}; {rates[-1]:.0f} completed/s; {cpu_ms[-1]:.2f} ms CPU each")
    workers()
    verdict = "OK" if statistics.median(rates) >= THROUGHPUT_TARGET else "UNDER TARGET"
    workers_used = (
        f"1 worker process, {args.threads} threads"
        if args.redis
        else f"{args.threads} worker threads in this process"
    )
    print(
        f"small workflow, {args.executions} executions, {workers_used}:"
        f" median {statistics.median(rates):7.1f} completed/s"
        f" (min {min(rates):.1f}, max {max(rates):.1f};"
        f" {len(rates)} runs)  target >= {THROUGHPUT_TARGET:.0f}/s -> {verdict}"
    )
    where = "the worker process" if args.redis else "this process (intake included)"
    print(f"  CPU of {where} per execution: median {statistics.median(cpu_ms):.2f} ms")
    record(
        "engine.small workflow: completed executions",
        statistics.median(rates),
        "per s",
        (">=", THROUGHPUT_TARGET),
    )


def _start_workers(args: argparse.Namespace) -> tuple[Callable[[], None], Callable[[], float]]:
    """The workers of the deployment: ``workfuse worker --processes 1 --threads N`` with
    Redis (the script plays the app), else N worker threads in this process (the
    embedded default). Returns what stops them, and what reads the CPU seconds used so
    far by the process(es) they run in (this one, in the embedded default)."""
    if not args.redis:
        import dramatiq

        from workfuse.engine import broker

        worker = dramatiq.Worker(
            broker.get_engine().broker, worker_threads=args.threads, worker_timeout=100
        )
        worker.start()
        return worker.stop, time.process_time

    from bench.bench_webhooks import BIN, cpu_seconds, start_process, stop_process

    log = Path(os.environ["WORKFUSE_DATA_DIR"]) / "worker.log"
    command = [str(BIN / "workfuse"), "worker", "--processes", "1", "--threads", str(args.threads)]
    process = start_process(command, log, dict(os.environ))
    time.sleep(3)  # imports and the first fetch
    if process.poll() is not None:
        sys.exit(log.read_text(errors="replace")[-3000:])
    return (lambda: stop_process(process)), (lambda: cpu_seconds(process))


if __name__ == "__main__":
    main()
