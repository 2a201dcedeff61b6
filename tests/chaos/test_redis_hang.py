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

import os
import signal
import time

import pytest

from tests.chaos.harness import webhook_burst
from tests.engine.test_crash import Stack, Workers
from workfuse.models import User

pytestmark = pytest.mark.postgres

HANG_S = 10.0  #: seconds Redis is stopped (SIGSTOP) before it goes on (SIGCONT)
ANSWER_S = 6.0  #: seconds within which every webhook call must be answered


def test_webhooks_across_a_hanging_redis_are_answered_in_time_and_all_run(
    stack: Stack, workers: Workers, owner: User, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_server = stack.redis.process
    assert redis_server is not None

    # Given: a webhook workflow, two worker processes, the API and its reconciler
    # When: Redis hangs for 10 s in the middle of a burst of calls
    def outage() -> None:
        os.kill(redis_server.pid, signal.SIGSTOP)
        try:
            time.sleep(HANG_S)
        finally:
            os.kill(redis_server.pid, signal.SIGCONT)

    burst = webhook_burst(
        "redis hangs 10 s during a webhook burst",
        owner,
        workers,
        outage,
        client_timeout_s=ANSWER_S * 3,  # gives up well after ANSWER_S: a slow answer counts
        capsys=capsys,
    )

    # Then: every call was answered in time, 202 or 503, and every 202 ran once
    assert burst.slowest_s < ANSWER_S, f"a webhook call took {burst.slowest_s:.1f} s"
    burst.check()
