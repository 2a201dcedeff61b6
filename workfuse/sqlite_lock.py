"""One writer at a time per SQLite file inside this process, without SQLite's sleeps.

SQLite lets one connection write at a time. A connection that finds the file locked
runs SQLite's busy handler, which *sleeps* between tries (1 ms at first, then up to
100 ms each): under load an unlucky writer sleeps through many free moments and
waits a second. In the embedded setup every writer (webhook requests, worker threads,
the reconciler) is in one process, so they can queue on a lock instead and start the
moment the previous writer commits.

:class:`SerializedWritesConnection` is a ``sqlite3.Connection`` (pass it as
``factory``) that takes its file's process-wide lock before the first statement that
may write, and gives it back after the transaction ends (commit, rollback, close, or
right away when the statement ran outside a transaction). Reads never take it (WAL
readers do not block). Other processes still meet SQLite's own lock and busy handler.

Limit: a thread that writes through one connection and then through a second one
before ending the first transaction waits on itself; after ``timeout`` seconds the
second write fails with ``sqlite3.OperationalError("database is locked")``, as it
would without this lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Self

_READ_ONLY_PREFIXES = ("SELECT", "PRAGMA", "EXPLAIN")

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(database: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(database, threading.Lock())


def may_write(statement: str) -> bool:
    """False only for statements that cannot write (``SELECT``, ``PRAGMA``, ``EXPLAIN``;
    a ``WITH`` counts as a write, since it may end in one)."""
    return not statement.lstrip()[:7].upper().startswith(_READ_ONLY_PREFIXES)


class SerializedWritesConnection(sqlite3.Connection):
    """A connection whose writers queue on a lock shared by every connection of this
    process to the same file (``timeout``: seconds to wait, as for SQLite's lock)."""

    def __init__(self, database: Any, timeout: float = 5.0, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, timeout, *args, **kwargs)
        self._write_lock = _lock_for(str(database))
        self._wait_s = timeout
        self._holding = False

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or _SerializedWritesCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release_unless_in_transaction()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release_unless_in_transaction()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()

    def _acquire(self) -> None:
        if self._holding:
            return
        if not self._write_lock.acquire(timeout=self._wait_s):
            raise sqlite3.OperationalError("database is locked")
        self._holding = True

    def _release_unless_in_transaction(self) -> None:
        try:
            busy = self.in_transaction
        except sqlite3.ProgrammingError:  # closed
            busy = False
        if not busy:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._write_lock.release()


class _SerializedWritesCursor(sqlite3.Cursor):
    connection: SerializedWritesConnection

    def execute(self, sql: str, parameters: Any = (), /) -> Self:
        with self._write_turn(sql):
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> Self:
        with self._write_turn(sql):
            return super().executemany(sql, parameters)

    @contextmanager
    def _write_turn(self, sql: str) -> Iterator[None]:
        """Hold the file's write lock around a statement that may write."""
        if not may_write(sql):
            yield
            return
        connection = self.connection
        connection._acquire()
        try:
            yield
        finally:
            connection._release_unless_in_transaction()
