"""Redis stops for 10 s in the middle of a webhook burst.

The app's API runs in this process (uvicorn, as :mod:`tests.engine.test_crash`
does) with the reconciler thread the app starts; two worker processes consume the
private Redis. Clients post webhooks before, during and after the outage. Every call
must answer 202 (stored) or 503, never a 500; every 202 must end in a finished
execution once Redis is back. Redis keeps nothing across the restart (no
persistence), so whatever was queued then is re-sent by the reconciler.

Compressed: the app's reconciler passes every 60 s; here every 2 s (same code, same
staleness rules otherwise).
"""

from __future__ import annotations

import time

import pytest

from tests.chaos.harness import webhook_burst
from tests.engine.test_crash import Stack, Workers
from workfuse.models import User

pytestmark = pytest.mark.postgres

DOWN_S = 10.0  #: seconds Redis is down


def test_webhooks_across_a_redis_outage_are_stored_or_refused_and_all_run(
    stack: Stack, workers: Workers, owner: User, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given: a webhook workflow, two worker processes, the API and its reconciler
    # When: Redis stops for 10 s in the middle of a burst of calls
    def outage() -> None:
        stack.redis.stop()
        time.sleep(DOWN_S)
        stack.redis.start()

    burst = webhook_burst(
        "redis down 10 s during a webhook burst",
        owner,
        workers,
        outage,
        client_timeout_s=30,
        capsys=capsys,
    )

    # Then: every call was stored (202) or refused (503), and every stored one ran once
    burst.check()
