"""Overload: a used-up database pool is a 503 with ``Retry-After``, never a 500, and a
webhook call's answer tells the truth about what was stored (a 503 stored nothing,
every 202's execution exists), on SQLite and PostgreSQL.

The pool is made small through the settings (``WORKFUSE_DB_POOL_*``); the API server
runs in this process, so the tests can also take every connection of its pool.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tests.api.test_webhooks import hook, path_of
from tests.fuzz.conftest import assert_error_format
from workfuse.db import get_engine
from workfuse.models import User, Workflow
from workfuse.secrets import process_secret_store
from workfuse.services.api_tokens import create_api_token
from workfuse.services.secrets import create_secret
from workfuse.services.webhooks import sign
from workfuse.settings import get_settings

BURST = 300  #: webhook calls in the burst, all sent at once
POOL_TIMEOUT_S = 0.5  #: seconds a call waits for a connection in these tests


def small_pool(
    monkeypatch: pytest.MonkeyPatch, size: int, overflow: int, timeout: float
) -> sa.Engine:
    """Switch the app (the in-process server reads the settings per request) to a pool
    of ``size`` + ``overflow`` connections; its engine."""
    monkeypatch.setenv("WORKFUSE_DB_POOL_SIZE", str(size))
    monkeypatch.setenv("WORKFUSE_DB_MAX_OVERFLOW", str(overflow))
    monkeypatch.setenv("WORKFUSE_DB_POOL_TIMEOUT", str(timeout))
    get_settings.cache_clear()
    return get_engine()


@contextmanager
def every_connection_taken(engine: sa.Engine) -> Iterator[None]:
    """Hold every connection the engine's pool may open (size + overflow)."""
    pool: Any = engine.pool
    with ExitStack() as held:
        for _ in range(pool.size() + pool._max_overflow):
            held.enter_context(engine.connect())
        yield


def observer(database_url: str) -> sa.Engine:
    """An engine of its own (no pool), to look at the database while the app's pool is
    used up."""
    return sa.create_engine(database_url, poolclass=sa.pool.NullPool)


def executions(database_url: str) -> dict[str, str | None]:
    """Every stored execution: id -> idempotency key."""
    watcher = observer(database_url)
    try:
        with watcher.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, idempotency_key FROM executions"))
            return {row[0]: row[1] for row in rows}
    finally:
        watcher.dispose()


@pytest.fixture
def idempotent_hook(session: Session, user: User) -> Workflow:
    """A webhook workflow that reads an idempotency key (so each call reads the
    database before it stores its execution)."""
    workflow = hook(session, user, {"idempotencyHeader": "Idempotency-Key"})
    session.close()
    return workflow


def busy(response: httpx.Response) -> None:
    """The overload answer: 503, ``Retry-After``, the API's error shape."""
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert_error_format(response)
    assert response.json()["error"]["code"] == "UNAVAILABLE"


def test_a_webhook_that_finds_every_connection_taken_gets_503_and_stores_nothing(
    api_url: str, database_url: str, idempotent_hook: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = small_pool(monkeypatch, size=2, overflow=0, timeout=POOL_TIMEOUT_S)
    with httpx.Client(base_url=api_url, timeout=30) as client:
        # Given: one call stored, then every connection of the app's pool taken
        first = client.post(path_of(idempotent_hook), json={}, headers={"Idempotency-Key": "a"})
        assert first.status_code == 202, first.text
        with every_connection_taken(engine):
            # When: another call comes in
            refused = client.post(
                path_of(idempotent_hook), json={}, headers={"Idempotency-Key": "b"}
            )
        # Then: 503 with Retry-After, and it stored nothing
        busy(refused)
        assert list(executions(database_url).values()) == ["a"]
        # And: once connections are free again, the same call is accepted
        again = client.post(path_of(idempotent_hook), json={}, headers={"Idempotency-Key": "b"})
        assert again.status_code == 202, again.text
    assert sorted(executions(database_url).values()) == ["a", "b"]
    engine.dispose()


def test_an_api_route_that_finds_every_connection_taken_gets_503(
    api_url: str, database_url: str, session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, bearer = create_api_token(session=session, user=user, name="overload")
    session.commit()
    session.close()
    engine = small_pool(monkeypatch, size=1, overflow=1, timeout=POOL_TIMEOUT_S)
    headers = {"Authorization": f"Bearer {bearer}"}
    with httpx.Client(base_url=api_url, timeout=30, headers=headers) as client:
        with every_connection_taken(engine):
            response = client.get("/api/workflows")
        busy(response)
        assert client.get("/api/workflows").status_code == 200
    engine.dispose()


def test_a_synchronous_webhook_whose_wait_finds_the_pool_used_up_is_still_accepted(
    api_url: str, database_url: str, session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a webhook that waits for its run's result (no worker runs it here)
    workflow = hook(session, user, {"syncTimeoutSeconds": 20})
    session.close()
    engine = small_pool(monkeypatch, size=2, overflow=0, timeout=POOL_TIMEOUT_S)
    answers: list[httpx.Response] = []

    def call() -> None:
        with httpx.Client(base_url=api_url, timeout=30) as client:
            answers.append(client.post(path_of(workflow), json={"n": 1}))

    caller = threading.Thread(target=call)
    caller.start()
    # When: its execution is stored, and then every connection is taken while it waits
    deadline = time.monotonic() + 10
    while not executions(database_url):
        assert time.monotonic() < deadline, "the call stored nothing"
        time.sleep(0.01)
    with every_connection_taken(engine):
        caller.join(timeout=15)
    # Then: it is answered 202 (stored, runs later), not 503 as if nothing had been
    assert answers and answers[0].status_code == 202, answers[0].text if answers else None
    assert list(executions(database_url)) == [answers[0].json()["executionId"]]
    engine.dispose()


def test_a_burst_over_a_small_pool_gets_202_or_503_never_500_and_each_202_is_stored(
    api_url: str, database_url: str, idempotent_hook: Workflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a pool far smaller than the server's threads (anyio's 40)
    engine = small_pool(monkeypatch, size=3, overflow=2, timeout=5)

    # When: BURST calls arrive at once, each with its own idempotency key
    answers = asyncio.run(_burst(api_url, path_of(idempotent_hook), BURST))

    # Then: each call waited for a connection (202) or was told to come back (503)
    statuses = Counter(response.status_code for _, response in answers)
    assert set(statuses) <= {202, 503}, statuses
    for _, response in answers:
        if response.status_code == 503:
            busy(response)
    # And: exactly the accepted calls are stored: every 202's execution (with its key),
    # nothing of a 503
    accepted = {
        response.json()["executionId"]: key
        for key, response in answers
        if response.status_code == 202
    }
    assert executions(database_url) == accepted
    assert statuses[202] > 0
    engine.dispose()


async def _burst(api_url: str, path: str, count: int) -> list[tuple[str, httpx.Response]]:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(base_url=api_url, timeout=60, limits=limits) as client:

        async def call(index: int) -> tuple[str, httpx.Response]:
            key = uuid.uuid4().hex
            response = await client.post(path, json={"n": index}, headers={"Idempotency-Key": key})
            return key, response

        return await asyncio.gather(*(call(index) for index in range(count)))


SIGNING_KEY = "whsec-overload-key-77a1"


@pytest.mark.parametrize("trigger", ["idempotency", "signature"])
def test_a_webhook_call_holds_one_connection_at_a_time(
    api_url: str,
    database_url: str,
    session: Session,
    user: User,
    monkeypatch: pytest.MonkeyPatch,
    trigger: str,
) -> None:
    """A call that read the database (its idempotency key, its signing credential)
    lets its connection go before it waits for another (the group commit's, the secret
    store's): a pool of one connection serves it. Holding on while waiting is what
    deadlocked a burst: every connection held by a call waiting for another one."""
    # Given: a webhook that reads the database before it stores the call
    if trigger == "idempotency":
        workflow = hook(session, user, {"idempotencyHeader": "Idempotency-Key"})
        headers = {"Idempotency-Key": "k-1"}
    else:
        secret = create_secret(
            session=session,
            store=process_secret_store(),
            user_id=user.id,
            name="signing",
            value=SIGNING_KEY,
        )
        session.commit()
        workflow = hook(session, user, {"hmac": {"secretArn": secret.arn}})
        headers = {"X-Signature-256": sign(SIGNING_KEY, b'{"n": 1}')}
    session.close()
    # And: a pool of exactly one connection
    engine = small_pool(monkeypatch, size=1, overflow=0, timeout=POOL_TIMEOUT_S)

    # When: a call comes in
    with httpx.Client(base_url=api_url, timeout=30) as client:
        response = client.post(
            path_of(workflow),
            content=b'{"n": 1}',
            headers={"Content-Type": "application/json", **headers},
        )

    # Then: it is stored
    assert response.status_code == 202, response.text
    assert list(executions(database_url)) == [response.json()["executionId"]]
    engine.dispose()
