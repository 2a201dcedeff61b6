"""JSONata expressions (jsonata-python), compiled once and cached, with limits.

An expression is evaluated against the document ``{nodes, trigger, env}``::

    $sum(nodes.fetch.body.items.price)

Evaluation runs only in a sandbox process (:mod:`workfuse.sandbox.host`, reached
through :mod:`workfuse.sandbox.pool`): the app and the workers import this module to
check an expression's syntax, never to evaluate one. Compiled expressions are kept in
a bounded LRU cache (:data:`CACHE_SIZE`); each evaluation works on its own shallow copy
of the compiled expression. JSONata's ``undefined`` comes back as ``None``.

Limits
    * Time: jsonata-python's ``Timebox`` checks the deadline on entry to and exit from
      every evaluation step (a fresh one per evaluation: the library's own starts its
      clock when the expression is compiled). A single built-in function running on a
      huge value is not interrupted here: the sandbox pool kills the process when the
      call is past its time limit (:data:`workfuse.sandbox.pool.KILL_GRACE_S`).
    * Regular expressions run on the ``regex`` engine with the remaining time as its
      timeout, so catastrophic backtracking ends with ``timeout`` too.
    * Recursion: at most :data:`MAX_DEPTH` nested evaluation steps (JSONata ``D1011``);
      Python's own recursion limit is caught as well.
    * Memory: the sandbox process's data segment is capped (:mod:`workfuse.sandbox.host`);
      running out is the error kind ``memory``. The input is at most
      :data:`~workfuse.sandbox.MAX_INPUT_BYTES` of JSON and the result at most
      :data:`~workfuse.sandbox.MAX_OUTPUT_CHARS`.
    * Messages: at most :data:`MAX_MESSAGE_CHARS` characters, in JSONata's terms (error
      codes such as ``T2001``), never naming a Python exception type.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import regex  # type: ignore[import-untyped, unused-ignore]
from jsonata import JException, Jsonata, Timebox
from jsonata.regex_engine import RegexFlags

from workfuse.sandbox import (
    MAX_OUTPUT_CHARS,
    SandboxError,
    encode_context,
    memory_message,
    timeout_error,
)

DEFAULT_TIMEOUT_MS = 5_000
MAX_TIMEOUT_MS = 60_000
MAX_DEPTH = 300  #: nested evaluation steps
CACHE_SIZE = 512  #: compiled expressions kept
MAX_MESSAGE_CHARS = 500  #: characters of an error message

_TIMEOUT_CODE = "D1012"
_DEPTH_CODE = "D1011"

_deadline = threading.local()


def _remaining_seconds() -> float | None:
    deadline: float | None = getattr(_deadline, "at", None)
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), 0.001)


class _TimedPattern:
    """A ``regex`` pattern whose every use is bounded by the evaluation's deadline."""

    def __init__(self, pattern: Any) -> None:
        self._pattern = pattern

    def search(self, string: str) -> Any:
        return self._pattern.search(string, timeout=_remaining_seconds())

    def finditer(self, string: str) -> Iterator[Any]:
        matches: Iterator[Any] = self._pattern.finditer(string, timeout=_remaining_seconds())
        return matches

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        text: str = self._pattern.sub(repl, string, count=count, timeout=_remaining_seconds())
        return text

    def split(self, string: str, maxsplit: int = 0) -> list[Any]:
        parts: list[Any] = self._pattern.split(
            string, maxsplit=maxsplit, timeout=_remaining_seconds()
        )
        return parts


def _regex_engine(pattern: str, flags: RegexFlags) -> _TimedPattern:
    options = 0
    if flags.case_insensitive:
        options |= regex.IGNORECASE
    if flags.multiline:
        options |= regex.MULTILINE
    return _TimedPattern(regex.compile(pattern, options))


def _syntax_error(expr: str, error: Exception) -> SandboxError:
    if not isinstance(error, JException):
        return SandboxError(f"invalid JSONata expression: {error}", kind="syntax")
    position = error.location if isinstance(error.location, int) else -1
    if position < 0:
        return SandboxError(f"{error.error}: {error}", kind="syntax")
    before = expr[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    return SandboxError(
        f"{error.error}: {error} (position {position}, line {line}, column {column})",
        kind="syntax",
        line=line,
        column=column,
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile_cached(expr: str) -> Jsonata:
    previous = getattr(Jsonata.CURRENT, "jsonata", None)
    try:
        return Jsonata(expr, _regex_engine)
    finally:  # the constructor makes itself the thread's "current" instance
        if previous is not None:
            Jsonata.CURRENT.jsonata = previous


def compile_expression(expr: str) -> Jsonata:
    """The compiled expression (cached), or ``SandboxError(kind="syntax")``."""
    try:
        return _compile_cached(expr)
    except (JException, regex.error, RecursionError, ValueError, TypeError) as error:
        raise _syntax_error(expr, error) from None


def check_syntax(expr: str) -> str | None:
    """The syntax error of ``expr`` (message with position), or ``None``."""
    try:
        compile_expression(expr)
    except SandboxError as error:
        return error.message
    return None


def evaluate(
    expr: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Any:
    """Evaluate ``expr`` against ``{nodes, trigger, env}`` from ``document``, in this
    process (tests; the sandbox process calls :func:`evaluate_json`).

    Returns plain JSON data (``None`` for JSONata's ``undefined``).
    """
    return json.loads(evaluate_json(expr, encode_context(document), timeout_ms=timeout_ms))


def evaluate_json(expr: str, input_json: str, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> str:
    """Evaluate ``expr`` against the JSON document ``input_json``; the result as JSON
    text (``null`` for JSONata's ``undefined``). Blocks for at most about ``timeout_ms``
    but inside a single long built-in function (see the module's limits)."""
    timeout_ms = max(1, min(int(timeout_ms), MAX_TIMEOUT_MS))
    compiled = compile_expression(expr)
    data = json.loads(input_json)
    instance = copy.copy(compiled)  # per-evaluation state (input, timestamp) stays private
    instance.set_validate_input(False)  # parsed from JSON: plain data by construction
    bindings = Jsonata.Frame(None)
    previous = getattr(Jsonata.CURRENT, "jsonata", None)
    started = time.monotonic()
    _deadline.at = started + timeout_ms / 1000
    Jsonata.CURRENT.jsonata = instance
    try:
        Timebox(bindings, timeout_ms, MAX_DEPTH)
        result = instance.evaluate(data, bindings)
        return _result_json(result)
    except SandboxError:
        raise
    except Exception as error:
        raise _evaluation_error(error, timeout_ms, time.monotonic() - started) from None
    finally:
        _deadline.at = None
        if previous is not None:
            Jsonata.CURRENT.jsonata = previous


def _evaluation_error(error: Exception, timeout_ms: int, elapsed_s: float) -> SandboxError:
    code = error.error if isinstance(error, JException) else None
    # A deadline passed inside $eval comes back wrapped (D3121): go by the clock too.
    if code == _TIMEOUT_CODE or isinstance(error, TimeoutError) or elapsed_s * 1000 >= timeout_ms:
        return timeout_error("jsonata", timeout_ms)
    if code == _DEPTH_CODE or isinstance(error, RecursionError):
        return SandboxError(
            f"the JSONata expression nests or recurses too deeply (limit {MAX_DEPTH} levels)",
            kind="error",
        )
    # Under the sandbox's data cap an allocation in C code may also fail as a
    # SystemError ("error return without exception set").
    if isinstance(error, MemoryError | SystemError):
        return SandboxError(memory_message("jsonata"), kind="memory")
    if code is not None:
        return SandboxError(_bounded(f"{code}: {error}"), kind="error")
    plain = (words for kind, words in _PLAIN_REASONS.items() if isinstance(error, kind))
    reason = next(plain, None) or str(error) or "an invalid value"
    return SandboxError(_bounded(f"the JSONata expression failed: {reason}"), kind="error")


#: Plain words for the library's own failures that carry no JSONata error code.
_PLAIN_REASONS: dict[type[BaseException], str] = {
    ZeroDivisionError: "division by zero",
    OverflowError: "a number is out of range",
    UnicodeError: "a string holds a character that cannot be encoded",
}


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"


def _result_json(result: Any) -> str:
    """``result`` as JSON text, or ``invalid_result``/``output_too_large``."""
    if result is None:
        return "null"
    try:
        text = json.dumps(result, allow_nan=False, default=_refuse)
    except (TypeError, ValueError) as error:
        raise SandboxError(
            f"the result cannot be turned into JSON: {error}", kind="invalid_result"
        ) from None
    if len(text) > MAX_OUTPUT_CHARS:
        raise SandboxError(
            f"the result is too large: {len(text):,} characters as JSON "
            f"(the limit is {MAX_OUTPUT_CHARS:,})",
            kind="output_too_large",
        )
    return text


def _refuse(value: object) -> Any:
    if callable(value) or type(value).__module__.startswith("jsonata"):
        raise TypeError("the result is a function")
    raise TypeError(f"the result holds a {type(value).__name__}")


__all__ = [
    "CACHE_SIZE",
    "DEFAULT_TIMEOUT_MS",
    "MAX_DEPTH",
    "check_syntax",
    "compile_expression",
    "evaluate",
    "evaluate_json",
]
