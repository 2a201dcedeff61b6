"""Redis hangs (SIGSTOP) for 10 s in the middle of a webhook burst, then goes on.

Unlike a stopped Redis (:mod:`tests.chaos.test_redis_outage`), a hanging one still
accepts connections (the kernel does) and never answers: a client without a socket
timeout waits as long as the hang lasts, or forever. The app's API runs in this
process with the reconciler thread the app starts; two worker processes consume the
private Redis. Every webhook call must be answered, 202 (stored) or 503, within
:data:`ANSWER_S`; every 202 must end in a finished execution, each node run once.
Redis keeps its data across the hang: messages sent before it are still queued.

Compressed: the app's reconciler passes every 60 s; here every 2 s.
"""

from __future__ import annotations

import collections
import os
import signal
import threading
import time

import httpx
import pytest

from tests.api.conftest import serve as serve_api
from tests.chaos.harness import Tally, counting_endpoint, describe, success_lines, wait_all_finished
from tests.engine.helpers import edge, jsonata, node
from tests.engine.test_crash import Stack, Workers, http, workflow_of
from workfuse.api.app import create_api
from workfuse.engine.reconciler import start_reconciler_thread
from workfuse.engine.state import TERMINAL
from workfuse.models import User

pytestmark = pytest.mark.postgres

CLIENTS = 4  #: concurrent webhook callers
PAUSE_S = 0.15  #: seconds each caller waits between its calls
BEFORE_S = 3.0  #: seconds of calls before Redis hangs
HANG_S = 10.0  #: seconds Redis is stopped (SIGSTOP) before it goes on (SIGCONT)
AFTER_S = 3.0  #: seconds of calls after it goes on
ANSWER_S = 6.0  #: seconds within which every webhook call must be answered
RECONCILE_EVERY_S = 2.0  #: the app's reconciler interval (60 s), compressed
FINISH_S = 60.0  #: seconds the accepted executions may take after the burst


def test_webhooks_across_a_hanging_redis_are_answered_in_time_and_all_run(
    stack: Stack, workers: Workers, owner: User, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("redis hangs 10 s during a webhook burst")
    redis_server = stack.redis.process
    assert redis_server is not None
    with counting_endpoint(0.05) as endpoint:
        # Given: a webhook workflow, two worker processes, the API and its reconciler
        workflow = workflow_of(
            owner,
            [
                node("start", "trigger", {"source": "webhook"}),
                jsonata("shape", "trigger.data.n * 2"),
                http("call", endpoint.url),
                jsonata("after", "nodes.shape.result + 1"),
            ],
            [edge("start", "shape"), edge("shape", "call"), edge("call", "after")],
        )
        workers.start("w0")
        workers.start("w1")
        stop = threading.Event()
        start_reconciler_thread(RECONCILE_EVERY_S, stop=stop)
        answers: collections.Counter[int | str] = collections.Counter()
        accepted: list[str] = []
        slowest = [0.0]
        bodies: list[str] = []
        calling = threading.Event()
        calling.set()

        def call(api: str, first: int) -> None:
            # The client gives up well after ANSWER_S, so a slow answer is measured.
            with httpx.Client(base_url=api, timeout=ANSWER_S * 3) as client:
                n = first
                while calling.is_set():
                    began = time.monotonic()
                    try:
                        response = client.post(f"/hooks/{workflow.webhook_token}", json={"n": n})
                    except httpx.HTTPError as error:
                        answers[type(error).__name__] += 1
                        continue
                    finally:
                        slowest[0] = max(slowest[0], time.monotonic() - began)
                    answers[response.status_code] += 1
                    if response.status_code == 202:
                        accepted.append(response.json()["executionId"])
                    elif len(bodies) < 5:
                        bodies.append(f"{response.status_code} {response.text[:300]}")
                    n += CLIENTS
                    time.sleep(PAUSE_S)

        try:
            with serve_api(create_api()) as api:
                callers = [
                    threading.Thread(target=call, args=(api, first)) for first in range(CLIENTS)
                ]
                for caller in callers:
                    caller.start()
                # When: Redis hangs for 10 s in the middle of the burst
                time.sleep(BEFORE_S)
                os.kill(redis_server.pid, signal.SIGSTOP)
                try:
                    time.sleep(HANG_S)
                finally:
                    os.kill(redis_server.pid, signal.SIGCONT)
                time.sleep(AFTER_S)
                calling.clear()
                for caller in callers:
                    caller.join()
                # Then: every accepted execution finishes
                final = wait_all_finished(accepted, timeout=FINISH_S)
        finally:
            stop.set()

        # And: no node ran twice
        logged = success_lines(accepted)
        calls = collections.Counter(
            {i: endpoint.calls(i, "call") for i in accepted if endpoint.calls(i, "call") != 1}
        )
        tally.duplicates = sum(n - 1 for n in logged.values() if n > 1) + sum(
            n - 1 for n in calls.values() if n > 1
        )
    tally.count(final, accepted)
    tally.notes = {"answers": dict(answers), "slowest answer s": round(slowest[0], 2)}
    tally.report(capsys)
    assert set(answers) <= {202, 503}, (answers, bodies)
    assert slowest[0] < ANSWER_S, f"a webhook call took {slowest[0]:.1f} s"
    assert tally.lost == 0, describe(i for i in accepted if final.get(i) not in TERMINAL)
    assert tally.duplicates == 0, (calls, [k for k, n in logged.items() if n > 1])
    assert tally.completed == len(accepted)
