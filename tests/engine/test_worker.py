"""The module Dramatiq's worker processes import (``workfuse worker``)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import TEST_REDIS_URL

#: Imports only the worker module, then reports whether V8's library is mapped.
CHECK_V8 = (
    "import workfuse.engine.worker, workfuse.nodes.transform;"
    "from workfuse.sandbox.javascript.v8 import v8_is_initialised;"
    "mapped = 'libmini_racer' in open('/proc/self/maps').read();"
    "print(v8_is_initialised(), mapped)"
)


def test_a_worker_process_does_not_load_v8_before_a_javascript_node_runs() -> None:
    # Given: a worker process's settings (Redis set; nothing is sent)
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFUSE_")}
    env["WORKFUSE_REDIS_URL"] = TEST_REDIS_URL

    # When: its main thread imports the worker module, as Dramatiq does
    result = subprocess.run(
        [sys.executable, "-c", CHECK_V8], env=env, capture_output=True, text=True, timeout=60
    )

    # Then: the runner and node types are loaded, V8 (about 40 MB) is not
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]
