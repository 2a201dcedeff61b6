"""The runner lock: held by one process per SQLite database, released when it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from workfuse.engine.runner_lock import LOCK_SUFFIX, hold_runner_lock

#: Takes the lock on the database given as argv[1], prints whether it got it, then
#: waits for its standard input to close (or for a signal).
HOLDER = """
import sys
from workfuse.engine.runner_lock import hold_runner_lock
print(hold_runner_lock(sys.argv[1]), flush=True)
sys.stdin.read()
"""


def holder(url: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_one_process_holds_it_until_it_dies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'workfuse.db'}"

    # Given: an app process that took the lock
    first, got = holder(url)
    assert got == "True"
    assert (tmp_path / f"workfuse.db{LOCK_SUFFIX}").exists()

    # Then: a second process on the same database does not get it
    second, got = holder(url)
    assert got == "False"
    second.kill()
    second.wait()

    # When: the first one is killed (no chance to clean up)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()

    # Then: the next process gets it, and keeps it when it asks again
    third, got = holder(url)
    try:
        assert got == "True"
    finally:
        third.kill()
        third.wait()
    assert hold_runner_lock(url) and hold_runner_lock(url)


def test_only_a_sqlite_file_has_one(tmp_path: Path) -> None:
    assert not hold_runner_lock("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    assert not hold_runner_lock("sqlite://")
    assert not hold_runner_lock("sqlite:///:memory:")
