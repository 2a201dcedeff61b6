"""Fixed-window rate limits, the one place that counts attempts.

With ``WORKFUSE_REDIS_URL`` set the counters live in Redis, so every app process
shares them; otherwise they live in this process. A window starts at the first
attempt and lasts ``Limit.window`` seconds. If Redis does not answer, the limiter
falls back to in-process counters (logged) rather than refusing everyone.

Limits: fixed windows allow up to twice ``count`` attempts across a window boundary;
in-process counters are per process and lost on restart.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import redis

from workfuse.redis_clients import command_client
from workfuse.settings import get_settings

log = logging.getLogger(__name__)

KEY_PREFIX = "workfuse:ratelimit:"
MAX_MEMORY_KEYS = 100_000  #: in-process counters kept before expired ones are pruned


@dataclass(frozen=True)
class Limit:
    """At most ``count`` attempts per ``window`` seconds."""

    count: int
    window: int  #: seconds


class RateLimiter(Protocol):
    def hit(self, key: str, limit: Limit) -> int:
        """Count one attempt: 0 if it is within the limit, else seconds until allowed."""

    def blocked_for(self, key: str, limit: Limit) -> int:
        """Seconds until one more attempt is allowed (0: allowed now); counts nothing."""

    def reset(self, key: str) -> None:
        """Forget the attempts (after a successful sign-in, say)."""


class MemoryRateLimiter:
    """Counters in this process (the embedded default), safe across threads."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._now = time.monotonic  #: seconds; tests may replace it

    def hit(self, key: str, limit: Limit) -> int:
        now = self._now()
        with self._lock:
            start, count = self._current(key, limit, now)
            self._windows[key] = (start, count + 1)
            if len(self._windows) > MAX_MEMORY_KEYS:
                self._prune(now, limit)
        return _wait(count + 1, limit, start + limit.window - now)

    def blocked_for(self, key: str, limit: Limit) -> int:
        now = self._now()
        with self._lock:
            start, count = self._current(key, limit, now)
        return _wait(count + 1, limit, start + limit.window - now)

    def reset(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def _current(self, key: str, limit: Limit, now: float) -> tuple[float, int]:
        start, count = self._windows.get(key, (now, 0))
        return (now, 0) if now - start >= limit.window else (start, count)

    def _prune(self, now: float, limit: Limit) -> None:
        for key, (start, _) in list(self._windows.items()):
            if now - start >= limit.window:
                del self._windows[key]


class RedisRateLimiter:
    """Counters in Redis (``INCR`` + ``EXPIRE NX``), shared by every app process."""

    def __init__(self, url: str) -> None:
        self._redis = command_client(url)
        self._fallback = MemoryRateLimiter()

    def hit(self, key: str, limit: Limit) -> int:
        name = KEY_PREFIX + key
        try:
            with self._redis.pipeline() as pipe:
                pipe.incr(name)
                pipe.expire(name, limit.window, nx=True)
                pipe.pttl(name)
                count, _, ttl_ms = pipe.execute()
        except redis.RedisError as error:
            log.warning("rate limiter: Redis unavailable (%s); counting in-process", error)
            return self._fallback.hit(key, limit)
        return _wait(int(count), limit, max(int(ttl_ms), 0) / 1000)

    def blocked_for(self, key: str, limit: Limit) -> int:
        name = KEY_PREFIX + key
        try:
            with self._redis.pipeline() as pipe:
                pipe.get(name)
                pipe.pttl(name)
                count, ttl_ms = pipe.execute()
        except redis.RedisError as error:
            log.warning("rate limiter: Redis unavailable (%s); counting in-process", error)
            return self._fallback.blocked_for(key, limit)
        return _wait(int(count or 0) + 1, limit, max(int(ttl_ms), 0) / 1000)

    def reset(self, key: str) -> None:
        try:
            self._redis.delete(KEY_PREFIX + key)
        except redis.RedisError as error:
            log.warning("rate limiter: Redis unavailable (%s)", error)
        self._fallback.reset(key)


def _wait(count: int, limit: Limit, remaining: float) -> int:
    """Seconds to wait when ``count`` attempts exceed the limit (at least 1), else 0."""
    return 0 if count <= limit.count else max(1, math.ceil(remaining))


@lru_cache(maxsize=4)
def _limiter_for(redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()


def get_rate_limiter() -> RateLimiter:
    """The limiter for the configured deployment (one per Redis URL per process)."""
    return _limiter_for(get_settings().redis_url)
