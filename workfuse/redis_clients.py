"""Redis clients with timeouts: how every part of WorkFuse connects to Redis.

A Redis that hangs (accepts connections, never answers) must not hang a webhook call,
a rate-limit check or an event publisher: their commands give up after
:data:`REDIS_TIMEOUT_S`. A subscription waits for messages as long as it lives, so
only its connection attempt and its confirmation are bounded.
"""

from __future__ import annotations

import redis
import redis.asyncio

REDIS_TIMEOUT_S = 2.0  #: seconds a command or a connection attempt may wait for Redis
SUBSCRIBE_TIMEOUT_S = 10.0  #: seconds a new subscription may wait for Redis to confirm it


def command_client(url: str) -> redis.Redis:
    """A client for commands (each one waits at most :data:`REDIS_TIMEOUT_S`)."""
    return redis.Redis.from_url(
        url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
    )


def subscriber_client(url: str) -> redis.asyncio.Redis:
    """An asyncio client for pub/sub (reads wait for messages without a limit)."""
    return redis.asyncio.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S)
