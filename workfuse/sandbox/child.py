""":class:`SandboxProcess`: JavaScript run in a separate process, the only one with V8.

The app and the workers run JavaScript through this client, so they never load V8
(about 40 MB of resident memory per process, and it can only be initialised on a
process's main thread at start-up). The sandbox process (:mod:`.host`) is started on
the first call (about 0.3 s) and then serves every call of this process, up to
``workers`` at a time; a process that never runs or checks JavaScript never starts it,
and one stops after :data:`IDLE_STOP_S` without a call (the next call starts another).

Failures
    The code's own failures (syntax, thrown errors, time and memory limits, input and
    output sizes) are the same :class:`~workfuse.sandbox.SandboxError` as in-process.
    If the sandbox process stops (killed, crashed inside V8), the calls it had fail
    with kind ``crashed`` and the next call starts a new one. If it does not answer
    within a call's time limit plus :data:`ANSWER_GRACE_S` (V8 stuck in a built-in it
    cannot interrupt), it is killed and the call fails with kind ``timeout``.

Secrets
    The sandbox process gets no environment variable of its parent's but ``PATH``,
    ``TMPDIR`` and the locale (and ``PYTHONPATH``, set to find WorkFuse): user code
    never sees them anyway (V8 has no process access), and a
    crash dump or ``/proc/<pid>/environ`` of the sandbox shows none of them.

Lifetime
    It exits when its stdin closes: at this process's exit (closed at interpreter exit,
    or by the kernel whatever kills this process), or on :meth:`SandboxProcess.shutdown`.
    A child forked from this process starts its own sandbox process when it needs one.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import itertools
import json
import logging
import os
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import workfuse
from workfuse.sandbox import MAX_OUTPUT_CHARS, SandboxError
from workfuse.sandbox.javascript import wire
from workfuse.sandbox.javascript.calls import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_WORKERS,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES,
    SYNTAX_CHECK_TIMEOUT_S,
    ScriptResult,
    clamp_timeout,
    decode_result,
    encode_input,
)

IDLE_STOP_S = 300.0  #: seconds without a call after which the sandbox process is stopped
ANSWER_GRACE_S = 30.0  #: seconds past a call's time limit before the sandbox is killed
_SHUTDOWN_WAIT_S = 5.0  #: seconds a closing sandbox process gets before it is killed
_KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")

log = logging.getLogger(__name__)


class _Host:
    """One running sandbox process: its pipes, the calls waiting for it, its reader.

    Requests go through a pipe this object owns as a bare file descriptor, so that a
    forked child can close its copy (the sandbox process ends when every copy of that
    pipe's write end is closed) without touching the parent's.
    """

    def __init__(self, command: list[str], idle_stop_s: float) -> None:
        environment = {key: os.environ[key] for key in _KEPT_VARIABLES if key in os.environ}
        environment["PYTHONPATH"] = str(Path(workfuse.__file__).resolve().parent.parent)
        read_end, self._requests = os.pipe()
        try:
            self.popen = subprocess.Popen(
                command, stdin=read_end, stdout=subprocess.PIPE, env=environment
            )
        except BaseException:
            os.close(self._requests)
            raise
        finally:
            os.close(read_end)
        self.owner_pid = os.getpid()
        self.alive = True
        self._pending: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()  # guards alive and _pending
        self._write_lock = threading.Lock()  # one whole request at a time
        self._ids = itertools.count(1)
        self._last_used = time.monotonic()
        self._reader = threading.Thread(
            target=self._read_answers, name="workfuse-js-answers", daemon=True
        )
        self._reader.start()
        threading.Thread(
            target=self._stop_when_idle, args=(idle_stop_s,), name="workfuse-js-idle", daemon=True
        ).start()

    def send(
        self, operation: wire.Operation, code: str, input_json: str, timeout_ms: int
    ) -> Future[Any] | None:
        """The call's future, or ``None`` if this process is stopping (nothing was sent)."""
        future: Future[Any] = Future()
        with self._lock:
            if not self.alive:
                return None
            call_id = next(self._ids)
            self._pending[call_id] = future
            self._last_used = time.monotonic()
        message = wire.encode_request(
            wire.Request(call_id, operation, timeout_ms, code, input_json)
        )
        with self._write_lock, contextlib.suppress(OSError):  # if it stopped, the reader
            _write_all(self._requests, message)  # fails every pending call
        return future

    def _read_answers(self) -> None:
        stream = self.popen.stdout
        assert stream is not None
        try:
            while (answer := wire.read_answer(stream)) is not None:
                with self._lock:
                    future = self._pending.pop(answer.call_id, None)
                    self._last_used = time.monotonic()
                if future is None or future.done():  # its caller gave up waiting
                    continue
                if answer.status == "result":
                    future.set_result(answer.body.decode())
                else:
                    future.set_exception(wire.error_from_body(answer.body))
        except (wire.ProtocolError, OSError, ValueError):
            self.kill()
        finally:
            self._end()

    def _stop_when_idle(self, idle_stop_s: float) -> None:
        while True:
            with self._lock:
                if not self.alive:
                    return
                wait = self._last_used + idle_stop_s - time.monotonic()
                if wait <= 0 and not self._pending:
                    self.alive = False  # from now on, calls start a new process
                    break
            time.sleep(wait if wait > 0 else idle_stop_s)
        log.debug("stopping the idle JavaScript sandbox process %d", self.popen.pid)
        self._close_requests()  # it has nothing to finish, so it exits at once

    def _end(self) -> None:
        with self._lock:
            self.alive = False
            pending, self._pending = self._pending, {}
        unexpected = self._requests >= 0  # its stdin was still open: nobody stopped it
        self._close_requests()
        try:
            code: int | None = self.popen.wait(timeout=_SHUTDOWN_WAIT_S)
        except subprocess.TimeoutExpired:
            code = None
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        if unexpected:
            log.warning(
                "the JavaScript sandbox process %d stopped (exit code %s); calls failed: %d",
                self.popen.pid,
                code,
                len(pending),
            )
        for future in pending.values():
            if not future.done():
                future.set_exception(_stopped(code))

    def close(self) -> None:
        """Close its stdin: it finishes its calls and exits; killed if it takes too long."""
        with self._lock:
            self.alive = False
        self._close_requests()
        try:
            self.popen.wait(timeout=_SHUTDOWN_WAIT_S)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reader.join(timeout=_SHUTDOWN_WAIT_S)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()

    def forget_after_fork(self) -> None:
        """In a forked child: close this copy of the request pipe, nothing else."""
        self.alive = False
        self._write_lock = threading.Lock()  # it may have been held at the fork
        self._close_requests()

    def _close_requests(self) -> None:
        with self._write_lock:
            if self._requests >= 0:
                os.close(self._requests)
                self._requests = -1


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _stopped(exit_code: int | None) -> SandboxError:
    how = "" if exit_code is None else f" (exit code {exit_code})"
    return SandboxError(
        f"the JavaScript sandbox process stopped{how}; the next call starts a new one",
        kind="crashed",
    )


class SandboxProcess:
    """JavaScript calls answered by a sandbox process started on first use.

    The same interface as the in-process :class:`~.pool.JavaScriptSandbox`
    (``run``, ``run_async``, ``check_syntax``, ``shutdown``), and the same limits.
    """

    def __init__(
        self,
        *,
        workers: int = DEFAULT_WORKERS,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        max_log_lines: int = MAX_LOG_LINES,
        max_log_line_chars: int = MAX_LOG_LINE_CHARS,
        max_output_chars: int = MAX_OUTPUT_CHARS,
        idle_stop_s: float = IDLE_STOP_S,
    ) -> None:
        if workers < 1:
            raise ValueError("a sandbox needs at least one worker")
        self._idle_stop_s = idle_stop_s
        limits = {
            "workers": workers,
            "memory_limit": memory_limit,
            "max_log_lines": max_log_lines,
            "max_log_line_chars": max_log_line_chars,
            "max_output_chars": max_output_chars,
        }
        self._command = [
            sys.executable,
            "-m",
            "workfuse.sandbox.javascript.host",
            json.dumps(limits),
        ]
        self._host: _Host | None = None
        self._lock = threading.Lock()
        self._closed = False
        #: sandbox processes started so far (restarts included); for tests and monitoring
        self.processes_started = 0
        _live_clients.add(self)

    @property
    def pid(self) -> int | None:
        """The running sandbox process's id, if one is running."""
        host = self._host
        return host.popen.pid if host is not None and host.alive else None

    def run(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """Run ``code`` with ``document``'s keys as parameters; blocks the caller."""
        timeout_ms = clamp_timeout(timeout_ms)
        host, future = self._send("run", code, encode_input(document), timeout_ms)
        return decode_result(_answer(host, future, timeout_ms / 1000))

    async def run_async(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """:meth:`run` without blocking the event loop."""
        timeout_ms = clamp_timeout(timeout_ms)
        host, future = self._send("run", code, encode_input(document), timeout_ms)
        limit = timeout_ms / 1000 + ANSWER_GRACE_S
        try:
            envelope = await asyncio.wait_for(asyncio.wrap_future(future), limit)
        except TimeoutError:
            raise _unanswered(host, limit) from None
        return decode_result(envelope)

    def check_syntax(self, code: str) -> str | None:
        """The syntax error of ``code`` as a message with line and column, or ``None``."""
        host, future = self._send("check", code, "", 0)
        try:
            _answer(host, future, SYNTAX_CHECK_TIMEOUT_S)
        except SandboxError as error:
            if error.kind == "syntax":
                return error.message
            raise
        return None

    def shutdown(self) -> None:
        """Stop the sandbox process once its running calls have answered."""
        with self._lock:
            self._closed = True
            host, self._host = self._host, None
        if host is not None and host.owner_pid == os.getpid():
            host.close()

    def _send(
        self, operation: wire.Operation, code: str, input_json: str, timeout_ms: int
    ) -> tuple[_Host, Future[Any]]:
        # Twice at most: the process taken may stop (idle) before the call is sent; a
        # new one that stops before that has failed to start, and the call fails.
        for _ in range(2):
            host = self._running_host()
            future = host.send(operation, code, input_json, timeout_ms)
            if future is not None:
                return host, future
        raise _stopped(host.popen.poll())

    def _running_host(self) -> _Host:
        with self._lock:
            if self._closed:
                raise RuntimeError("the JavaScript sandbox has been shut down")
            host = self._host
            if host is None or not host.alive or host.owner_pid != os.getpid():
                host = self._host = _Host(self._command, self._idle_stop_s)
                self.processes_started += 1
                log.debug("started a JavaScript sandbox process (pid %d)", host.popen.pid)
            return host

    def _forget_after_fork(self) -> None:
        host, self._host = self._host, None
        self._lock = threading.Lock()
        if host is not None:
            host.forget_after_fork()


def _answer(host: _Host, future: Future[Any], limit_s: float) -> Any:
    limit = limit_s + ANSWER_GRACE_S
    try:
        return future.result(timeout=limit)
    except FutureTimeout:
        raise _unanswered(host, limit) from None


def _unanswered(host: _Host, waited_s: float) -> SandboxError:
    host.kill()
    return SandboxError(
        f"the JavaScript sandbox did not answer within {waited_s:.0f} s and was restarted",
        kind="timeout",
    )


_live_clients: weakref.WeakSet[SandboxProcess] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for client in list(_live_clients):
        client.shutdown()


def _forget_all_after_fork() -> None:
    for client in list(_live_clients):
        client._forget_after_fork()


os.register_at_fork(after_in_child=_forget_all_after_fork)

_default: SandboxProcess | None = None
_default_lock = threading.Lock()


def default_sandbox() -> SandboxProcess:
    """The process-wide sandbox process client, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SandboxProcess()
        return _default


async def run_javascript(
    code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> ScriptResult:
    """Run ``code`` in the default sandbox process without blocking the event loop."""
    return await default_sandbox().run_async(code, document, timeout_ms=timeout_ms)


def check_syntax(code: str) -> str | None:
    """The syntax error of ``code`` (message with line and column), or ``None``."""
    return default_sandbox().check_syntax(code)
