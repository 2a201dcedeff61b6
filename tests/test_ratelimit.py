"""Rate limits in-process and in a real Redis, with the same behaviour."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from workfuse.ratelimit import (
    KEY_PREFIX,
    Limit,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Iterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is unreachable at {REDIS_URL}: {error}", pytrace=False)
    yield RedisRateLimiter(REDIS_URL)
    for key in client.scan_iter(f"{KEY_PREFIX}test:*"):
        client.delete(key)


def _key() -> str:
    return f"test:{secrets.token_hex(4)}"


def test_attempts_within_the_limit_pass_and_the_next_waits(limiter: RateLimiter) -> None:
    key, limit = _key(), Limit(count=3, window=60)

    assert [limiter.hit(key, limit) for _ in range(3)] == [0, 0, 0]
    assert limiter.blocked_for(key, limit) > 0

    wait = limiter.hit(key, limit)
    assert 0 < wait <= 60


def test_blocked_for_counts_nothing(limiter: RateLimiter) -> None:
    key, limit = _key(), Limit(count=1, window=60)
    for _ in range(5):
        assert limiter.blocked_for(key, limit) == 0
    assert limiter.hit(key, limit) == 0


def test_reset_forgets_the_attempts(limiter: RateLimiter) -> None:
    key, limit = _key(), Limit(count=1, window=60)
    limiter.hit(key, limit)
    limiter.hit(key, limit)

    limiter.reset(key)

    assert limiter.hit(key, limit) == 0


def test_keys_are_independent(limiter: RateLimiter) -> None:
    limit = Limit(count=1, window=60)
    first, second = _key(), _key()
    limiter.hit(first, limit)
    limiter.hit(first, limit)
    assert limiter.hit(second, limit) == 0


def test_a_window_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: an in-process limiter with a controllable clock, at its limit
    now = [1000.0]
    limiter = MemoryRateLimiter()
    monkeypatch.setattr(limiter, "_now", lambda: now[0])
    key, limit = _key(), Limit(count=1, window=60)
    limiter.hit(key, limit)
    assert limiter.hit(key, limit) == 60

    # When: the window has passed
    now[0] += 60

    # Then: attempts are allowed again
    assert limiter.hit(key, limit) == 0


def test_two_redis_limiters_share_their_counters() -> None:
    key, limit = _key(), Limit(count=2, window=60)
    first, second = RedisRateLimiter(REDIS_URL), RedisRateLimiter(REDIS_URL)
    first.hit(key, limit)
    first.hit(key, limit)
    assert second.hit(key, limit) > 0
    first.reset(key)


def test_an_unreachable_redis_falls_back_to_in_process_counting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0")
    key, limit = _key(), Limit(count=1, window=60)

    assert limiter.hit(key, limit) == 0
    assert limiter.hit(key, limit) > 0
    assert "Redis unavailable" in caplog.text
