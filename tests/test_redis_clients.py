"""A Redis that accepts connections and never answers fails WorkFuse's calls in bounded
time: commands after the command timeout, a subscription after its confirmation wait."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from workfuse.engine import events
from workfuse.engine.events import RedisBus
from workfuse.redis_clients import REDIS_TIMEOUT_S, command_client


@pytest.fixture
def hung_redis() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections, reads, and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        server.close()


def test_a_command_gives_up_after_the_timeout(hung_redis: str) -> None:
    began = time.monotonic()
    with pytest.raises(redis.TimeoutError):
        command_client(hung_redis).ping()
    assert time.monotonic() - began < REDIS_TIMEOUT_S + 3


def test_a_subscription_gives_up_when_redis_never_confirms_it(
    hung_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "SUBSCRIBE_TIMEOUT_S", 1.0)

    async def subscribe() -> None:
        async with RedisBus(hung_redis).subscribe("c0000000000000000000000000"):
            pytest.fail("subscribed to a Redis that never answered")

    began = time.monotonic()
    with pytest.raises(redis.TimeoutError, match="did not confirm"):
        asyncio.run(asyncio.wait_for(subscribe(), 30))
    assert time.monotonic() - began < 10
