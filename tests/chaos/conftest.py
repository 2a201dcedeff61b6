"""Fixtures of the chaos scenarios: PostgreSQL, a private Redis, worker processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import ChaosWorkers, PrivatePostgres
from tests.engine.test_crash import Stack
from tests.engine.test_crash import owner as owner
from tests.engine.test_crash import private_redis as private_redis  # the fixtures
from tests.engine.test_crash import stack as stack
from workfuse.db import get_engine


@pytest.fixture
def workers(stack: Stack, tmp_path: Path) -> Iterator[ChaosWorkers]:
    started = ChaosWorkers(stack, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    directory = Path(tempfile.mkdtemp(prefix="workfuse-chaos-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = PrivatePostgres(directory)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(pytest.fail.Exception, subprocess.TimeoutExpired):
            server.stop("immediate")  # fails if it is already stopped
        get_engine(server.url).dispose()
        shutil.rmtree(directory, ignore_errors=True)
