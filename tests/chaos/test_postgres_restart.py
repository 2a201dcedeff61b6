"""PostgreSQL (a private cluster) stops for a few seconds while executions run.

Two worker processes and the app's API (in this process, with the reconciler thread
the app starts) use a PostgreSQL cluster of this test only. Webhooks start
executions before, during and after the outage. Nobody restarts anything but the
database: the workers and the app must reconnect by themselves, every accepted
execution must finish, nothing may run twice but a node the outage interrupted, and
webhook calls while the database is down answer a clear 503, never a 500.

The executions in flight when the database stopped must all be finished within
:data:`RESUME_S` of its return. A run whose database write failed is retried by
Dramatiq (with backoff: 1-2 s, then 2-4 s, 4-8 s...) and takes its own claim back at
once; before it carried its lease, the retry waited for the claim to go stale
(``STALE_AFTER_S``, 45 s), and the executions in flight finished about 50 s after.

Compressed: the app's reconciler passes every 60 s; here every 2 s.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import serve as serve_api
from tests.chaos.harness import (
    PrivatePostgres,
    Tally,
    counting_endpoint,
    describe,
    finished_at,
    statuses,
    success_lines,
    wait_all_finished,
    webhook_workflow,
)
from tests.engine.test_crash import PrivateRedis, Stack, Workers, stack_on
from workfuse.api.app import create_api
from workfuse.db import upgrade_database
from workfuse.db_types import utcnow
from workfuse.engine.reconciler import start_reconciler_thread
from workfuse.engine.state import TERMINAL
from workfuse.models import ExecutionStatus, User

pytestmark = pytest.mark.postgres

BEFORE = 40  #: webhooks sent before the outage
CLIENTS = 2  #: callers during and after the outage
PAUSE_S = 0.2  #: seconds each caller waits between calls
DOWN_S = 4.0  #: seconds PostgreSQL is down
AFTER_S = 2.0  #: seconds of calls after it is back
RECONCILE_EVERY_S = 2.0  #: the app's reconciler interval (60 s), compressed
FINISH_S = 90.0  #: seconds the accepted executions may take after the outage
#: seconds after PostgreSQL is back by which the executions in flight when it stopped
#: must be finished (measured: about 6 s; Dramatiq's backoff and a loaded machine can
#: add a retry of 8-16 s; waiting for a stale claim would take over 45 s)
RESUME_S = 25.0


@pytest.fixture
def stack(
    private_postgres: PrivatePostgres,
    private_redis: PrivateRedis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    """The private PostgreSQL cluster (migrated) and the private Redis."""
    upgrade_database(private_postgres.url)
    with stack_on(private_postgres.url, private_redis, tmp_path / "data", monkeypatch) as stack:
        yield stack


def test_executions_survive_a_postgres_restart_and_nobody_restarts_the_workers(
    stack: Stack,
    private_postgres: PrivatePostgres,
    workers: Workers,
    owner: User,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tally = Tally("postgres down 4 s during a run")
    with counting_endpoint(0.3) as endpoint:
        # Given: a webhook workflow, two worker processes, the API and its reconciler
        workflow = webhook_workflow(owner, endpoint)
        workers.start("w0")
        workers.start("w1")
        stop = threading.Event()
        start_reconciler_thread(RECONCILE_EVERY_S, stop=stop)
        answers: collections.Counter[int | str] = collections.Counter()
        accepted: list[str] = []
        bodies: list[str] = []
        path = f"/hooks/{workflow.webhook_token}"

        def post(client: httpx.Client, n: int) -> None:
            try:
                response = client.post(path, json={"n": n})
            except httpx.HTTPError as error:
                answers[type(error).__name__] += 1
                return
            answers[response.status_code] += 1
            if response.status_code == 202:
                accepted.append(response.json()["executionId"])
            elif len(bodies) < 5:
                bodies.append(f"{response.status_code} {response.text[:300]}")

        calling = threading.Event()

        def call(api: str, first: int) -> None:
            with httpx.Client(base_url=api, timeout=30) as client:
                n = first
                while calling.is_set():
                    post(client, n)
                    n += CLIENTS
                    time.sleep(PAUSE_S)

        try:
            with serve_api(create_api()) as api:
                with httpx.Client(base_url=api, timeout=30) as client:
                    for n in range(BEFORE):
                        post(client, 1000 + n)
                assert answers == {202: BEFORE}, bodies
                endpoint_called = time.monotonic() + 30
                while not endpoint.server.requests and time.monotonic() < endpoint_called:
                    time.sleep(0.02)

                # When: PostgreSQL stops while executions run, and starts 4 s later
                calling.set()
                callers = [
                    threading.Thread(target=call, args=(api, first)) for first in range(CLIENTS)
                ]
                for caller in callers:
                    caller.start()
                in_flight = [i for i, s in statuses(accepted).items() if s not in TERMINAL]
                private_postgres.stop("fast")
                time.sleep(DOWN_S)
                private_postgres.start()
                back = utcnow()
                time.sleep(AFTER_S)
                calling.clear()
                for caller in callers:
                    caller.join()

                # Then: every accepted execution finishes
                final = wait_all_finished(accepted, timeout=FINISH_S)
        finally:
            stop.set()

        # And: those in flight at the stop finished soon after the database was back
        ends = finished_at(in_flight)
        resumed_s = max((end - back).total_seconds() for end in ends.values()) if ends else 0.0

        # And: nothing ran twice but a node the outage interrupted
        logged = success_lines(accepted)
        tally.duplicates = sum(n - 1 for n in logged.values() if n > 1)
        calls = {i: endpoint.calls(i, "call") for i in accepted}
    tally.count(final, accepted)
    tally.notes = {
        "in flight at stop": len(in_flight),
        "answers": dict(answers),
        "calls repeated": sum(n > 1 for n in calls.values()),
        "in flight finished s after postgres back": round(resumed_s, 1),
    }
    tally.report(capsys)
    assert tally.lost == 0, describe(i for i in accepted if final.get(i) not in TERMINAL)
    assert tally.duplicates == 0, [key for key, n in logged.items() if n > 1]
    assert all(n <= 2 for n in calls.values()), calls
    assert set(answers) <= {202, 503}, (answers, bodies)
    assert tally.completed == len(accepted), {
        i: s for i, s in final.items() if s is not ExecutionStatus.COMPLETED
    }
    assert in_flight
    assert resumed_s < RESUME_S, (resumed_s, describe(sorted(ends, key=ends.__getitem__)[-5:]))
