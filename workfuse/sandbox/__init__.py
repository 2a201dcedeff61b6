"""Sandboxes for user code: JavaScript in a V8 isolate, JSONata expressions and
regular expressions, each run in a sandbox process (:mod:`.pool`).

JavaScript and JSONata take the template context (``nodes``, ``trigger``, ``env``) as
plain JSON data; every failure is a :class:`SandboxError` with a
:data:`SandboxErrorKind`. They know nothing of nodes or executions: the transform and
condition nodes map the kinds onto their error codes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any, Literal

SandboxErrorKind = Literal[
    "syntax",  # the code does not parse
    "error",  # the code threw (JavaScript) or failed to evaluate (JSONata)
    "timeout",  # the time limit was reached
    "memory",  # the memory limit was reached
    "input_too_large",  # the context is larger than MAX_INPUT_BYTES once encoded
    "invalid_result",  # the result cannot be turned into JSON
    "output_too_large",  # the result is larger than MAX_OUTPUT_CHARS once encoded
    "crashed",  # the sandbox process running the code stopped (killed from outside)
]

MAX_INPUT_BYTES = 10 * 1024 * 1024  #: the encoded context (``nodes``, ``trigger``, ``env``)
MAX_OUTPUT_CHARS = 10 * 1024 * 1024  #: the encoded result


class SandboxError(Exception):
    """User code failed. ``line``/``column`` (1-based) point into the user's code if known."""

    def __init__(
        self,
        message: str,
        *,
        kind: SandboxErrorKind,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind: SandboxErrorKind = kind
        self.line = line
        self.column = column


#: How messages name each kind of user code a sandbox runs.
CODE_NAMES = {
    "javascript": "JavaScript code",
    "jsonata": "JSONata expression",
    "regex": "regular expression",
}


def memory_message(language: str) -> str:
    """The message of a call that ran out of the memory its sandbox process allows."""
    return f"the {CODE_NAMES[language]} used more memory than its sandbox allows"


def timeout_error(language: str, timeout_ms: int, *, check: bool = False) -> SandboxError:
    """The failure of a call past its time limit (or of a syntax check)."""
    name = CODE_NAMES[language]
    if check:
        return SandboxError(f"checking the {name}'s syntax took too long", kind="timeout")
    return SandboxError(
        f"the {name} ran longer than its time limit of {timeout_ms} ms", kind="timeout"
    )


def _json_default(value: object) -> Any:
    """Plain JSON for what node outputs may hold besides JSON types."""
    # Imported here: a sandbox process imports this package and never
    # sees a model, so it does not pay for pydantic.
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def encode_document(document: Mapping[str, Any], *, limit: int = MAX_INPUT_BYTES) -> str:
    """``document`` as compact ASCII JSON, refused with ``input_too_large`` past ``limit``.

    Values JSON has no type for are converted (dates to ISO strings, models to their
    JSON form, anything else to its ``str``); ``NaN`` and infinities become ``null``.
    """
    try:
        text = json.dumps(document, separators=(",", ":"), default=_json_default, allow_nan=False)
    except ValueError:  # NaN or an infinity somewhere: JSON has no such numbers
        plain = json.loads(json.dumps(document, default=_json_default))
        text = json.dumps(_without_nan(plain), separators=(",", ":"), allow_nan=False)
    if len(text) > limit:  # ASCII: one character is one byte
        raise SandboxError(
            f"the input data is too large: {len(text):,} bytes as JSON "
            f"(the limit is {limit:,} bytes)",
            kind="input_too_large",
        )
    return text


def encode_context(document: Mapping[str, Any]) -> str:
    """The template context's ``nodes``, ``trigger`` and ``env`` from ``document`` as
    JSON text: what JavaScript and JSONata see (limits as :func:`encode_document`)."""
    return encode_document(
        {
            "nodes": document.get("nodes", {}),
            "trigger": document.get("trigger", {}),
            "env": document.get("env", {}),
        }
    )


def _without_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return value


__all__ = [
    "CODE_NAMES",
    "MAX_INPUT_BYTES",
    "MAX_OUTPUT_CHARS",
    "SandboxError",
    "SandboxErrorKind",
    "encode_context",
    "encode_document",
    "memory_message",
    "timeout_error",
]
