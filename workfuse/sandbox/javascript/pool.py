""":class:`JavaScriptSandbox`, a bounded pool of worker threads each owning one isolate;
its limits; and the process-wide default sandbox used by :func:`run_javascript`.

Calls are queued to ``workers`` threads (all started on first use). Each call is
bounded by its timeout (at most :data:`MAX_TIMEOUT_MS`), the isolate's heap limit and
the log and output limits, and its failures become
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
from dataclasses import dataclass, field
from typing import Any

from py_mini_racer import JSEvalException, JSOOMException, JSTimeoutException

from workfuse.sandbox import MAX_OUTPUT_CHARS, SandboxError, encode_document
from workfuse.sandbox.javascript.v8 import _initialise_v8
from workfuse.sandbox.javascript.worker import _Job, _Worker

DEFAULT_TIMEOUT_MS = 5_000
MAX_TIMEOUT_MS = 60_000
DEFAULT_MEMORY_LIMIT = 128 * 1024 * 1024  #: bytes of V8 heap per isolate
DEFAULT_WORKERS = 4  #: threads (and so isolates) of the default sandbox
MAX_LOG_LINES = 1_000
MAX_LOG_LINE_CHARS = 10_000


@dataclass(frozen=True)
class ScriptResult:
    """What a call returned (``None`` for ``undefined``) and what it logged."""

    value: Any
    logs: list[str] = field(default_factory=list)


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
        future = self._submit(
            functools.partial(self._run_on, code=code, document=document, timeout_ms=timeout_ms)
        )
        result: ScriptResult = future.result()
        return result

    async def run_async(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """:meth:`run` without blocking the event loop."""
        future = self._submit(
            functools.partial(self._run_on, code=code, document=document, timeout_ms=timeout_ms)
        )
        result: ScriptResult = await asyncio.wrap_future(future)
        return result

    def check_syntax(self, code: str) -> str | None:
        """The syntax error of ``code`` as a message with line and column, or ``None``."""
        error = self._submit(functools.partial(self._check_on, code=code)).result()
        return None if error is None else error.message

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

    def _run_on(
        self, worker: _Worker, *, code: str, document: Mapping[str, Any], timeout_ms: int
    ) -> ScriptResult:
        timeout_ms = max(1, min(int(timeout_ms), MAX_TIMEOUT_MS))
        input_json = encode_document(
            {
                "nodes": document.get("nodes", {}),
                "trigger": document.get("trigger", {}),
                "env": document.get("env", {}),
            }
        )
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
        logs: list[str] = envelope.get("logs") or []
        if envelope.get("ok"):
            return ScriptResult(value=envelope.get("result"), logs=logs)
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
        except (JSTimeoutException, JSOOMException):
            worker.discard()
            raise


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


_default: JavaScriptSandbox | None = None
_default_lock = threading.Lock()


def default_sandbox() -> JavaScriptSandbox:
    """The process-wide sandbox, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = JavaScriptSandbox()
        return _default


async def run_javascript(
    code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> ScriptResult:
    """Run ``code`` on the default sandbox without blocking the event loop."""
    return await default_sandbox().run_async(code, document, timeout_ms=timeout_ms)


def check_syntax(code: str) -> str | None:
    """The syntax error of ``code`` (message with line and column), or ``None``."""
    return default_sandbox().check_syntax(code)
