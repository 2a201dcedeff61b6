"""Live execution events: the seed's ``ExecutionUpdate``, published on every transition.

Two buses with one interface: Redis pub/sub (``workfuse:execution:<id>``) when
``WORKFUSE_REDIS_URL`` is set, so updates from worker processes on any machine reach
every app process; otherwise an in-process bus (the embedded default, where workers
are threads of the app). Publishing never fails the execution: a lost event is
logged, and a subscriber rebuilds the state from the database anyway.

Limits: pub/sub is fire-and-forget; a subscriber sees only what is published after it
subscribed (read the state from the database first, then follow).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

import redis
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from workfuse.db_types import utcnow
from workfuse.redis_clients import SUBSCRIBE_TIMEOUT_S, command_client, subscriber_client
from workfuse.settings import get_settings

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "workfuse:execution:"
SUBSCRIBER_QUEUE_SIZE = 10_000  #: updates buffered per subscriber before dropping
PUBLISH_QUEUE_SIZE = 100_000  #: updates waiting to be sent to Redis before dropping
PUBLISH_BATCH = 500  #: updates sent in one pipeline


class UpdateType(StrEnum):
    STARTED = "started"
    NODE_STARTED = "node_started"
    NODE_COMPLETED = "node_completed"
    NODE_FAILED = "node_failed"
    NODE_SKIPPED = "node_skipped"
    RETRYING = "retrying"
    TOKEN = "token"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: Updates after which nothing more comes for the execution.
FINAL_TYPES = frozenset({UpdateType.COMPLETED, UpdateType.FAILED, UpdateType.CANCELLED})


class ExecutionUpdate(BaseModel):
    """One event of an execution. The JSON names are camelCase, as an ``ApiSchema``'s
    (``executionId``, ``nodeId``); it is a plain pydantic model rather than an
    ``ApiSchema`` (a SQLModel), which takes twice as long to build, and a run builds
    two per node."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    execution_id: str
    type: UpdateType
    node_id: str | None = None
    data: Any = None
    timestamp: datetime = Field(default_factory=utcnow)


class EventBus(Protocol):
    def publish(self, update: ExecutionUpdate) -> None: ...

    def subscribe(
        self, execution_id: str
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[ExecutionUpdate]]:
        """``async with bus.subscribe(id) as updates:``; the subscription is in place
        when the block starts, so reading the database there and then iterating
        ``updates`` misses nothing."""
        ...


class InProcessBus:
    """Subscribers are asyncio queues; publishers may be any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[
            str, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[ExecutionUpdate]]]
        ] = {}

    def publish(self, update: ExecutionUpdate) -> None:
        with self._lock:
            targets = list(self._subscribers.get(update.execution_id, ()))
        for loop, inbox in targets:
            with contextlib.suppress(RuntimeError):  # the subscriber's loop has closed
                loop.call_soon_threadsafe(_offer, inbox, update)

    @contextlib.asynccontextmanager
    async def subscribe(self, execution_id: str) -> AsyncIterator[AsyncIterator[ExecutionUpdate]]:
        inbox: asyncio.Queue[ExecutionUpdate] = asyncio.Queue(SUBSCRIBER_QUEUE_SIZE)
        entry = (asyncio.get_running_loop(), inbox)
        with self._lock:
            self._subscribers.setdefault(execution_id, set()).add(entry)

        async def updates() -> AsyncIterator[ExecutionUpdate]:
            while True:
                yield await inbox.get()

        try:
            yield updates()
        finally:
            with self._lock:
                subscribers = self._subscribers.get(execution_id, set())
                subscribers.discard(entry)
                if not subscribers:
                    self._subscribers.pop(execution_id, None)


def _offer(queue: asyncio.Queue[ExecutionUpdate], update: ExecutionUpdate) -> None:
    try:
        queue.put_nowait(update)
    except asyncio.QueueFull:
        log.warning("event subscriber too slow; dropped an update of %s", update.execution_id)


class RedisBus:
    """Redis pub/sub: every process publishes and subscribes through the server.

    ``publish`` only queues the update; one background thread per process sends the
    queue in order, pipelined, so a node does not wait for a network round trip per
    event. At most :data:`PUBLISH_QUEUE_SIZE` updates wait; beyond that they are
    dropped (logged) rather than slowing executions down.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._client = command_client(url)
        self._queue: queue.SimpleQueue[ExecutionUpdate] = queue.SimpleQueue()
        self._sender = threading.Thread(target=self._send_forever, daemon=True, name="events")
        self._sender.start()

    def publish(self, update: ExecutionUpdate) -> None:
        if self._queue.qsize() >= PUBLISH_QUEUE_SIZE:
            log.warning("event queue full; dropped an update of %s", update.execution_id)
            return
        self._queue.put(update)

    def _send_forever(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < PUBLISH_BATCH and not self._queue.empty():
                batch.append(self._queue.get())
            try:
                with self._client.pipeline(transaction=False) as pipe:
                    for update in batch:
                        pipe.publish(
                            CHANNEL_PREFIX + update.execution_id,
                            update.model_dump_json(by_alias=True),
                        )
                    pipe.execute()
            except redis.RedisError as error:
                log.warning("could not publish %d execution updates: %s", len(batch), error)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until the queued updates are sent (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.005)

    @contextlib.asynccontextmanager
    async def subscribe(self, execution_id: str) -> AsyncIterator[AsyncIterator[ExecutionUpdate]]:
        client = subscriber_client(self._url)
        pubsub = client.pubsub()
        try:
            try:
                async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
                    await pubsub.subscribe(CHANNEL_PREFIX + execution_id)
                    # Wait for the server's confirmation: from then on nothing is missed.
                    while (await pubsub.get_message(timeout=1.0)) is None:
                        pass
            except TimeoutError:
                raise redis.TimeoutError("Redis did not confirm the subscription") from None

            async def updates() -> AsyncIterator[ExecutionUpdate]:
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        yield ExecutionUpdate.model_validate(json.loads(message["data"]))

            yield updates()
        finally:
            await pubsub.aclose()  # type: ignore[no-untyped-call]
            await client.aclose()


@lru_cache(maxsize=4)
def _bus_for(redis_url: str | None) -> EventBus:
    return RedisBus(redis_url) if redis_url else InProcessBus()


def get_event_bus() -> EventBus:
    """The bus of the configured deployment (one per process)."""
    return _bus_for(get_settings().redis_url)
