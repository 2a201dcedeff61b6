"""When a failed node runs again: the node's ``RetryPolicy``, with jitter.

No policy means one attempt. The delay before attempt ``n + 1`` is
``initialDelayMs * backoffMultiplier ** (n - 1)``, plus or minus :data:`JITTER`, and at
least the server's ``Retry-After``; never more than :data:`MAX_DELAY_MS`.
"""

from __future__ import annotations

import random

from workfuse.graph import MAX_RETRY_DELAY_MS, RetryPolicy

JITTER = 0.2  #: fraction of the delay added or removed at random
MAX_DELAY_MS = MAX_RETRY_DELAY_MS  #: ms


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
