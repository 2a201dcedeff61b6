"""The canary search: one credential's value, used for real by an HTTP node and an AI
node in runs started by a webhook call and through the API, must be nowhere a person,
a log or another process could see it.

Searched, on both setups (SQLite + embedded workers; PostgreSQL + Redis + worker
threads on Dramatiq's Redis broker): every API response body, every log record at
DEBUG, every row of every table in the database, every Dramatiq message enqueued (its
encoded bytes), every live update published and every one a follower received, and on
the Redis setup every command sent to Redis (``MONITOR``) and every key left in the
broker's namespace; on SQLite the database files and the data directory, byte for byte.

The services called echo the credential back (the HTTP server its Authorization header,
the model its API key), so the search cannot pass by the value never coming back: the
stored outputs must show ``[REDACTED]`` where it came back, and the servers must have
received the real value.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dramatiq
import httpx
import pytest
import redis
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.api.conftest import serve as serve_api
from tests.api.conftest import signed_up
from tests.conftest import TEST_REDIS_URL
from tests.support.canary import (
    BEARER_REDACTED,
    CANARY,
    Echo,
    assert_canary_was_sent,
    assert_clean,
    assert_redacted_outputs,
    canary_graph,
    refusing_graph,
    routes,
)
from tests.support.local_server import LocalServer
from tests.support.local_server import serve as serve_local
from workfuse.api.app import create_api
from workfuse.db import get_engine
from workfuse.engine import broker
from workfuse.engine.events import FINAL_TYPES, ExecutionUpdate, get_event_bus
from workfuse.logs import configure_logging
from workfuse.models import User
from workfuse.services.executions import follow_execution
from workfuse.settings import get_settings

WAIT_S = 30.0  #: seconds a run, a handshake or a follower may take
EMAIL = "ada@example.com"


@pytest.fixture
def services(allow_loopback: None) -> Iterator[tuple[LocalServer, Echo]]:
    echo = Echo()
    with serve_local(routes(echo)) as server:
        yield server, echo


# --- what the test records ------------------------------------------------------------------


class MessageRecorder(dramatiq.Middleware):
    """Every Dramatiq message enqueued on the broker, as the bytes the broker sends."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        self.bodies.append(message.encode())


@contextlib.contextmanager
def redis_commands() -> Iterator[list[str]]:
    """Every command any client sends to the test Redis while the block runs (MONITOR;
    other tests' commands too, which cannot carry this run's random canary)."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    sentinel = f"canary-monitor-stop-{secrets.token_hex(4)}"
    commands: list[str] = []
    ready = threading.Event()

    def read() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if sentinel in command["command"]:
                    return
                commands.append(command["command"])

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert ready.wait(5), "MONITOR did not start"
    try:
        yield commands
    finally:
        redis.Redis.from_url(TEST_REDIS_URL).echo(sentinel)
        reader.join(timeout=10)
        client.close()


#: How to read a Redis key of each type.
REDIS_READERS: dict[str, Callable[[redis.Redis, bytes], Any]] = {
    "string": lambda client, key: client.get(key),
    "hash": lambda client, key: client.hgetall(key),
    "list": lambda client, key: client.lrange(key, 0, -1),
    "set": lambda client, key: client.smembers(key),
    "zset": lambda client, key: client.zrange(key, 0, -1, withscores=True),
}


def redis_namespace_contents(namespace: str) -> list[str]:
    """Every key of the broker's namespace and its value, whatever its type."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    found = []
    for key in client.scan_iter(f"{namespace}*"):
        kind = client.type(key).decode()
        value = REDIS_READERS[kind](client, key) if kind in REDIS_READERS else kind
        found.append(f"{key!r} {value!r}")
    client.close()
    return found


def database_rows(database_url: str) -> Iterator[tuple[str, str]]:
    """(table, row) for every row of every table the database has (not only the models')."""
    with get_engine(database_url).connect() as connection:
        for name in sa.inspect(connection).get_table_names():
            for row in connection.execute(sa.select(sa.text("*")).select_from(sa.table(name))):
                yield name, repr(tuple(row))


def files_under(*paths: Path) -> Iterator[Path]:
    for path in paths:
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (child for child in path.rglob("*") if child.is_file())


def bytes_of(path: Path) -> bytes:
    """The file's bytes, read by another process.

    Never open a SQLite file in the process that has it open: closing that descriptor
    drops every POSIX lock the process holds on the file (SQLite's documented way to
    corrupt a database), and later tests would find "database disk image is malformed".
    """
    return subprocess.run(["cat", str(path)], capture_output=True, check=True).stdout


def wait_ended(client: httpx.Client, execution_id: str) -> Any:
    """The execution's detail once it has ended (polling the API)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        detail = client.get(f"/api/executions/{execution_id}").json()
        if detail["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
            return detail
        assert time.monotonic() < deadline, f"execution still {detail['status']}"
        time.sleep(0.05)


async def _follow(user: User, execution_id: str, subscribed: threading.Event) -> list[str]:
    """What a live follower (the UI's path) gets: the snapshot, then every update."""
    seen: list[str] = []
    async with follow_execution(user=user, execution_id=execution_id) as (snapshot, updates):
        seen.append(snapshot.execution.model_dump_json())
        seen += [run.model_dump_json() for run in snapshot.nodes.values()]
        subscribed.set()
        async with asyncio.timeout(WAIT_S):
            async for update in updates:
                seen.append(update.model_dump_json(by_alias=True))
                if update.type in FINAL_TYPES:
                    break
    return seen


@pytest.fixture(scope="module")
def api_url() -> Iterator[str]:
    with serve_api(create_api()) as url:
        yield url


# --- the test -------------------------------------------------------------------------------


def test_a_credential_used_by_http_and_ai_nodes_leaks_nowhere(
    engine: str,
    database_url: str,
    api_url: str,
    services: tuple[LocalServer, Echo],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, echo = services
    responses: list[httpx.Response] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        responses.append(response)

    # Given: logging as the app configures it, at DEBUG; recorders on the broker's
    # messages and the event bus; on Redis, every command sent to it
    monkeypatch.setenv("WORKFUSE_LOG_LEVEL", "DEBUG")
    get_settings.cache_clear()
    configure_logging()
    messages = MessageRecorder()
    broker.get_engine().broker.add_middleware(messages)
    bus = get_event_bus()
    published: list[str] = []
    publish = bus.publish

    def record(update: ExecutionUpdate) -> None:
        published.append(update.model_dump_json(by_alias=True))
        publish(update)

    monkeypatch.setattr(bus, "publish", record)
    followed: list[str] = []
    ada = signed_up(api_url, EMAIL)
    ada.event_hooks["response"] = [keep]
    caller = httpx.Client(base_url=api_url, timeout=WAIT_S, event_hooks={"response": [keep]})
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        user = session.exec(select(User).where(User.email == EMAIL)).one()

    def run_followed(start: Callable[[], httpx.Response]) -> httpx.Response:
        """Start a run, follow it from before its HTTP node answers, until it ends."""
        with ThreadPoolExecutor(2) as pool:
            started = pool.submit(start)
            execution_id = echo.arrivals.get(timeout=WAIT_S)
            subscribed = threading.Event()
            following = pool.submit(asyncio.run, _follow(user, execution_id, subscribed))
            assert subscribed.wait(WAIT_S), "the follower did not subscribe"
            echo.release.put(None)
            followed.extend(following.result(timeout=WAIT_S))
            return started.result(timeout=WAIT_S)

    with contextlib.ExitStack() as stack:
        commands = stack.enter_context(redis_commands()) if engine == "redis" else []
        stack.enter_context(caplog.at_level(logging.DEBUG))

        # When: the canary becomes a credential, a workflow uses it in an HTTP node and
        # an AI node, and runs once by its webhook (synchronous) and once through the API
        created = ada.post("/api/secrets", json={"name": "Canary", "value": CANARY})
        assert created.status_code == 201, created.text
        arn = created.json()["arn"]
        workflow = ada.post(
            "/api/workflows", json={"name": "Canary", "graph": canary_graph(server, arn)}
        )
        assert workflow.status_code == 201, workflow.text
        workflow_id, hook = workflow.json()["id"], workflow.json()["webhookUrl"]
        by_hook = run_followed(
            lambda: caller.post("/hooks/" + hook.rsplit("/", 1)[1], json={"order": "A-1"})
        )
        by_api = run_followed(
            lambda: ada.post(
                f"/api/workflows/{workflow_id}/executions", json={"payload": {"order": "B-2"}}
            )
        )
        assert by_hook.status_code == 200, by_hook.text
        assert by_api.status_code == 202, by_api.text
        execution_ids = [by_hook.json()["executionId"], by_api.json()["executionId"]]
        details = [ada.get(f"/api/executions/{i}").json() for i in execution_ids]

        # And: a second workflow whose services refuse, echoing it in their errors
        refusing = ada.post(
            "/api/workflows", json={"name": "Refused", "graph": refusing_graph(server, arn)}
        )
        assert refusing.status_code == 201, refusing.text
        refused = ada.post(f"/api/workflows/{refusing.json()['id']}/run", json={"payload": {}})
        assert refused.status_code == 202, refused.text
        failed = wait_ended(ada, refused.json()["executionId"])
        for path in ("", "/export", "/versions"):
            ada.get(f"/api/workflows/{workflow_id}{path}")
        ada.get("/api/executions", params={"workflowId": workflow_id})
        ada.get("/api/secrets")
        getattr(bus, "flush", lambda: None)()  # Redis: the queued updates are sent
    redis_keys = (
        redis_namespace_contents(get_settings().broker_namespace) if engine == "redis" else []
    )

    # Then: the credential was really used: both servers got the canary
    assert_canary_was_sent(server, runs=2)
    denied = [r.headers.get("authorization") for r in server.requests if r.path == "/deny"]
    assert denied == [f"Bearer {CANARY}"], denied

    # And: both runs completed; where a service echoed it back, the outputs say [REDACTED]
    for detail, order in zip(details, ("A-1", "B-2"), strict=True):
        assert detail["status"] == "COMPLETED", detail
        assert_redacted_outputs({run["nodeId"]: run["output"] for run in detail["nodes"]}, order)
    assert failed["status"] == "FAILED", failed
    errors = {run["nodeId"]: run["error"]["message"] for run in failed["nodes"] if run["error"]}
    assert set(errors) == {"deny", "refuse"}, failed
    assert "refused Bearer ***" in errors["deny"], errors
    assert f"invalid key {BEARER_REDACTED}" in errors["refuse"], errors
    assert by_hook.json()["output"]["response"].endswith(f"(key: {BEARER_REDACTED})")

    # And: the canary is in no response body
    assert responses, "no response was recorded"
    for response in responses:
        assert_clean(response.text, f"the response to {response.request.url}")

    # And: in no log record, rendered or in its fields
    assert caplog.records, "nothing was logged"
    assert any(r.levelno == logging.DEBUG for r in caplog.records), "no DEBUG record"
    assert_clean(caplog.text, "the log")
    for record in caplog.records:
        assert_clean(repr(vars(record)), f"the log record {record.name}:{record.lineno}")

    # And: in no database row
    tables = set()
    for table, row in database_rows(database_url):
        tables.add(table)
        assert_clean(row, f"a row of {table}")
    assert {"executions", "node_runs", "execution_logs", "secret_values"} <= tables, tables

    # And: in no Dramatiq message, live update, Redis command or Redis key
    assert len(messages.bodies) >= 2, "the runs' messages were not recorded"
    for body in messages.bodies:
        assert_clean(body, f"the Dramatiq message {body[:200]!r}")
    assert any(BEARER_REDACTED in update for update in published), published
    for update in published:
        assert_clean(update, f"the published update {update[:200]}")
    assert any('"type":"token"' in update for update in followed), followed
    assert any(BEARER_REDACTED in update for update in followed), followed
    for update in followed:
        assert_clean(update, f"the update a follower received {update[:200]}")
    if engine == "redis":
        assert any("EVALSHA" in c.upper() or "PUBLISH" in c.upper() for c in commands)
        for command in commands:
            assert_clean(command, f"the Redis command {command[:200]}")
        for entry in redis_keys:
            assert_clean(entry, f"the Redis key {entry[:200]}")
    else:
        # And: on disk, byte for byte: the SQLite files and the data directory
        database_file = Path(sa.engine.make_url(database_url).database or "")
        sqlite_files = [database_file.with_name(database_file.name + s) for s in ("", "-wal")]
        scanned = list(files_under(*sqlite_files, get_settings().data_dir))
        assert database_file in scanned, scanned
        for path in scanned:
            assert_clean(bytes_of(path), f"the file {path}")
