"""What crosses into and out of a JavaScript call: its limits and its result.

Shared by the runner (:mod:`.runner`, which owns V8) and the sandbox pool
(:mod:`workfuse.sandbox.pool`, which does not import V8): this module imports nothing
of mini-racer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DEFAULT_TIMEOUT_MS = 5_000  #: ms
MAX_TIMEOUT_MS = 60_000  #: ms
DEFAULT_MEMORY_LIMIT = 128 * 1024 * 1024  #: bytes of V8 heap per isolate
MAX_LOG_LINES = 1_000
MAX_LOG_LINE_CHARS = 10_000


@dataclass(frozen=True)
class ScriptResult:
    """What a call returned (``None`` for ``undefined``) and what it logged."""

    value: Any
    logs: list[str] = field(default_factory=list)


def clamp_timeout(timeout_ms: int) -> int:
    """``timeout_ms`` bounded to 1 .. :data:`MAX_TIMEOUT_MS` milliseconds."""
    return max(1, min(int(timeout_ms), MAX_TIMEOUT_MS))


def decode_result(envelope: str) -> ScriptResult:
    """The result of the runner's JSON answer for a call that succeeded."""
    answer = json.loads(envelope)
    return ScriptResult(value=answer.get("result"), logs=answer.get("logs") or [])
