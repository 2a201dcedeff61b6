"""Worker processes SIGKILLed again and again while a batch of executions runs.

200 executions of ``start -> shape (pure) -> call (HTTP, a little slow) -> after
(pure)`` on two worker processes; every 1-2 s a random worker's process group is
SIGKILLed and a replacement started. Nothing may be lost, no completed node may run
again, and a node a kill interrupted may run once more per interruption.

Waits compressed instead of slept through, for each dead worker (see
:func:`tests.chaos.harness.let_time_pass_for`): Dramatiq's 60 s heartbeat timeout
before it requeues the dead worker's messages, and the runner's 45 s
``STALE_AFTER_S`` before a RUNNING execution may be taken over. Nothing inside the
worker processes is patched.
"""

from __future__ import annotations

import collections
import random
import time
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.chaos.harness import (
    ChaosWorkers,
    Tally,
    attempts,
    counting_endpoint,
    describe,
    let_time_pass_for,
    statuses,
    success_lines,
    wait_all_finished,
)
from tests.engine.helpers import edge, jsonata, node
from tests.engine.test_crash import Stack, Worker, http, workflow_of
from workfuse.db import session_scope
from workfuse.engine.state import TERMINAL
from workfuse.models import User
from workfuse.services.executions import start_execution

pytestmark = pytest.mark.postgres

SENT = 200
HOLD_S = 0.3  #: seconds the endpoint takes to answer
KILLS = 6  #: SIGKILLs at least while executions run (the batch must last that long)
MAX_KILLS = 8
KILL_EVERY_S = (1.0, 2.0)  #: seconds between kills, uniformly drawn
FINISH_S = 60.0  #: seconds the batch may take after the last kill
NODES = ("start", "shape", "call", "after")


def test_sigkilled_workers_lose_nothing_and_rerun_no_completed_node(
    stack: Stack, workers: ChaosWorkers, owner: User, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("sigkill workers x6+ during 200 executions")
    rng = random.Random(8)
    with counting_endpoint(HOLD_S) as endpoint:
        # Given: the workflow, two worker processes and 200 executions sent
        workflow = workflow_of(
            owner,
            [
                node("start", "trigger", {}),
                jsonata("shape", "trigger.data.n * 2"),
                {**http("call", endpoint.url)},
                jsonata("after", "nodes.shape.result + (nodes.call.body.ok ? 1 : 0)"),
            ],
            [edge("start", "shape"), edge("shape", "call"), edge("call", "after")],
        )
        fleet = [workers.start("w0"), workers.start("w1")]
        began = time.monotonic()
        with session_scope() as session:
            merged = session.merge(workflow)
            sent = [
                start_execution(
                    session=session,
                    workflow=merged,
                    trigger={"source": "manual", "data": {"n": n}, "headers": {}},
                ).id
                for n in range(SENT)
            ]

        # When: a random worker is SIGKILLed every 1-2 s, a replacement starting at once
        interrupted: collections.Counter[tuple[str, str]] = collections.Counter()
        kills = 0
        # One start at a time: a start takes the first new heartbeat in Redis as its own.
        with ThreadPoolExecutor(max_workers=1) as starter:
            starting: list[Future[Worker]] = []
            while kills < MAX_KILLS and _unfinished(sent):
                time.sleep(rng.uniform(*KILL_EVERY_S))
                fleet += [future.result() for future in starting if future.done()]
                starting = [future for future in starting if not future.done()]
                if not fleet:  # both were killed before a replacement was up
                    fleet.append(starting.pop(0).result())
                victim = rng.choice(fleet)
                workers.kill(victim)
                kills += 1
                for execution_id, node_ids in let_time_pass_for(stack, workers, victim).items():
                    interrupted.update((execution_id, node_id) for node_id in node_ids)
                fleet.remove(victim)
                starting.append(starter.submit(workers.start, f"replacement-{kills}"))
            fleet += [future.result() for future in starting]  # every replacement is up
        unfinished_at_last_kill = _unfinished(sent)

        # Then: every execution finishes (the reconciler runs as the app's would)
        final = wait_all_finished(sent, timeout=FINISH_S, reconcile_every_s=5)
        elapsed = time.monotonic() - began

        # And: no completed node ran again; an interrupted one at most once more per kill
        logged = success_lines(sent)
        tried = attempts(sent)
        problems = []
        for execution_id in sent:
            for node_id in NODES:
                key = (execution_id, node_id)
                allowed = 1 + interrupted[key]
                runs = logged[key]
                calls = endpoint.calls(execution_id, node_id) if node_id == "call" else runs
                extra = max(runs - 1, 0) + max(calls - allowed, 0)
                if extra or tried.get(key, 0) > allowed:
                    problems.append((key, runs, calls, tried.get(key), allowed))
                tally.duplicates += extra
    tally.count(final, sent)
    tally.notes = {
        "kills": kills,
        "interrupted nodes": sum(interrupted.values()),
        "unfinished at last kill": unfinished_at_last_kill,
        "seconds": round(elapsed, 1),
    }
    tally.report(capsys)
    failed = {i: s for i, s in final.items() if s not in TERMINAL or s.value != "completed"}
    assert tally.lost == 0, describe(i for i in sent if final.get(i) not in TERMINAL)
    assert tally.duplicates == 0, problems
    assert not problems, problems
    assert tally.failed == 0, f"the workflow cannot fail by itself: {failed}"
    assert kills >= KILLS, f"the batch ended after {kills} kills: too short a scenario"


def _unfinished(execution_ids: list[str]) -> int:
    return sum(status not in TERMINAL for status in statuses(execution_ids).values())
