"""When a failed node runs again: the node's ``RetryPolicy``, with jitter.

No policy means one attempt. The delay before attempt ``n + 1`` is
``initialDelayMs * backoffMultiplier ** (n - 1)``, plus or minus :data:`JITTER`, and at
least the server's ``Retry-After``; never more than :data:`MAX_DELAY_MS`.

A node run waiting for its next attempt is RETRYING, and its error carries the moment
that attempt is due under :data:`RETRY_AT` (:func:`waiting_error`, read back by
:func:`retry_at`: the runner waits again when a message comes early, the reconciler
re-sends one that was lost).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from workfuse.graph import MAX_RETRY_DELAY_MS, RetryPolicy

JITTER = 0.2  #: fraction of the delay added or removed at random
MAX_DELAY_MS = MAX_RETRY_DELAY_MS  #: ms
RETRY_AT = "retryAt"  #: key of a waiting node run's error: its next attempt's time (ISO 8601)


def should_retry(policy: RetryPolicy | None, attempt: int, retryable: bool) -> bool:
    """After ``attempt`` attempts (1-based) failed: is another one allowed?"""
    return retryable and policy is not None and attempt < policy.max_attempts


def delay_ms(policy: RetryPolicy, attempt: int, retry_after_s: float | None = None) -> int:
    """Milliseconds to wait after failed attempt ``attempt`` (1-based)."""
    base = policy.initial_delay_ms * policy.backoff_multiplier ** (attempt - 1)
    jittered = base * (1 + random.uniform(-JITTER, JITTER))  # not for security
    if retry_after_s is not None:
        jittered = max(jittered, retry_after_s * 1000)
    return int(min(max(jittered, 0), MAX_DELAY_MS))


def waiting_error(error: Mapping[str, Any], delay: int, now: datetime) -> dict[str, Any]:
    """``error`` (a node run's) with :data:`RETRY_AT`: ``delay`` ms after ``now``."""
    return {**error, RETRY_AT: (now + timedelta(milliseconds=delay)).isoformat()}


def retry_at(error: Mapping[str, Any] | None) -> datetime | None:
    """When the next attempt of a node run with ``error`` is due (UTC); None when the
    error names no such time, or one that cannot be read."""
    try:
        moment = datetime.fromisoformat((error or {})[RETRY_AT])
    except (KeyError, TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
