"""Engine and session helpers: one engine per URL, commit/rollback, SQLite pragmas."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

import workfuse.db
from workfuse.db import alembic_config, get_engine, session_scope
from workfuse.models import User


def test_engine_is_created_once_per_url(tmp_path: Path) -> None:
    # Given: a SQLite URL
    url = f"sqlite:///{tmp_path / 'one.db'}"

    # When: the engine is asked for twice
    first, second = get_engine(url), get_engine(url)

    # Then: it is the same engine (one pool per process)
    assert first is second


def test_default_engine_uses_the_embedded_sqlite_file(tmp_path: Path) -> None:
    # Given: no database setting
    # When: the default engine connects
    with get_engine().connect() as connection:
        connection.execute(sa.text("SELECT 1"))

    # Then: the SQLite file is created in ./data
    assert (tmp_path / "data" / "workfuse.db").exists()


def test_sqlite_engine_creates_missing_directories(tmp_path: Path) -> None:
    # Given: a SQLite path in directories that do not exist yet
    path = tmp_path / "a" / "b" / "workfuse.db"

    # When: the engine connects
    with get_engine(f"sqlite:///{path}").connect() as connection:
        connection.execute(sa.text("SELECT 1"))

    # Then: the directories and file exist
    assert path.exists()


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path: Path) -> None:
    # Given: a SQLite engine
    engine = get_engine(f"sqlite:///{tmp_path / 'fk.db'}")

    # When: a connection reads its pragmas
    with engine.connect() as connection:
        foreign_keys = connection.execute(sa.text("PRAGMA foreign_keys")).scalar()
        journal = connection.execute(sa.text("PRAGMA journal_mode")).scalar()

    # Then: cascades will work as on PostgreSQL and readers do not block the writer
    assert foreign_keys == 1
    assert journal == "wal"


def test_session_scope_commits_on_success(database_url: str) -> None:
    # Given / When: a user is added inside a session scope that ends normally
    with session_scope(database_url) as session:
        session.add(User(email="kept@example.com"))

    # Then: another session sees it
    with Session(get_engine(database_url)) as other:
        assert other.exec(select(User.email)).all() == ["kept@example.com"]


def test_session_scope_rolls_back_on_error(database_url: str) -> None:
    # Given / When: the block fails after adding and flushing a user
    with pytest.raises(RuntimeError), session_scope(database_url) as session:
        session.add(User(email="lost@example.com"))
        session.flush()
        raise RuntimeError("boom")

    # Then: nothing was written
    with Session(get_engine(database_url)) as other:
        assert other.exec(select(User)).all() == []


def test_session_scope_objects_stay_usable_after_commit(database_url: str) -> None:
    # Given: a user created in a scope that has committed
    with session_scope(database_url) as session:
        user = User(email="after@example.com")
        session.add(user)

    # When / Then: its attributes are readable without a session (no expiry on commit)
    assert user.email == "after@example.com"
    assert user.id


def _backend_pid(url: str) -> int:
    with get_engine(url).connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _count_pings(url: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    dialect = get_engine(url).dialect
    pings: list[int] = []
    real_ping = dialect.do_ping

    def counting_ping(dbapi_connection: object) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    return pings


@pytest.mark.postgres
def test_a_busy_postgres_connection_is_not_pinged_before_each_transaction(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a pooled connection just used
    pid = _backend_pid(postgres_url)
    pings = _count_pings(postgres_url, monkeypatch)

    # When: transactions follow each other at once
    pids = {_backend_pid(postgres_url) for _ in range(20)}

    # Then: the same connection serves them, without a ping round trip each
    assert pids == {pid}
    assert pings == []


@pytest.mark.postgres
def test_a_postgres_connection_killed_while_idle_is_replaced_without_an_error(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: the engine's one pooled connection, idle long enough to be pinged
    get_engine(postgres_url).dispose()
    dead = _backend_pid(postgres_url)
    monkeypatch.setattr(workfuse.db, "PING_IDLE_AFTER_S", 0.0)
    pings = _count_pings(postgres_url, monkeypatch)

    # When: the server ends it while it sits in the pool
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (dead,))

    # Then: the next transaction pings it, finds it dead and runs on a new connection
    assert _backend_pid(postgres_url) != dead
    assert pings == [1]


def test_alembic_config_keeps_percent_encoded_passwords() -> None:
    # Given: a URL whose password is percent-encoded
    url = "postgresql+psycopg://workfuse:p%40ss%25word@db.example.com/workfuse"

    # When: Alembic's config is built for it
    config = alembic_config(url)

    # Then: Alembic reads back exactly that URL (its interpolation does not choke on %)
    assert config.get_main_option("sqlalchemy.url") == url


def test_a_database_error_never_quotes_the_statements_parameters(database_url: str) -> None:
    """A logged database error must not carry what was bound: webhook tokens, session
    hashes, trigger payloads."""
    # When: statements with a secret parameter fail (missing table; duplicate key)
    token = "hook-token-canary-5f2e"
    query = sa.text("SELECT * FROM no_such_table WHERE t = :t")
    with pytest.raises(sa.exc.DBAPIError) as missing, get_engine(database_url).connect() as db:
        db.execute(query, {"t": token})
    with pytest.raises(sa.exc.IntegrityError) as duplicate, session_scope(database_url) as session:
        for _ in range(2):
            session.add(User(email="same@example.com", name=token))
            session.flush()

    # Then: neither error's text holds the value
    for caught in (missing, duplicate):
        assert token not in str(caught.value)
