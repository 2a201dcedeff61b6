"""What crosses into and out of a JavaScript call: its limits, its input, its result.

Shared by the in-process pool (:mod:`.pool`, which owns V8) and the client of the
sandbox process (:mod:`.process`, which does not import V8): this module imports
nothing of mini-racer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workfuse.sandbox import encode_document

DEFAULT_TIMEOUT_MS = 5_000  #: ms
MAX_TIMEOUT_MS = 60_000  #: ms
DEFAULT_MEMORY_LIMIT = 128 * 1024 * 1024  #: bytes of V8 heap per isolate
DEFAULT_WORKERS = 4  #: threads (and so isolates) of a sandbox
MAX_LOG_LINES = 1_000
MAX_LOG_LINE_CHARS = 10_000
SYNTAX_CHECK_TIMEOUT_S = 10.0  #: seconds V8 may take to compile code for a syntax check


@dataclass(frozen=True)
class ScriptResult:
    """What a call returned (``None`` for ``undefined``) and what it logged."""

    value: Any
    logs: list[str] = field(default_factory=list)


def encode_input(document: Mapping[str, Any]) -> str:
    """The call's parameters (``nodes``, ``trigger``, ``env``) as JSON text.

    Raises :class:`~workfuse.sandbox.SandboxError` (``input_too_large``) past
    :data:`~workfuse.sandbox.MAX_INPUT_BYTES`.
    """
    return encode_document(
        {
            "nodes": document.get("nodes", {}),
            "trigger": document.get("trigger", {}),
            "env": document.get("env", {}),
        }
    )


def clamp_timeout(timeout_ms: int) -> int:
    """``timeout_ms`` bounded to 1 .. :data:`MAX_TIMEOUT_MS` milliseconds."""
    return max(1, min(int(timeout_ms), MAX_TIMEOUT_MS))


def decode_result(envelope: str) -> ScriptResult:
    """The result of the runner's JSON answer for a call that succeeded."""
    answer = json.loads(envelope)
    return ScriptResult(value=answer.get("result"), logs=answer.get("logs") or [])
