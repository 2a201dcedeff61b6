"""Database engine, sessions and migrations.

One engine per database URL per process; its errors never quote the statement's
parameters (webhook tokens, hashes, payloads), so a logged database error holds none.
SQLite gets foreign keys switched on (so cascades work as on PostgreSQL), WAL
journaling and a busy timeout, so the app and the in-process workers can share the
file; inside one process its writers queue on a lock instead of SQLite's sleeping
busy handler (:mod:`workfuse.sqlite_lock`).

PostgreSQL connections are pooled (most recently used first) and pinged on checkout
only when they sat idle in the pool for :data:`PING_IDLE_AFTER_S` or longer: a busy
engine runs back-to-back transactions, and a ping before each one was a round trip
of its own (about 0.1 ms, a quarter of a short transaction). Limit: a connection
used less than that before the database restarted fails once; that error (a 503 from
the API, a retried message in a worker) makes the pool replace every connection
opened before it.

Pools (PostgreSQL and a SQLite file alike) are sized by the settings
``WORKFUSE_DB_POOL_SIZE``, ``WORKFUSE_DB_MAX_OVERFLOW`` and ``WORKFUSE_DB_POOL_TIMEOUT``
(see :class:`Pool`). A caller that finds every connection taken waits up to the pool
timeout, then gets ``sqlalchemy.exc.TimeoutError`` (503 from the API). Rule for
callers: never wait for a second connection while holding one (end a session's read
transaction first): under load, threads that each hold one and wait for another use up
the pool and wait on each other until they time out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from workfuse.settings import get_settings
from workfuse.sqlite_lock import SerializedWritesConnection

SQLITE_BUSY_TIMEOUT = 30  #: seconds a SQLite writer waits for the lock
ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"
PING_IDLE_AFTER_S = 1.0  #: seconds in the pool after which a connection is pinged on checkout
_IDLE_SINCE = "workfuse_idle_since"  #: key in a pooled connection's info


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine(url: str | None = None) -> sa.Engine:
    """The engine for ``url`` (default: the configured database), created once per URL
    (and pool settings: ``WORKFUSE_DB_POOL_SIZE``, ``_MAX_OVERFLOW``, ``_POOL_TIMEOUT``)."""
    settings = get_settings()
    pool = Pool(settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout)
    return _engine_for(url or settings.resolved_database_url, pool)


@dataclass(frozen=True)
class Pool:
    """A connection pool's size: connections kept, extra ones allowed under load, and
    seconds a caller waits for one before ``sqlalchemy.exc.TimeoutError`` (which the
    API answers with 503 and ``Retry-After``)."""

    size: int
    max_overflow: int
    timeout: float

    def options(self) -> dict[str, Any]:
        return {
            "pool_size": self.size,
            "max_overflow": self.max_overflow,
            "pool_timeout": self.timeout,
        }


@lru_cache(maxsize=8)
def _engine_for(url: str, pool: Pool) -> sa.Engine:
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        if database and database != ":memory:":
            connect_args["factory"] = SerializedWritesConnection
        # A file database gets the same queue pool as PostgreSQL (":memory:" keeps
        # SQLAlchemy's one connection per thread).
        options = pool.options() if database and database != ":memory:" else {}
        engine = sa.create_engine(url, connect_args=connect_args, hide_parameters=True, **options)
        sa.event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    engine = sa.create_engine(url, pool_use_lifo=True, hide_parameters=True, **pool.options())
    sa.event.listen(engine, "checkin", _note_idle)
    sa.event.listen(engine, "checkout", _idle_pinger(engine.dialect))
    return engine


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _idle_pinger(dialect: sa.Dialect) -> Callable[[Any, Any, Any], None]:
    """The checkout hook: ping a connection that sat in the pool
    :data:`PING_IDLE_AFTER_S` or longer (a new one is not pinged); a dead one makes the
    pool replace it and every connection opened before it."""

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_AFTER_S:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise sa.exc.InvalidatePoolError(f"connection lost while idle: {error}") from error

    return ping_if_idle


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def statement_scope(url: str | None = None) -> Iterator[sa.Connection]:
    """A connection for work that is atomic statement by statement (one statement
    that writes, or reads): autocommit on PostgreSQL, so no ``BEGIN``/``COMMIT``
    round trips; one transaction around the block on SQLite, whose commits cost no
    round trip. Not for several writes that must land together on PostgreSQL."""
    engine = get_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            yield connection
    else:
        with engine.begin() as connection:
            yield connection


def alembic_config(url: str | None = None) -> Any:
    """Alembic's config for this package's migrations, bound to ``url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    # Alembic's config interpolates "%", so a percent-encoded password must be escaped.
    url = url or get_settings().resolved_database_url
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str | None = None, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` (creates the SQLite file if needed)."""
    from alembic import command

    get_engine(url)  # creates the data directory for SQLite
    command.upgrade(alembic_config(url), revision)


def downgrade_database(url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
