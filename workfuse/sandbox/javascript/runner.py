""":class:`JavaScriptSandbox`, a bounded pool of worker threads each owning one V8
isolate, in the process that imports it.

Importing this module initialises V8 (:mod:`.v8`: on the main thread only). The app and
the workers do not import it: they run JavaScript in the sandbox process
(:mod:`.process`), whose host (:mod:`.host`) runs one of these pools.

Calls are queued to ``workers`` threads (all started on first use). Each call is
bounded by its timeout (at most :data:`~.calls.MAX_TIMEOUT_MS`), the isolate's heap
limit and the log and output limits, and its failures become
:class:`~workfuse.sandbox.SandboxError` with a kind. Every sandbox is shut down at
interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import json
import queue
import threading
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException

from workfuse.sandbox import MAX_OUTPUT_CHARS, SandboxError
from workfuse.sandbox.javascript.calls import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_WORKERS,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES,
    ScriptResult,
    clamp_timeout,
    decode_result,
    encode_input,
)
from workfuse.sandbox.javascript.v8 import _initialise_v8
from workfuse.sandbox.javascript.worker import _Job, _Worker


class JavaScriptSandbox:
    """A bounded pool of worker threads, each owning one locked-down V8 isolate."""

    def __init__(
        self,
        *,
        workers: int = DEFAULT_WORKERS,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_log_lines: int = MAX_LOG_LINES,
        max_log_line_chars: int = MAX_LOG_LINE_CHARS,
        max_output_chars: int = MAX_OUTPUT_CHARS,
    ) -> None:
        if workers < 1:
            raise ValueError("a sandbox needs at least one worker")
        _initialise_v8()
        self.memory_limit = memory_limit
        self.max_log_lines = max_log_lines
        self.max_log_line_chars = max_log_line_chars
        self.max_output_chars = max_output_chars
        self._size = workers
        self._jobs: queue.SimpleQueue[tuple[_Job, Future[Any]] | None] = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        #: isolates created so far (replacements included); for tests and monitoring
        self.isolates_created = 0
        _live_sandboxes.add(self)

    # -- public API -------------------------------------------------------------------

    def run(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """Run ``code`` with ``document``'s keys as parameters; blocks the caller."""
        return decode_result(self.evaluate(code, encode_input(document), timeout_ms).result())

    async def run_async(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """:meth:`run` without blocking the event loop."""
        future = self.evaluate(code, encode_input(document), timeout_ms)
        return decode_result(await asyncio.wrap_future(future))

    def check_syntax(self, code: str) -> str | None:
        """The syntax error of ``code`` as a message with line and column, or ``None``."""
        error = self.syntax_error(code).result()
        return None if error is None else error.message

    def evaluate(self, code: str, input_json: str, timeout_ms: int) -> Future[str]:
        """Run ``code`` on ``input_json`` (:func:`~.calls.encode_input`).

        The future's result is the runner's JSON answer (:func:`~.calls.decode_result`
        reads it); a failure of the code is its :class:`SandboxError`.
        """
        return self._submit(
            functools.partial(
                self._evaluate_on, code=code, input_json=input_json, timeout_ms=timeout_ms
            )
        )

    def syntax_error(self, code: str) -> Future[SandboxError | None]:
        """``code``'s syntax error (with line and column), or ``None``, found without running it."""
        return self._submit(functools.partial(self._check_on, code=code))

    def shutdown(self) -> None:
        """Finish queued calls, then close every isolate on its own thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
        for _ in workers:
            self._jobs.put(None)
        for worker in workers:
            worker.join()

    # -- plumbing ---------------------------------------------------------------------

    def _submit(self, job: _Job) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the JavaScript sandbox has been shut down")
            if len(self._workers) < self._size:  # all workers start on first use
                for index in range(len(self._workers), self._size):
                    worker = _Worker(self, index)
                    self._workers.append(worker)
                    worker.start()
            self._jobs.put((job, future))
        return future

    def _count_isolate(self) -> None:
        with self._lock:
            self.isolates_created += 1

    # -- on a worker thread -----------------------------------------------------------

    def _evaluate_on(self, worker: _Worker, *, code: str, input_json: str, timeout_ms: int) -> str:
        timeout_ms = clamp_timeout(timeout_ms)
        call = (
            f"__workfuse_run({json.dumps(code)},{json.dumps(input_json)},"
            f"{self.max_log_lines},{self.max_log_line_chars},{self.max_output_chars})"
        )
        isolate = worker.current_isolate()
        try:
            raw = isolate.run(call, timeout_ms / 1000)
        except JSTimeoutException:
            worker.discard()
            raise SandboxError(
                f"the JavaScript code ran longer than its time limit of {timeout_ms} ms",
                kind="timeout",
            ) from None
        except JSOOMException:
            worker.discard()
            raise SandboxError(
                "the JavaScript code used more memory than its limit of "
                f"{self.memory_limit // (1024 * 1024)} MB",
                kind="memory",
            ) from None
        except JSEvalException as failure:
            # Not the runner's answer: the engine itself failed (e.g. terminated).
            out_of_memory = isolate.racer.was_hard_memory_limit_reached()
            worker.discard()
            if out_of_memory:
                raise SandboxError(
                    "the JavaScript code used more memory than its limit", kind="memory"
                ) from None
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
            raise _thrown(envelope)
        raise SandboxError(str(envelope.get("message")), kind=kind)

    def _check_on(self, worker: _Worker, *, code: str) -> SandboxError | None:
        isolate = worker.current_isolate()
        try:
            return isolate.syntax_error(code)
        except JSTimeoutException:
            worker.discard()
            raise SandboxError("checking the code's syntax took too long", kind="timeout") from None
        except JSOOMException:
            worker.discard()
            raise SandboxError(
                "checking the code's syntax used too much memory", kind="memory"
            ) from None


def _thrown(envelope: Mapping[str, Any]) -> SandboxError:
    name = str(envelope.get("name") or "Error")
    message = str(envelope.get("message") or "")
    line = envelope.get("line")
    column = envelope.get("column")
    text = message if name == "Uncaught" else f"{name}: {message}" if message else name
    if isinstance(line, int) and line >= 1:
        text += f" (line {line}, column {column})"
        return SandboxError(
            text, kind="error", line=line, column=column if isinstance(column, int) else None
        )
    return SandboxError(text, kind="error")


_live_sandboxes: weakref.WeakSet[JavaScriptSandbox] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    """Close every isolate while the interpreter is still whole (V8 calls back into it)."""
    for box in list(_live_sandboxes):
        box.shutdown()
