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
from sqlmodel import Session

from tests.chaos.harness import ChaosWorkers, PrivatePostgres, stack_on
from tests.engine.test_crash import PrivateRedis, Stack
from tests.engine.test_crash import private_redis as private_redis  # the fixture
from workfuse.db import get_engine, upgrade_database
from workfuse.models import User
from workfuse.services.users import create_user


@pytest.fixture
def stack(
    postgres_url: str,
    private_redis: PrivateRedis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    _migrated: set[str],
) -> Iterator[Stack]:
    """The run's PostgreSQL database and this test's private Redis."""
    if postgres_url not in _migrated:
        upgrade_database(postgres_url)
        _migrated.add(postgres_url)
    with stack_on(postgres_url, private_redis, tmp_path / "data", monkeypatch) as stack:
        yield stack


@pytest.fixture
def workers(stack: Stack, tmp_path: Path) -> Iterator[ChaosWorkers]:
    started = ChaosWorkers(stack, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture
def owner(stack: Stack) -> User:
    with Session(get_engine(stack.database_url), expire_on_commit=False) as session:
        user = create_user(session=session, email="chaos@example.com")
        session.commit()
        return user


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
