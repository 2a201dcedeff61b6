"""The module Dramatiq's worker processes import (``workfuse worker``)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import TEST_REDIS_URL

#: Imports only the worker module, then looks V8's state up without importing anything.
CHECK_V8 = (
    "import sys; import workfuse.engine.worker;"
    "v8 = sys.modules.get('workfuse.sandbox.javascript.v8');"
    "assert v8 is not None and v8._v8_ready, 'V8 is not initialised'"
)


def test_a_worker_process_initialises_v8_on_its_main_thread() -> None:
    # Given: a worker process's settings (Redis set; nothing is sent)
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFUSE_")}
    env["WORKFUSE_REDIS_URL"] = TEST_REDIS_URL

    # When: its main thread imports the worker module, as Dramatiq does
    result = subprocess.run(
        [sys.executable, "-c", CHECK_V8], env=env, capture_output=True, text=True, timeout=60
    )

    # Then: V8 is ready before any worker thread runs a JavaScript node
    assert result.returncode == 0, result.stderr
