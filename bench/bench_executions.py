"""Benchmark the executions list and detail with 100,000 stored executions.

Fills a fresh database (SQLite in a temporary file, and a scratch PostgreSQL database
when one is reachable) with 100,000 executions of one user across 20 workflows over
60 days (90% completed, 7% failed, 2% cancelled, 1% running), plus 50,000 of another
user, then times what a request does on the server (a fresh session, the service
call, the API's response models), in milliseconds:

* the first page (50 newest), a page filtered by status (failed), by workflow, and by
  a one-day time range, and a deep page (the keyset cursor of the 60,000th row);
* one execution's detail with 10 node runs and 40 log lines.

Target (Hardening issue): every median under 100 ms. Run:
``.venv/bin/python bench/bench_executions.py`` (``--runs N``, ``--count N``,
``--postgres URL`` or ``--no-postgres``).
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from sqlmodel import Session, select

from bench.report import record
from workfuse.api.routes.executions import (
    ExecutionLogPublic,
    ExecutionSummary,
    NodeRunPublic,
)
from workfuse.db import get_engine, upgrade_database
from workfuse.db_types import new_id, utcnow
from workfuse.models import Execution, ExecutionStatus, User
from workfuse.services import executions as service
from workfuse.services.users import create_user
from workfuse.services.workflows import WorkflowCreate, create_workflow

TARGET_MS = 100.0
WORKFLOWS = 20
DAYS = 60
STATUSES = [
    (ExecutionStatus.COMPLETED, 90),
    (ExecutionStatus.FAILED, 7),
    (ExecutionStatus.CANCELLED, 2),
    (ExecutionStatus.RUNNING, 1),
]
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def fill(url: str, count: int, seed: int = 11) -> dict[str, Any]:
    """Migrate and fill the database; returns the ids the timings need."""
    upgrade_database(url)
    engine = get_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        ada = create_user(session=session, email="ada@example.com")
        grace = create_user(session=session, email="grace@example.com")
        flows = [
            create_workflow(session=session, user=owner, data=WorkflowCreate(name=f"w{index}"))
            for owner in (ada, grace)
            for index in range(WORKFLOWS)
        ]
        session.commit()
    rng = random.Random(seed)
    now = utcnow()
    weights = [weight for _, weight in STATUSES]
    rows: list[dict[str, Any]] = []
    for index in range(count + count // 2):
        owner_flows = flows[:WORKFLOWS] if index < count else flows[WORKFLOWS:]
        flow = rng.choice(owner_flows)
        status = rng.choices([status for status, _ in STATUSES], weights)[0]
        started = now - timedelta(seconds=rng.uniform(0, DAYS * 86_400))
        rows.append(
            {
                "id": new_id(),
                "status": status.name,
                "trigger_data": {"source": "webhook", "data": {"n": index}},
                "node_results": {"a": "SUCCEEDED"},
                "started_at": started,
                "completed_at": started + timedelta(milliseconds=200),
                "duration": 200,
                "workflow_version": 1,
                "workflow_id": flow.id,
                "user_id": flow.user_id,
            }
        )
    table = sa.Table("executions", sa.MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        for start in range(0, len(rows), 5_000):
            connection.execute(sa.insert(table), rows[start : start + 5_000])
    detail_id = rows[0]["id"]
    with engine.begin() as connection:
        runs = sa.Table("node_runs", sa.MetaData(), autoload_with=engine)
        logs = sa.Table("execution_logs", sa.MetaData(), autoload_with=engine)
        connection.execute(
            sa.insert(runs),
            [
                {
                    "id": new_id(),
                    "node_id": f"n{node}",
                    "status": "SUCCEEDED",
                    "attempt": 1,
                    "input": {"code": "x"},
                    "output": {"result": node},
                    "execution_id": detail_id,
                    "started_at": now,
                    "finished_at": now,
                    "duration": 3,
                }
                for node in range(10)
            ],
        )
        connection.execute(
            sa.insert(logs),
            [
                {
                    "id": new_id(),
                    "node_id": f"n{line % 10}",
                    "level": "INFO",
                    "message": f"line {line}",
                    "execution_id": detail_id,
                    "timestamp": now,
                }
                for line in range(40)
            ],
        )
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("ANALYZE"))
        else:
            connection.execute(sa.text("ANALYZE"))
    ordered = sorted(
        (row for row in rows[:count]), key=lambda row: (row["started_at"], row["id"]), reverse=True
    )
    deep = ordered[min(60_000, len(ordered) - 1)]
    return {
        "user_id": ada.id,
        "workflow_id": flows[0].id,
        "detail_id": detail_id,
        "deep_cursor": service._encode_cursor(
            Execution(
                id=deep["id"],
                started_at=deep["started_at"],
                status=ExecutionStatus.COMPLETED,
                trigger_data={},
                workflow_version=1,
                workflow_id=deep["workflow_id"],
                user_id=deep["user_id"],
            )
        ),
        "day": now - timedelta(days=30),
    }


def _page(url: str, user_id: str, **filters: Any) -> int:
    """What ``GET /api/executions`` does on the server, without HTTP."""
    with Session(get_engine(url)) as session:
        user = session.exec(select(User).where(User.id == user_id)).one()
        page = service.list_executions(session=session, user=user, **filters)
        items = [ExecutionSummary.model_validate(row).model_dump(mode="json") for row in page.items]
        return len(items)


def _detail(url: str, user_id: str, execution_id: str) -> int:
    """What ``GET /api/executions/{id}`` does on the server, without HTTP."""
    with Session(get_engine(url)) as session:
        user = session.exec(select(User).where(User.id == user_id)).one()
        execution = service.get_execution(session=session, user=user, execution_id=execution_id)
        runs = [
            NodeRunPublic.model_validate(run).model_dump(mode="json")
            for run in service.node_runs(session=session, execution=execution)
        ]
        logs = [
            ExecutionLogPublic.model_validate(line).model_dump(mode="json")
            for line in service.execution_logs(session=session, execution=execution)
        ]
        return len(runs) + len(logs)


def timed(database: str, label: str, runs: int, call: Callable[[], int]) -> None:
    call()  # warm the caches and the connection pool
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    median = statistics.median(samples)
    verdict = "OK" if median < TARGET_MS else "MISSED"
    print(
        f"{label:<44} median {median:7.1f} ms  min {min(samples):6.1f}  "
        f"max {max(samples):6.1f}  ({runs} runs)  target < {TARGET_MS:.0f} ms -> {verdict}"
    )
    record(f"executions.{database} {label}", median, "ms", ("<", TARGET_MS))


def measure(name: str, url: str, count: int, runs: int) -> None:
    started = time.perf_counter()
    ids = fill(url, count)
    print(
        f"-- {name}: {count:,} executions (+{count // 2:,} of another user) stored in "
        f"{time.perf_counter() - started:.1f} s"
    )
    user = ids["user_id"]
    timed(name, "list: first page", runs, lambda: _page(url, user))
    timed(
        name, "list: status = FAILED", runs, lambda: _page(url, user, status=ExecutionStatus.FAILED)
    )
    timed(
        name, "list: one workflow", runs, lambda: _page(url, user, workflow_id=ids["workflow_id"])
    )
    day = ids["day"]
    timed(
        name,
        "list: one day (started after/before)",
        runs,
        lambda: _page(url, user, started_after=day, started_before=day + timedelta(days=1)),
    )
    timed(
        name,
        "list: deep page (cursor at row 60,000)",
        runs,
        lambda: _page(url, user, cursor=ids["deep_cursor"]),
    )
    timed(
        name,
        "detail: 10 node runs, 40 log lines",
        runs,
        lambda: _detail(url, user, ids["detail_id"]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--postgres", default=POSTGRES_ADMIN, help="admin URL for a scratch DB")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        measure("SQLite", f"sqlite:///{directory}/bench.db", args.count, args.runs)
    if args.no_postgres:
        return
    import psycopg

    name = f"workfuse_bench_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(args.postgres, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        print(f"-- PostgreSQL skipped: {error}")
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(args.postgres).set(drivername="postgresql+psycopg", database=name)
    try:
        measure("PostgreSQL", url.render_as_string(hide_password=False), args.count, args.runs)
    finally:
        get_engine(url.render_as_string(hide_password=False)).dispose()
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
