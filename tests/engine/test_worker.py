"""The module Dramatiq's worker processes import (``workfuse worker``)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import TEST_REDIS_URL

#: Imports the worker module, runs a JavaScript transform, then checks V8 is not loaded.
RUN_JAVASCRIPT_WITHOUT_V8 = """
import asyncio, sys
import workfuse.engine.worker
from workfuse.sandbox.pool import run_javascript
result = asyncio.run(run_javascript("return trigger.data.n * 2", {"trigger": {"data": {"n": 21}}}))
assert result.value == 42, result
assert "py_mini_racer" not in sys.modules, "V8 was loaded into the worker process"
"""


def test_a_worker_process_runs_javascript_without_loading_v8() -> None:
    # Given: a worker process's settings (Redis set; nothing is sent)
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFUSE_")}
    env["WORKFUSE_REDIS_URL"] = TEST_REDIS_URL

    # When: it imports the worker module, as Dramatiq does, and runs JavaScript
    result = subprocess.run(
        [sys.executable, "-c", RUN_JAVASCRIPT_WITHOUT_V8],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then: the code ran in the sandbox process, and V8 stayed out of the worker's memory
    assert result.returncode == 0, result.stderr
