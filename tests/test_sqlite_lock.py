"""Writers of one SQLite file queue on a process-wide lock; readers never wait."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workfuse.sqlite_lock import SerializedWritesConnection, may_write


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "locked.db"
    with connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        setup.commit()
    yield path


def connect(path: Path, timeout: float = 5.0, **options: object) -> SerializedWritesConnection:
    connection = sqlite3.connect(
        path,
        timeout=timeout,
        factory=SerializedWritesConnection,
        check_same_thread=False,
        **options,  # type: ignore[arg-type]
    )
    assert isinstance(connection, SerializedWritesConnection)
    return connection


def rows(path: Path) -> list[int]:
    with sqlite3.connect(path) as reader:
        return [n for (n,) in reader.execute("SELECT n FROM t ORDER BY n")]


@pytest.mark.parametrize(
    ("statement", "writes"),
    [
        ("SELECT 1", False),
        ("  select * from t", False),
        ("PRAGMA foreign_keys=ON", False),
        ("EXPLAIN SELECT 1", False),
        ("INSERT INTO t VALUES (1)", True),
        ("update t set n = 2", True),
        ("DELETE FROM t", True),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", True),
        ("CREATE TABLE u (a)", True),
    ],
)
def test_which_statements_take_the_lock(statement: str, writes: bool) -> None:
    assert may_write(statement) is writes


def test_a_second_writer_waits_for_the_first_to_commit_and_readers_do_not(database: Path) -> None:
    # Given a writer in the middle of its transaction
    first, second, reader = connect(database), connect(database), connect(database)
    first.execute("INSERT INTO t VALUES (1)")
    second_done = threading.Event()

    def write_second() -> None:
        second.execute("INSERT INTO t VALUES (2)")
        second.commit()
        second_done.set()

    # When another connection writes, and a third one reads
    thread = threading.Thread(target=write_second)
    thread.start()
    seen = [n for (n,) in reader.execute("SELECT n FROM t")]

    # Then the reader is answered at once (without the open transaction's row)
    # and the second writer waits for the first one's commit, then goes on
    assert seen == []
    assert not second_done.wait(0.3)
    first.commit()
    assert second_done.wait(5)
    thread.join()
    assert rows(database) == [1, 2]


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_rollback_and_close_give_the_lock_back(database: Path, end: str) -> None:
    first = connect(database)
    first.execute("INSERT INTO t VALUES (1)")
    getattr(first, end)()

    second = connect(database, timeout=0.5)
    second.execute("INSERT INTO t VALUES (2)")
    second.commit()
    assert rows(database) == [2]


def test_a_failed_statement_keeps_the_lock_until_the_transaction_ends(database: Path) -> None:
    # Given a transaction whose second statement fails
    first = connect(database)
    first.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError):
        first.execute("INSERT INTO t VALUES (1)")

    # Then its transaction (and the lock) is still open until rolled back
    other = connect(database, timeout=0.2)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        other.execute("INSERT INTO t VALUES (3)")
    first.rollback()
    other.execute("INSERT INTO t VALUES (3)")
    other.commit()
    assert rows(database) == [3]


def test_autocommit_statements_hold_the_lock_only_while_they_run(database: Path) -> None:
    autocommit = connect(database, isolation_level=None)
    autocommit.execute("INSERT INTO t VALUES (1)")  # no transaction left open

    other = connect(database, timeout=0.2)
    other.executemany("INSERT INTO t VALUES (?)", [(2,), (3,)])
    other.commit()
    assert rows(database) == [1, 2, 3]


def test_one_thread_writing_through_two_connections_fails_like_sqlite_would(
    database: Path,
) -> None:
    # Given a thread with a write transaction open on one connection
    first = connect(database)
    first.execute("INSERT INTO t VALUES (1)")

    # When it writes through a second connection before ending the first transaction
    second = connect(database, timeout=0.2)
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        second.execute("INSERT INTO t VALUES (2)")

    # Then it gets SQLite's error after the timeout, and nothing is stuck afterwards
    first.commit()
    second.execute("INSERT INTO t VALUES (2)")
    second.commit()
    assert rows(database) == [1, 2]


def test_other_files_have_their_own_lock(database: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other.db"
    first = connect(database)
    first.execute("INSERT INTO t VALUES (1)")

    other = connect(elsewhere, timeout=0.2)
    other.execute("CREATE TABLE u (a)")
    other.commit()
    first.commit()
