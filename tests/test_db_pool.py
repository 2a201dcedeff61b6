"""The database pool is sized by the settings, on PostgreSQL and a SQLite file alike,
and a used-up pool is ``sqlalchemy.exc.TimeoutError`` after the pool timeout."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest
import sqlalchemy as sa

from workfuse.db import get_engine
from workfuse.settings import SettingsError, get_settings


def test_the_pool_is_sized_by_the_settings(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKFUSE_DB_POOL_SIZE", "3")
    monkeypatch.setenv("WORKFUSE_DB_MAX_OVERFLOW", "2")
    monkeypatch.setenv("WORKFUSE_DB_POOL_TIMEOUT", "0.3")
    get_settings.cache_clear()

    engine = get_engine()
    pool = engine.pool
    try:
        assert isinstance(pool, sa.pool.QueuePool)
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 0.3)
        # Every connection taken: the next caller waits the pool timeout, then gives up
        with ExitStack() as held:
            for _ in range(5):
                held.enter_context(engine.connect())
            started = time.monotonic()
            with pytest.raises(sa.exc.TimeoutError):
                engine.connect()
            assert 0.25 < time.monotonic() - started < 5
    finally:
        engine.dispose()


def test_the_defaults(database_url: str) -> None:
    pool = get_engine().pool
    assert isinstance(pool, sa.pool.QueuePool)
    assert (pool.size(), pool._max_overflow, pool._timeout) == (10, 20, 10.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKFUSE_DB_POOL_SIZE", "0"),
        ("WORKFUSE_DB_MAX_OVERFLOW", "-1"),
        ("WORKFUSE_DB_POOL_TIMEOUT", "0"),
        ("WORKFUSE_DB_POOL_SIZE", "many"),
    ],
)
def test_a_pool_setting_out_of_range_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match=name):
        get_settings()
