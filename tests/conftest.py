"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``WORKFUSE_TEST_POSTGRES_URL`` (default: the local server with
trust auth). Each test run creates its own database and drops it afterwards. An
unreachable server fails the run; it is never skipped.
"""

from __future__ import annotations

import importlib
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from workfuse.db import get_engine, upgrade_database
from workfuse.models import User
from workfuse.nodes.base import NodeSpec
from workfuse.nodes.registry import REGISTRY
from workfuse.services.users import create_user
from workfuse.settings import get_settings

POSTGRES_ADMIN_URL = os.environ.get(
    "WORKFUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test run (SQLAlchemy URL)."""
    name = f"workfuse_test_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(
            _psycopg_url(POSTGRES_ADMIN_URL), autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {error}", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = sa.engine.make_url(POSTGRES_ADMIN_URL).set(
        drivername="postgresql+psycopg", database=name
    )
    url = base.render_as_string(hide_password=False)
    yield url
    get_engine(url).dispose()
    with psycopg.connect(_psycopg_url(POSTGRES_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("sqlite") / "workfuse.db"
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def _migrated() -> set[str]:
    return set()


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest,
    _migrated: set[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[str]:
    """A migrated database (SQLite, then PostgreSQL), emptied after each test.

    The settings point at it too, so code that calls ``get_settings()`` sees it.
    """
    url = request.getfixturevalue(f"{request.param}_url")
    if url not in _migrated:
        upgrade_database(url)
        _migrated.add(url)
    monkeypatch.setenv("WORKFUSE_DATABASE_URL", url)
    monkeypatch.setenv("WORKFUSE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    with get_engine(url).begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with Session(get_engine(database_url), expire_on_commit=False) as db_session:
        yield db_session
        db_session.rollback()


@pytest.fixture
def user(session: Session) -> User:
    created = create_user(session=session, email="ada@example.com", name="Ada")
    session.commit()
    return created


@pytest.fixture
def other_user(session: Session) -> User:
    created = create_user(session=session, email="grace@example.com", name="Grace")
    session.commit()
    return created


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or data directory."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("WORKFUSE_") and name != "WORKFUSE_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new database with no tables at all (SQLite file, then PostgreSQL).

    Unlike ``database_url`` it is not migrated and not shared: migration tests start
    from nothing. The PostgreSQL database is dropped afterwards.
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"workfuse_empty_{secrets.token_hex(4)}"
    admin_url = _psycopg_url(POSTGRES_ADMIN_URL)
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL}: {error}", pytrace=False)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = (
        sa.engine.make_url(POSTGRES_ADMIN_URL)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )
    yield url
    get_engine(url).dispose()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let outbound HTTP reach the tests' own servers on 127.0.0.1."""
    monkeypatch.setenv("WORKFUSE_EGRESS_ALLOW", "127.0.0.1/32")
    get_settings.cache_clear()


TEST_REDIS_URL = os.environ.get("WORKFUSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def engine(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Running workers for the engine: the embedded default (in-process broker, worker
    threads) with SQLite, Dramatiq's Redis broker (a real Redis) with PostgreSQL, under
    a namespace of this test's own, so test runs in parallel never share a queue.
    Yields ``"embedded"`` or ``"redis"``."""
    import dramatiq
    import redis as redis_lib

    from workfuse.engine import broker

    kind = "embedded" if database_url.startswith("sqlite") else "redis"
    namespace = f"workfuse-test-{secrets.token_hex(4)}"
    if kind == "redis":
        client = redis_lib.Redis.from_url(TEST_REDIS_URL)
        try:
            client.ping()
        except redis_lib.RedisError as error:
            pytest.fail(f"Redis is unreachable at {TEST_REDIS_URL}: {error}", pytrace=False)
        monkeypatch.setenv("WORKFUSE_REDIS_URL", TEST_REDIS_URL)
        monkeypatch.setenv("WORKFUSE_BROKER_NAMESPACE", namespace)
        get_settings.cache_clear()
    broker.reset_engine()
    worker = dramatiq.Worker(broker.get_engine().broker, worker_threads=4, worker_timeout=100)
    worker.start()
    yield kind
    worker.stop()
    broker.reset_engine()
    if kind == "redis":
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)


@pytest.fixture
def sample_node() -> Iterator[NodeSpec]:
    """The node type of ``tests/support/sample_node.py`` ("Sign text"), registered in
    the application's registry by importing its module, as the app does for
    ``WORKFUSE_NODE_MODULES``; forgotten again afterwards."""
    name = "tests.support.sample_node"
    module = importlib.import_module(name)
    try:
        yield module.SPEC
    finally:
        REGISTRY.unregister(module.SPEC.type)
        sys.modules.pop(name, None)
