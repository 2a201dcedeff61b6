""":class:`JavaScriptRunner`: JavaScript run on the calling thread, in one V8 isolate.

Importing this module initialises V8 (:mod:`.v8`: on the main thread only). The app
and the workers never import it: their JavaScript runs in sandbox processes
(:mod:`workfuse.sandbox.pool`), whose host (:mod:`workfuse.sandbox.host`) owns one
runner and runs one call at a time on its main thread.

A runner owns one event loop (mini-racer answers on it) and, lazily, one locked-down
isolate; both are made, used and closed on the thread that uses the runner (closing
an isolate from another thread can crash mini-racer). Each call is bounded by its
timeout (at most :data:`~.calls.MAX_TIMEOUT_MS`), the isolate's heap limit and the log
and output limits, and its failures become :class:`~workfuse.sandbox.SandboxError`
with a kind. After a timeout or out-of-memory the isolate is :attr:`spoiled`: the next
call closes it and makes a fresh one (about 10 ms), unless the owner retires instead
(the host does: V8 stuck in a built-in it cannot interrupt would make that close wait).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException

from workfuse.sandbox import (
    MAX_OUTPUT_CHARS,
    SandboxError,
    SandboxErrorKind,
    encode_context,
    timeout_error,
)
from workfuse.sandbox.javascript.calls import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIMEOUT_MS,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES,
    ScriptResult,
    clamp_timeout,
    decode_result,
)
from workfuse.sandbox.javascript.isolate import _Isolate
from workfuse.sandbox.javascript.v8 import _initialise_v8


class JavaScriptRunner:
    """One locked-down V8 isolate, used from one thread, one call at a time."""

    def __init__(
        self,
        *,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_log_lines: int = MAX_LOG_LINES,
        max_log_line_chars: int = MAX_LOG_LINE_CHARS,
        max_output_chars: int = MAX_OUTPUT_CHARS,
    ) -> None:
        _initialise_v8()
        self.memory_limit = memory_limit
        self.max_log_lines = max_log_lines
        self.max_log_line_chars = max_log_line_chars
        self.max_output_chars = max_output_chars
        self._loop = asyncio.new_event_loop()
        self._isolate: _Isolate | None = None
        #: the isolate hit a time or memory limit: it is replaced before the next call
        self.spoiled = False
        #: isolates created so far (replacements included); for tests and monitoring
        self.isolates_created = 0

    # -- convenience for callers holding Python data ------------------------------------

    def run(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """Run ``code`` with ``document``'s keys (``nodes``, ``trigger``, ``env``) as parameters."""
        return decode_result(self.evaluate(code, encode_context(document), timeout_ms))

    def check_syntax(self, code: str) -> str | None:
        """The syntax error of ``code`` as a message with line and column, or ``None``."""
        error = self.syntax_error(code)
        return None if error is None else error.message

    # -- what the sandbox process calls -------------------------------------------------

    def evaluate(self, code: str, input_json: str, timeout_ms: int) -> str:
        """Run ``code`` on ``input_json`` (:func:`~workfuse.sandbox.encode_context`).

        Returns the runner's JSON answer (:func:`~.calls.decode_result` reads it); a
        failure of the code raises its :class:`SandboxError`.
        """
        timeout_ms = clamp_timeout(timeout_ms)
        call = (
            f"__workfuse_run({json.dumps(code)},{json.dumps(input_json)},"
            f"{self.max_log_lines},{self.max_log_line_chars},{self.max_output_chars})"
        )
        isolate = self._current_isolate()
        try:
            raw = isolate.run(call, timeout_ms / 1000)
        except JSTimeoutException:
            self.spoiled = True
            raise timeout_error("javascript", timeout_ms) from None
        except JSOOMException:
            self.spoiled = True
            raise self._out_of_memory() from None
        except JSEvalException as failure:
            # Not the runner's answer: the engine itself failed (e.g. terminated).
            self.spoiled = True
            if isolate.racer.was_hard_memory_limit_reached():
                raise self._out_of_memory() from None
            raise SandboxError(f"the JavaScript engine failed: {failure}", kind="error") from None
        envelope = json.loads(raw)
        if envelope.get("ok"):
            return raw
        kind = envelope.get("kind", "error")
        if kind == "syntax":
            raise isolate.syntax_error(code) or SandboxError(
                f"SyntaxError: {envelope.get('message')}", kind="syntax"
            )
        if kind == "error":
            error = _thrown(envelope)
            self.spoiled = error.kind == "memory"  # its buffers live as long as the isolate
            raise error
        raise SandboxError(str(envelope.get("message")), kind=kind)

    def syntax_error(self, code: str) -> SandboxError | None:
        """``code``'s syntax error (with line and column), or ``None``, found without running it."""
        isolate = self._current_isolate()
        try:
            return isolate.syntax_error(code)
        except JSTimeoutException:
            self.spoiled = True
            raise SandboxError("checking the code's syntax took too long", kind="timeout") from None
        except JSOOMException:
            self.spoiled = True
            raise SandboxError(
                "checking the code's syntax used too much memory", kind="memory"
            ) from None

    def prepare(self) -> None:
        """Make the isolate now (V8 reserves its address space with the first one)."""
        self._current_isolate()

    def close(self) -> None:
        """Close the isolate and the loop (waits if V8 is inside a long built-in)."""
        self._discard()
        self._loop.close()

    # -- plumbing -----------------------------------------------------------------------

    def _current_isolate(self) -> _Isolate:
        if self.spoiled:
            self._discard()
            self.spoiled = False
        if self._isolate is None:
            self._isolate = _Isolate(self._loop, self.memory_limit)
            self.isolates_created += 1
        return self._isolate

    def _discard(self) -> None:
        isolate, self._isolate = self._isolate, None
        if isolate is not None:
            isolate.racer.close()

    def _out_of_memory(self) -> SandboxError:
        return SandboxError(
            "the JavaScript code used more memory than its limit of "
            f"{self.memory_limit // (1024 * 1024)} MB",
            kind="memory",
        )


def _thrown(envelope: Mapping[str, Any]) -> SandboxError:
    name = str(envelope.get("name") or "Error")
    message = str(envelope.get("message") or "")
    line = envelope.get("line")
    column = envelope.get("column")
    text = message if name == "Uncaught" else f"{name}: {message}" if message else name
    # An ArrayBuffer (or typed array) the process's memory cap refused: a memory limit.
    kind: SandboxErrorKind = (
        "memory" if name == "RangeError" and _ALLOCATION in message else "error"
    )
    if isinstance(line, int) and line >= 1:
        text += f" (line {line}, column {column})"
        return SandboxError(
            text, kind=kind, line=line, column=column if isinstance(column, int) else None
        )
    return SandboxError(text, kind=kind)


_ALLOCATION = "allocation failed"  #: V8's RangeError when a backing store cannot be had
