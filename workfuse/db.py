"""Database engine, sessions and migrations.

One engine per database URL per process. SQLite gets foreign keys switched on (so
cascades work as on PostgreSQL), WAL journaling and a busy timeout, so the app and
the in-process workers can share the file; inside one process its writers queue on a
lock instead of SQLite's sleeping busy handler (:mod:`workfuse.sqlite_lock`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from workfuse.settings import get_settings
from workfuse.sqlite_lock import SerializedWritesConnection

SQLITE_BUSY_TIMEOUT = 30  #: seconds a SQLite writer waits for the lock
ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def _enable_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine(url: str | None = None) -> sa.Engine:
    """The engine for ``url`` (default: the configured database), created once per URL."""
    return _engine_for(url or get_settings().resolved_database_url)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        if database and database != ":memory:":
            connect_args["factory"] = SerializedWritesConnection
        engine = sa.create_engine(url, connect_args=connect_args)
        sa.event.listen(engine, "connect", _enable_sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


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
