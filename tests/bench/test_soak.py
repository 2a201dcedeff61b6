"""The short version of the webhook soak (``bench/bench_soak.py``): the app, PostgreSQL,
a private Redis and a worker process, under steady webhook traffic over real HTTP.
The long version (5 minutes) is ``make soak``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (shutil.which("node") and shutil.which("redis-server")),
        reason="needs Node.js (the loader) and redis-server",
    ),
]


def test_a_short_soak_accepts_every_call_and_completes_every_execution() -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    finished = subprocess.run(
        [sys.executable, "bench/bench_soak.py", "--duration", "10", "--rate", "40"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    assert re.search(r"lost\s+0\s+not completed 0", output), output
    assert re.search(r"non-202\s+0\s+connection errors 0", output), output
    stored = re.search(r"executions\s+(\d+) stored, (\d+) completed", output)
    assert stored and int(stored[1]) == int(stored[2]) >= 300, output
