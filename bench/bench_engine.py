"""Benchmark the execution engine.

1. **Engine overhead per node**: a chain of 40 trivial transform nodes (JSONata, then
   JavaScript), run by one ``ExecutionRunner`` in this thread (no broker), N times.
   Prints the wall time per node and the part of it spent outside the node executors
   (aim: at most 0.3 ms per pure node).
2. **Completed executions per second** for trigger -> transform -> condition -> two
   branches, started through ``start_execution`` and run by worker threads of the
   in-process broker (embedded default), or with ``--redis URL --database URL`` by
   in-process Dramatiq workers on Redis and that database (aim: at least 400/s).

Run: ``.venv/bin/python bench/bench_engine.py`` (``--runs N``, ``--executions N``).
Each run uses a fresh SQLite database in a temporary directory unless ``--database``
is given (a PostgreSQL URL; its tables are emptied first).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import record

CHAIN_LENGTH = 40
OVERHEAD_TARGET_MS = 0.3
THROUGHPUT_TARGET = 400.0  #: completed executions per second


def _chain(language: str) -> dict[str, Any]:
    code = {"jsonata": "1", "javascript": "return 1"}[language]
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "trigger", "data": {"label": "start", "config": {}}}
    ]
    edges = []
    for index in range(CHAIN_LENGTH):
        nodes.append(
            {
                "id": f"n{index}",
                "type": "transform",
                "data": {"label": f"n{index}", "config": {"language": language, "code": code}},
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--database", help="a PostgreSQL URL (default: a temporary SQLite file)")
    parser.add_argument("--redis", help="a Redis URL (default: the in-process broker)")
    parser.add_argument("--threads", type=int, default=4, help="worker threads")
    args = parser.parse_args()

    os.environ["WORKFUSE_DATA_DIR"] = tempfile.mkdtemp(prefix="workfuse-bench-")
    os.environ.pop("WORKFUSE_REDIS_URL", None)
    if args.database:
        os.environ["WORKFUSE_DATABASE_URL"] = args.database
    if args.redis:
        os.environ["WORKFUSE_REDIS_URL"] = args.redis

    import dramatiq
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    from workfuse.db import get_engine, session_scope, upgrade_database
    from workfuse.engine import broker
    from workfuse.engine.events import get_event_bus
    from workfuse.engine.runner import ExecutionRunner
    from workfuse.models import Execution, ExecutionStatus
    from workfuse.nodes.registry import REGISTRY
    from workfuse.secrets import process_secret_store
    from workfuse.services.executions import start_execution
    from workfuse.services.users import create_user
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
                ("small", SMALL),
            )
        }
    database = "PostgreSQL" if args.database else "SQLite"
    backend = f"{database} + {'Redis' if args.redis else 'in-process broker'}"
    print(f"engine benchmark on {backend}, Python {sys.version.split()[0]}")

    # --- 1. overhead per node ------------------------------------------------------
    spent = [0.0]
    spec = REGISTRY.get("transform")
    original = spec.execute

    async def timed_execute(config: Any, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return await original(config, context)
        finally:
            spent[0] += time.perf_counter() - began

    object.__setattr__(spec, "execute", timed_execute)
    loop = asyncio.new_event_loop()
    for language in ("jsonata", "javascript"):
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
        verdict = "OK" if statistics.median(outside) <= OVERHEAD_TARGET_MS else "OVER TARGET"
        print(
            f"chain of {CHAIN_LENGTH} {language:<10} per node:"
            f" median {statistics.median(per_node):6.3f} ms"
            f"  outside executors: median {statistics.median(outside):6.3f} ms"
            f" (min {min(outside):.3f}, max {max(outside):.3f}; {args.runs} runs)"
            f"  target <= {OVERHEAD_TARGET_MS} ms -> {verdict}"
        )
        chain = f"engine.chain of {CHAIN_LENGTH} {language}"
        record(f"{chain}: per node", statistics.median(per_node), "ms")
        record(
            f"{chain}: outside executors",
            statistics.median(outside),
            "ms",
            ("<=", OVERHEAD_TARGET_MS),
        )
    object.__setattr__(spec, "execute", original)

    # --- 2. throughput -----------------------------------------------------------
    engine = broker.get_engine()
    worker = dramatiq.Worker(engine.broker, worker_threads=args.threads, worker_timeout=100)
    worker.start()
    rates = []
    small = workflows["small"]
    for _ in range(max(3, args.runs // 2)):
        began = time.perf_counter()
        ids = []
        with session_scope() as session:
            for index in range(args.executions):
                trigger = {"source": "webhook", "data": {"total": index % 200}, "headers": {}}
                ids.append(start_execution(session=session, workflow=small, trigger=trigger).id)
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
    worker.stop()
    verdict = "OK" if statistics.median(rates) >= THROUGHPUT_TARGET else "UNDER TARGET"
    print(
        f"small workflow, {args.executions} executions, {args.threads} worker threads:"
        f" median {statistics.median(rates):7.1f} completed/s"
        f" (min {min(rates):.1f}, max {max(rates):.1f};"
        f" {len(rates)} runs)  target >= {THROUGHPUT_TARGET:.0f}/s -> {verdict}"
    )
    record(
        "engine.small workflow: completed executions",
        statistics.median(rates),
        "per s",
        (">=", THROUGHPUT_TARGET),
    )


if __name__ == "__main__":
    main()
