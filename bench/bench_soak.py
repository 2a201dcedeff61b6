"""Webhook soak: minutes of steady webhook traffic with memory, lag and losses watched.

Starts a deployment of ``bench_webhooks.py`` (default ``postgres``: the app, PostgreSQL,
a private Redis and one ``workfuse worker`` process; or ``embedded``), warms it up,
then sends ``POST /hooks/{token}`` at ``--rate`` requests/s for ``--duration`` seconds
from 20 keep-alive connections (the Node.js loader), while it samples the RSS of the
app and the worker every ``--sample-every`` seconds. Afterwards it waits until every
execution has finished and prints one line per figure:

* accepted requests/s, p50/p99 latency, answers other than 202 and connection errors;
* executions stored for the accepted calls (``lost`` = accepted - stored), completed,
  and how long they took from the call to completion (lag p50/p99/max, from the rows'
  ``started_at``/``completed_at``);
* RSS of the app's serving process and of the worker process (each with the sandbox
  processes it started, if any) at rest before the load, after the first 10,000
  executions completed, at the peak and at the end, and the growth (end - start)
  against ``--memory-bound-mb``.

``--transform javascript`` makes the workflow's transform JavaScript (the same result),
so the sandbox processes load V8.

Exit status 1 when an answer was not 202, a call failed, an accepted call has no
execution, an execution did not complete, or a process grew by more than the bound.

The rate should be one the machine sustains (executions complete as fast as they
arrive, so the lag stays flat); ``bench_webhooks.py`` shows the maximum.

Run: ``.venv/bin/python bench/bench_soak.py`` (5 minutes at 100/s on PostgreSQL +
Redis); ``--duration 15 --rate 50`` is the short version the test suite runs.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_webhooks import (  # (both after the path is set)
    GRAPH,
    POSTGRES_ADMIN_URL,
    Load,
    Memory,
    deployment,
    drain,
    memory_of,
    run_load,
)

from bench.report import record

WARM_UP_S = 3.0
MILESTONE = 10_000  #: executions completed at which memory is reported
MEMORY_AIM_MB = 200.0  #: app + worker RSS at the end (the engine issue's aim)


@dataclass
class Sample:
    second: float  #: since the load began
    completed: int
    app: Memory
    worker: Memory | None


def completed_since(database_url: str, began: datetime) -> int:
    import sqlalchemy as sa

    from workfuse.db import get_engine
    from workfuse.models import Execution, ExecutionStatus

    with get_engine(database_url).connect() as connection:
        query = (
            sa.select(sa.func.count())
            .select_from(Execution)
            .where(
                Execution.status == ExecutionStatus.COMPLETED,
                Execution.started_at >= began,  # type: ignore[operator]
            )
        )
        return int(connection.execute(query).scalar_one())


def executions_since(database_url: str, began: datetime) -> list[tuple[str, float | None]]:
    """(status, seconds from the call to completion) of every execution started since."""
    import sqlalchemy as sa

    from workfuse.db import get_engine
    from workfuse.models import Execution

    with get_engine(database_url).connect() as connection:
        rows = connection.execute(
            sa.select(Execution.status, Execution.started_at, Execution.completed_at).where(
                Execution.started_at >= began  # type: ignore[operator]
            )
        ).all()
    return [
        (str(status), (done - started).total_seconds() if done else None)
        for status, started, done in rows
    ]


def with_transform_language(graph: dict[str, Any], language: str) -> dict[str, Any]:
    """``graph`` with its transform in ``language`` (the same result either way)."""
    code = {"jsonata": "trigger.data.total", "javascript": "return trigger.data.total"}[language]
    changed = copy.deepcopy(graph)
    for node in changed["nodes"]:
        if node["type"] == "transform":
            node["data"]["config"] = {"language": language, "code": code}
    return changed


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["postgres", "embedded"], default="postgres")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s")
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds")
    parser.add_argument(
        "--memory-bound-mb", type=float, default=64.0, help="allowed RSS growth per process"
    )
    parser.add_argument("--threads", type=int, default=8, help="threads of the worker process")
    parser.add_argument("--redis", help="a Redis URL (default: a private redis-server)")
    parser.add_argument("--postgres-admin", default=POSTGRES_ADMIN_URL)
    parser.add_argument(
        "--transform",
        choices=["jsonata", "javascript"],
        default="jsonata",
        help="the language of the workflow's transform (javascript: a sandbox process runs it)",
    )
    args = parser.parse_args()
    args.graph = with_transform_language(GRAPH, args.transform)
    print(
        f"webhook soak: {args.scenario}, {args.transform} transform,"
        f" {args.rate:g} requests/s for {args.duration:g} s,"
        f" Python {sys.version.split()[0]}",
        flush=True,
    )

    from workfuse.db_types import utcnow

    with deployment(args.scenario, args) as running:
        run_load("node", running.url, WARM_UP_S, running.scratch, rate=args.rate)
        drain(running.database_url)
        app_start = memory_of(running.app)
        worker_start = memory_of(running.worker) if running.worker else None

        began = utcnow()
        loads: list[Load] = []
        loader = threading.Thread(
            target=lambda: loads.append(
                run_load("node", running.url, args.duration, running.scratch, rate=args.rate)
            )
        )
        clock = time.monotonic()
        loader.start()
        samples: list[Sample] = []
        while loader.is_alive():
            loader.join(args.sample_every)
            samples.append(
                Sample(
                    second=time.monotonic() - clock,
                    completed=completed_since(running.database_url, began),
                    app=memory_of(running.app),
                    worker=memory_of(running.worker) if running.worker else None,
                )
            )
        drain_s = drain(running.database_url)
        app_end = memory_of(running.app)
        worker_end = memory_of(running.worker) if running.worker else None
        executions = executions_since(running.database_url, began)

    if not loads:
        sys.exit("the load generator failed")
    load = loads[0]
    accepted = load.requests - load.bad
    completed = [lag for status, lag in executions if status == "COMPLETED" and lag is not None]
    lost = accepted - len(executions)
    not_completed = len(executions) - len(completed)
    milestone = next((sample for sample in samples if sample.completed >= MILESTONE), None)

    print(f"  accepted      {load.rate:8.1f} req/s ({accepted} of {load.requests} calls)")
    print(f"  latency       p50 {load.p50:.1f} ms, p99 {load.p99:.1f} ms")
    print(f"  non-202       {load.bad}   connection errors {load.errors}")
    print(f"  executions    {len(executions)} stored, {len(completed)} completed")
    print(f"  lost          {lost}   not completed {not_completed}")
    print(
        f"  lag           p50 {percentile(completed, 0.5) * 1000:.0f} ms,"
        f" p99 {percentile(completed, 0.99) * 1000:.0f} ms,"
        f" max {max(completed, default=0) * 1000:.0f} ms; drained {drain_s:.1f} s after the load"
    )
    growth_problems = []
    processes: list[tuple[str, Memory | None, Memory | None, list[Memory | None]]] = [
        ("app", app_start, app_end, [sample.app for sample in samples]),
        ("worker", worker_start, worker_end, [sample.worker for sample in samples]),
    ]
    for name, start, end, seen in processes:
        if start is None or end is None:
            continue
        peak = max((memory.serving for memory in seen if memory is not None), default=0.0)
        at_milestone = (
            f"{getattr(milestone, name).serving:.0f} MB after {MILESTONE:,} executions"
            if milestone is not None
            else f"fewer than {MILESTONE:,} executions"
        )
        growth = end.serving - start.serving
        verdict = "OK" if growth <= args.memory_bound_mb else "OVER BOUND"
        if verdict != "OK":
            growth_problems.append(name)
        print(
            f"  {name + ' RSS':<13} start {start.serving:.0f} MB, {at_milestone},"
            f" peak {peak:.0f} MB, end {end.serving:.0f} MB: growth {growth:+.0f} MB"
            f" (bound {args.memory_bound_mb:g} MB -> {verdict})"
            + (f"; sandbox processes {end.sandbox:.0f} MB of it" if end.sandbox else "")
        )
    if samples:
        trend = [sample.completed / sample.second for sample in samples if sample.second > 0]
        print(f"  completed/s   median {statistics.median(trend):.1f} over {len(samples)} samples")
    figure = f"soak.{args.scenario}"
    record(f"{figure}.accepted", load.rate, "req/s")
    record(f"{figure}.latency p99", load.p99, "ms")
    record(f"{figure}.non-202 or errors", load.bad + load.errors, "calls", ("<=", 0))
    record(f"{figure}.lost", lost, "executions", ("<=", 0))
    record(f"{figure}.not completed", not_completed, "executions", ("<=", 0))
    record(f"{figure}.lag p99", percentile(completed, 0.99) * 1000, "ms")
    ends = [end for _, _, end, _ in processes if end is not None]
    record(
        f"{figure}.app + worker RSS at the end",
        sum(m.serving for m in ends),
        "MB",
        ("<", MEMORY_AIM_MB),
    )
    for name, start, end, _ in processes:
        if start is not None and end is not None:
            record(
                f"{figure}.{name} RSS growth",
                end.serving - start.serving,
                "MB",
                ("<=", args.memory_bound_mb),
            )
    failed = load.bad or load.errors or lost or not_completed or growth_problems
    print("RESULT", "FAILED" if failed else "OK")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
