"""JSONata expressions (jsonata-python), compiled once and cached, with limits.

An expression is evaluated against the document ``{nodes, trigger, env}``::

    $sum(nodes.fetch.body.items.price)

Compiled expressions are kept in a bounded LRU cache (:data:`CACHE_SIZE`); each
evaluation works on its own shallow copy of the compiled expression, so cached
expressions are shared safely between threads. JSONata's ``undefined`` comes back as
``None``.

Limits
    * Time: jsonata-python's ``Timebox`` checks the deadline on entry to and exit from
      every evaluation step (a fresh one per evaluation: the library's own starts its
      clock when the expression is compiled). A single built-in function running on
      a huge value is not interrupted until it returns.
    * Regular expressions run on the ``regex`` engine with the remaining time as its
      timeout, so catastrophic backtracking ends with ``timeout`` too.
    * Recursion: at most :data:`MAX_DEPTH` nested evaluation steps (JSONata ``D1011``);
      Python's own recursion limit is caught as well.
    * Memory: none. An expression is pure Python: it cannot reach the network, files
      or the process, but ``[1..10000000]`` does build a ten-million-item list. The
      input is at most :data:`~workfuse.sandbox.MAX_INPUT_BYTES` of JSON and the result
      at most :data:`~workfuse.sandbox.MAX_OUTPUT_CHARS`.

Evaluation is synchronous Python holding the GIL; :func:`evaluate_async` runs it on the
event loop for at most :data:`INLINE_BUDGET_MS`, then again on a worker thread, so
that the loop keeps serving other work during a long evaluation.
"""

from __future__ import annotations

import asyncio
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

from workfuse.sandbox import MAX_OUTPUT_CHARS, SandboxError, encode_document

DEFAULT_TIMEOUT_MS = 5_000
MAX_TIMEOUT_MS = 60_000
MAX_DEPTH = 300  #: nested evaluation steps
CACHE_SIZE = 512  #: compiled expressions kept
INLINE_BUDGET_MS = 5  #: ms an evaluation may hold the event loop before moving to a thread

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
    """Evaluate ``expr`` against ``{nodes, trigger, env}`` from ``document``; blocks.

    Returns plain JSON data (``None`` for JSONata's ``undefined``).
    """
    timeout_ms = max(1, min(int(timeout_ms), MAX_TIMEOUT_MS))
    compiled = compile_expression(expr)
    data = json.loads(
        encode_document(
            {
                "nodes": document.get("nodes", {}),
                "trigger": document.get("trigger", {}),
                "env": document.get("env", {}),
            }
        )
    )
    instance = copy.copy(compiled)  # per-evaluation state (input, timestamp) stays private
    instance.set_validate_input(False)  # the JSON round trip above already guarantees it
    bindings = Jsonata.Frame(None)
    previous = getattr(Jsonata.CURRENT, "jsonata", None)
    started = time.monotonic()
    _deadline.at = started + timeout_ms / 1000
    Jsonata.CURRENT.jsonata = instance
    try:
        Timebox(bindings, timeout_ms, MAX_DEPTH)
        result = instance.evaluate(data, bindings)
    except Exception as error:
        raise _evaluation_error(error, timeout_ms, time.monotonic() - started) from None
    finally:
        _deadline.at = None
        if previous is not None:
            Jsonata.CURRENT.jsonata = previous
    return _plain(result)


async def evaluate_async(
    expr: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Any:
    """:func:`evaluate`, first on the event loop's own thread with a time limit of
    :data:`INLINE_BUDGET_MS` (most expressions take a fraction of a millisecond, less
    than the hop to a worker thread and back); an expression that runs out of it is
    evaluated again, from the start, on a worker thread with its full ``timeout_ms``
    (an expression is pure, so running it twice costs only time).

    The loop is held for about :data:`INLINE_BUDGET_MS` at most, except by what the
    time limit cannot interrupt: the JSON round trip of the document (about 1 ms per
    100 KB) and a single built-in function on a huge value."""
    if timeout_ms > INLINE_BUDGET_MS:
        try:
            return evaluate(expr, document, timeout_ms=INLINE_BUDGET_MS)
        except SandboxError as error:
            if error.kind != "timeout":
                raise
    return await asyncio.to_thread(evaluate, expr, document, timeout_ms=timeout_ms)


def _evaluation_error(error: Exception, timeout_ms: int, elapsed_s: float) -> SandboxError:
    code = error.error if isinstance(error, JException) else None
    # A deadline passed inside $eval comes back wrapped (D3121): go by the clock too.
    if code == _TIMEOUT_CODE or isinstance(error, TimeoutError) or elapsed_s * 1000 >= timeout_ms:
        return SandboxError(
            f"the JSONata expression ran longer than its time limit of {timeout_ms} ms",
            kind="timeout",
        )
    if code == _DEPTH_CODE or isinstance(error, RecursionError):
        return SandboxError(
            f"the JSONata expression nests or recurses too deeply (limit {MAX_DEPTH} levels)",
            kind="error",
        )
    if code is not None:
        return SandboxError(f"{code}: {error}", kind="error")
    return SandboxError(f"JSONata evaluation failed: {type(error).__name__}: {error}", kind="error")


def _plain(result: Any) -> Any:
    """``result`` as plain JSON data, or ``invalid_result``/``output_too_large``."""
    if result is None:
        return None
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
    return json.loads(text)


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
    "evaluate_async",
]
