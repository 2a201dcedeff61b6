"""The message broker and the one actor that runs executions.

``WORKFUSE_REDIS_URL`` set: Dramatiq's Redis broker; worker processes (``workfuse
worker``) on any machine consume the queue, and a message whose worker died is
redelivered (after Dramatiq's heartbeat timeout). Unset (the embedded default): the
in-process stub broker, consumed by worker threads inside the app process
(:func:`start_embedded_workers`); messages live in memory, so after a restart the
reconciler re-sends what was not finished.

Dramatiq's time limit is off (an execution waits for retries with delayed messages,
and each node has its own timeout); its retries cover only crashes of the engine
itself (a database outage, say), with backoff. Such a retry carries the lease of the
run that crashed (the message option :data:`LEASE_OPTION`), so it takes that run's
claim on the execution back at once instead of waiting
:data:`~workfuse.engine.state.STALE_AFTER_S` (45 s) as if another worker might still
be running it.

Every broker command gives up after :data:`~workfuse.redis_clients.REDIS_TIMEOUT_S`: a Redis that
hangs (accepts connections, never answers) makes :func:`enqueue` raise instead of
blocking its caller (a webhook call, say) for as long as the hang lasts.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, TimeLimit, default_middleware

from workfuse.engine.events import get_event_bus
from workfuse.redis_clients import command_client
from workfuse.settings import get_settings

log = logging.getLogger(__name__)

QUEUE = "workfuse-executions"
ACTOR = "run_execution"
ENGINE_MAX_RETRIES = 20  #: redeliveries after the engine itself crashed
ENGINE_MIN_BACKOFF_MS = 1_000  #: ms
ENGINE_MAX_BACKOFF_MS = 300_000  #: ms
DEFAULT_EMBEDDED_THREADS = 4
LEASE_OPTION = "workfuse_lease"  #: message option: the lease of the run that raised
MAINTENANCE_CHANCE = 50  #: one broker command in N runs Dramatiq's requeue of dead workers


@dataclass(frozen=True)
class Engine:
    broker: dramatiq.Broker
    actor: dramatiq.Actor[[str], None]


_engine: Engine | None = None
_engine_lock = threading.Lock()
_loops = threading.local()


def _thread_loop() -> asyncio.AbstractEventLoop:
    """One event loop per worker thread, kept for its life (so HTTP connections and
    other per-loop resources are reused across executions)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _loops.loop = asyncio.new_event_loop()
    return loop


def run_execution(execution_id: str) -> None:
    """The actor's body: take the execution as far as it goes. When the run raises,
    the lease it holds goes into the message's options before Dramatiq's retry
    re-sends the message, so the retry may take the claim back at once."""
    from workfuse.engine.runner import ExecutionRunner
    from workfuse.secrets import process_secret_store

    message = CurrentMessage.get_current_message()
    options = message.options if message is not None else {}
    runner = ExecutionRunner(
        execution_id,
        bus=get_event_bus(),
        store=process_secret_store(),
        schedule=enqueue,
        lease=options.get(LEASE_OPTION),
    )
    try:
        _thread_loop().run_until_complete(runner.run())
    except BaseException:
        if message is not None and runner.lease is not None:
            options[LEASE_OPTION] = runner.lease
        raise


def _middleware() -> list[Any]:
    kept = [middleware() for middleware in default_middleware if middleware is not TimeLimit]
    return [*kept, CurrentMessage()]


def get_engine() -> Engine:
    """The broker of the configured deployment and the actor declared on it (once)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            settings = get_settings()
            redis_url = settings.redis_url
            broker: dramatiq.Broker = (
                RedisBroker(  # type: ignore[no-untyped-call]
                    client=command_client(redis_url),
                    namespace=settings.broker_namespace,
                    middleware=_middleware(),
                    # A dead worker's messages come back at a maintenance pass after its
                    # heartbeat timeout; Dramatiq's default (1 command in 1,000) can take
                    # minutes on a quiet queue.
                    maintenance_chance=MAINTENANCE_CHANCE,
                )
                if redis_url
                else StubBroker(middleware=_middleware())
            )
            dramatiq.set_broker(broker)
            actor: dramatiq.Actor[[str], None] = dramatiq.actor(  # type: ignore[call-overload]
                run_execution,
                actor_name=ACTOR,
                queue_name=QUEUE,
                broker=broker,
                max_retries=ENGINE_MAX_RETRIES,
                min_backoff=ENGINE_MIN_BACKOFF_MS,
                max_backoff=ENGINE_MAX_BACKOFF_MS,
            )
            _engine = Engine(broker=broker, actor=actor)
        return _engine


def enqueue(execution_id: str, delay_ms: int | None = None, lease: str | None = None) -> None:
    """Send the execution's message (``delay_ms`` later; with ``lease``, the lease of a
    runner known to be gone, which the runner may take over at once). Raises if the
    broker is down or does not answer within :data:`~workfuse.redis_clients.REDIS_TIMEOUT_S`;
    the execution stays stored and the reconciler sends it again."""
    options: dict[str, Any] = {LEASE_OPTION: lease} if lease is not None else {}
    get_engine().actor.send_with_options(args=(execution_id,), delay=delay_ms or None, **options)


def send(execution_id: str, delay_ms: int | None = None, lease: str | None = None) -> bool:
    """:func:`enqueue`, but False (logged) if the broker refused: the execution stays
    stored, and the reconciler sends it later."""
    try:
        enqueue(execution_id, delay_ms, lease)
    except Exception as error:  # any broker failure: the execution is stored anyway
        log.warning("execution %s stored but not enqueued (%s)", execution_id, error)
        return False
    return True


def start_embedded_workers(threads: int = DEFAULT_EMBEDDED_THREADS) -> dramatiq.Worker | None:
    """Worker threads in this process for the in-process broker (``None`` with Redis)."""
    engine = get_engine()
    if not isinstance(engine.broker, StubBroker):
        return None
    worker = dramatiq.Worker(engine.broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    return worker


def reset_engine() -> None:
    """Forget the broker (tests switch between the in-process broker and Redis)."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.broker.close()
        _engine = None
