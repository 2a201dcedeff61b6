"""Knowing that no other process runs the in-process workers of a SQLite database.

With the in-process broker (the embedded default) the messages live in the app's
memory. When the app starts again, an execution its last run left RUNNING may only be
taken over once its runner has been silent for ``STALE_AFTER_S``: that runner might
belong to an app still shutting down. An app that holds this lock knows better. Every
app with in-process workers tries to take an exclusive ``flock`` on a file beside the
SQLite database and keeps it for its whole life; the operating system releases it when
the process ends, however it ends (SIGKILL included). So an app that gets it knows that
every earlier app on this database has exited, and their runs can be resumed at once.

Limits: SQLite only (a PostgreSQL database may be shared by apps on other machines,
which no local lock sees); POSIX only (``fcntl``; elsewhere the lock is never taken).
An app that starts while another one still runs on the same file does not get it, and
keeps the ``STALE_AFTER_S`` rule. A child process forked after the lock was taken
inherits it and holds it until it exits too.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlalchemy as sa

LOCK_SUFFIX = ".runners.lock"  #: the lock file is the database file's path plus this

_held: dict[Path, int] = {}  #: lock file -> the open descriptor that holds it
_guard = threading.Lock()


def hold_runner_lock(database_url: str) -> bool:
    """Take (or keep) this process's lock on the SQLite database at ``database_url``;
    False when another process holds it, or for a database that is not a SQLite file."""
    try:
        import fcntl
    except ImportError:  # not POSIX
        return False
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    path = Path(f"{url.database}{LOCK_SUFFIX}").resolve()
    with _guard:
        if path in _held:
            return True
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another process holds it
            os.close(descriptor)
            return False
        _held[path] = descriptor
        return True
