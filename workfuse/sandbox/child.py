""":class:`SandboxChild`: one sandbox process (:mod:`workfuse.sandbox.host`), seen from
the process that started it, running at most one call at a time.

A child is given to the pool (``on_free``) once its process says it is ready, and again
after each answer, unless the process said it retires after that answer. The pool
hands it a call with :meth:`start_call`; the child's reader thread completes the call's
future with the answer. Each call has a deadline, its time limit plus
:data:`~workfuse.sandbox.limits.KILL_GRACE_S`, counted from when it is sent (or from
the process's ``started`` message when it first had to load V8 for it); the pool's
watchdog kills a child past its deadline (:meth:`kill`), and the call fails with kind
``timeout``. A process that is not ready within
:data:`~workfuse.sandbox.limits.STARTUP_LIMIT_S` is killed as well. A call still running
after :data:`~workfuse.sandbox.limits.LONG_CALL_S` has its process's threads lowered in
priority until it answers (:meth:`lower_priority`); a process whose priority cannot be
raised back retires.

If the process stops under a call for another reason, the call fails with kind
``memory`` when V8 or Python reported running out of memory on its stderr, or V8 ended
it with a trap or an abort (what it does when it cannot allocate for itself), else
``crashed`` (killed from outside, a segmentation fault). Either way the pool is told
(``on_exit``) and starts another on demand.

Secrets
    The sandbox process gets no environment variable of its parent's but ``PATH``,
    ``TMPDIR`` and the locale (and ``PYTHONPATH``, set to find WorkFuse): user code
    never sees them anyway (V8 and JSONata have no process access), and a crash dump
    or ``/proc/<pid>/environ`` of the sandbox shows none of them.

Lifetime
    It exits when its stdin closes: on :meth:`close`, at this process's exit (closed at
    interpreter exit, or by the kernel whatever kills this process). A child forked
    from this process closes its copy (:meth:`forget_after_fork`) and starts its own.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import workfuse
from workfuse.sandbox import SandboxError, memory_message, timeout_error, wire
from workfuse.sandbox.limits import (
    KILL_GRACE_S,
    LONG_CALL_NICENESS,
    LONG_CALL_S,
    STARTUP_LIMIT_S,
    set_niceness,
)

_KEPT_VARIABLES = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")
SHUTDOWN_WAIT_S = 5.0  #: seconds a closing sandbox process gets before it is killed
_STDERR_KEPT = 16 * 1024  #: bytes of the sandbox process's stderr kept for the crash report
_INLINE_WRITE_BYTES = 32 * 1024  #: larger requests are written from a helper thread
_OUT_OF_MEMORY_SIGNS = (b"out of memory", b"MemoryError", b"allocation failed")

log = logging.getLogger(__name__)

KillReason = Literal["timeout", "startup"]
#: What the watchdog does to a child: kill it for a reason, or lower its priority.
Due = Literal["timeout", "startup", "lower"]


@dataclass(eq=False)
class Call:
    """One call: what to send, its time limit, and the future its answer completes."""

    request: wire.Request
    future: Future[str] = field(default_factory=Future)
    queued_at: float = 0.0  #: when it started waiting for a process (monotonic seconds)
    sent_at: float = 0.0  #: monotonic seconds
    started_at: float | None = None  #: when its time limit started (monotonic seconds)

    @property
    def deadline(self) -> float | None:
        """When its process is killed if it has not answered (monotonic seconds)."""
        if self.started_at is None:
            return None
        return self.started_at + self.request.timeout_ms / 1000 + KILL_GRACE_S

    @property
    def needs_javascript(self) -> bool:
        return self.request.language == "javascript"


class SandboxChild:
    """One sandbox process, its pipes, its reader threads and the call it is running."""

    def __init__(
        self,
        command: list[str],
        *,
        javascript_loaded: bool,
        on_free: Callable[[SandboxChild], None],
        on_exit: Callable[[SandboxChild], None],
        on_check: Callable[[float | None], None],
    ) -> None:
        environment = {key: os.environ[key] for key in _KEPT_VARIABLES if key in os.environ}
        environment["PYTHONPATH"] = str(Path(workfuse.__file__).resolve().parent.parent)
        read_end, self._requests = os.pipe()
        try:
            self.popen = subprocess.Popen(
                command,
                stdin=read_end,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
            )
        except BaseException:
            os.close(self._requests)
            raise
        finally:
            os.close(read_end)
        self.pid = self.popen.pid
        self.owner_pid = os.getpid()
        self.started_at = time.monotonic()
        self.idle_since = self.started_at
        self.ready = False
        #: V8 is loaded (or will be before the process says it is ready)
        self.javascript_loaded = javascript_loaded
        self.call: Call | None = None
        self.alive = True
        self.exit_code: int | None = None  #: once it has ended
        self._retiring = False
        self._closing = False  # stdin closed on purpose: its exit is expected
        self._killed_for: KillReason | None = None
        self._niceness = os.getpriority(os.PRIO_PROCESS, 0)  # what it starts with
        self._lowered = False  # its call runs at a lower priority
        self._on_free = on_free
        self._on_exit = on_exit
        self._on_check = on_check  # the watchdog must look at this child at that time
        self._lock = threading.Lock()  # guards call, alive, deadlines
        self._write_lock = threading.Lock()  # one whole request at a time; the pipe's close
        self._stderr: collections.deque[bytes] = collections.deque()
        self._stderr_drained = threading.Event()
        for target, name in ((self._read_answers, "answers"), (self._drain_stderr, "stderr")):
            threading.Thread(target=target, name=f"workfuse-sandbox-{name}", daemon=True).start()

    # -- the pool's side ----------------------------------------------------------------

    def start_call(self, call: Call) -> None:
        """Send ``call`` (this child must be ready and free); its future completes with
        the answer."""
        message = wire.encode_request(call.request)
        with self._lock:
            if not self.alive:
                call.future.set_exception(self._failure(call, None))
                return
            assert self.ready and self.call is None, "one call at a time, once ready"
            self.call = call
            call.sent_at = time.monotonic()
            if self.javascript_loaded or not call.needs_javascript:
                self._start_clock(call)
        if len(message) <= _INLINE_WRITE_BYTES:
            self._write(message)
        else:  # the pipe holds 64 KiB: a large input must not block the caller's loop
            threading.Thread(target=self._write, args=(message,), daemon=True).start()

    def due(self, now: float) -> Due | None:
        """What the watchdog must do to this child at ``now``: kill it (past a call's
        deadline, or too long to start or to load V8), lower its priority (a call past
        :data:`~workfuse.sandbox.limits.LONG_CALL_S`), or nothing."""
        with self._lock:
            call = self.call
            if not self.alive:
                return None
            if call is not None and call.started_at is not None:
                assert call.deadline is not None
                if now >= call.deadline:
                    return "timeout"
                if not self._lowered and now - call.started_at >= LONG_CALL_S:
                    return "lower"
                return None
            if call is not None and now - call.sent_at >= STARTUP_LIMIT_S:
                return "startup"
            if not self.ready and now - self.started_at >= STARTUP_LIMIT_S:
                return "startup"
            return None

    def next_check(self) -> float | None:
        """When :meth:`due` may next say something (monotonic seconds), or ``None``."""
        with self._lock:
            if not self.alive:
                return None
            call = self.call
            if call is not None and call.started_at is not None:
                assert call.deadline is not None
                if self._lowered:
                    return call.deadline
                return min(call.deadline, call.started_at + LONG_CALL_S)
            if call is not None:
                return call.sent_at + STARTUP_LIMIT_S
            return None if self.ready else self.started_at + STARTUP_LIMIT_S

    def running_since(self, now: float) -> float:
        """Seconds its call has been running at ``now`` (infinite without a call)."""
        call = self.call
        return math.inf if call is None else now - call.sent_at

    def lower_priority(self) -> None:
        """Run this process's threads :data:`~workfuse.sandbox.limits.LONG_CALL_NICENESS`
        lower until its call ends."""
        with self._lock:
            self._lowered = True
        set_niceness(self.pid, self._niceness + LONG_CALL_NICENESS)

    def kill(self, reason: KillReason | None = None) -> None:
        """Kill the process; a call it had fails because of ``reason`` (without one, as
        crashed)."""
        with self._lock:
            if self._killed_for is None:
                self._killed_for = reason
        with contextlib.suppress(ProcessLookupError):
            if self.popen.poll() is None:
                self.popen.kill()

    def close(self, *, wait_until: float | None = None) -> None:
        """Close its stdin: it ends its call and exits. Killed if it is still running at
        ``wait_until`` (monotonic seconds; default: :data:`SHUTDOWN_WAIT_S` from now)."""
        self.stop_taking_calls()
        if wait_until is None:
            wait_until = time.monotonic() + SHUTDOWN_WAIT_S
        try:
            self.popen.wait(timeout=max(wait_until - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self.kill("timeout")

    def stop_taking_calls(self) -> None:
        """Close its stdin (it exits after its call), without waiting."""
        self._closing = True
        self._close_requests()

    def forget_after_fork(self) -> None:
        """In a forked child: close this copy of the request pipe, nothing else."""
        self.alive = False
        self._closing = True
        self._lock = threading.Lock()  # they may have been held at the fork
        self._write_lock = threading.Lock()
        self._close_requests()

    # -- the reader threads -------------------------------------------------------------

    def _read_answers(self) -> None:
        stream = self.popen.stdout
        assert stream is not None
        try:
            while (answer := wire.read_answer(stream)) is not None:
                self._take(answer)
        except (wire.ProtocolError, OSError, ValueError):  # it cannot be trusted any more
            self.kill()
        finally:
            self._end()

    def _take(self, answer: wire.Answer) -> None:
        if answer.status == "ready":
            with self._lock:
                self.ready = True
                self.idle_since = time.monotonic()
            self._on_free(self)
            return
        if answer.status == "started":
            with self._lock:
                self.javascript_loaded = True
                call = self.call
                if call is not None and call.request.call_id == answer.call_id:
                    self._start_clock(call)
            self._on_check(self.next_check())
            return
        with self._lock:
            call = self.call
            if call is None or call.request.call_id != answer.call_id:
                raise wire.ProtocolError(f"an answer to call {answer.call_id}, which was not sent")
            self.call = None
            self._retiring = answer.retiring
            self.idle_since = time.monotonic()
            if call.needs_javascript:
                self.javascript_loaded = True
            lowered, self._lowered = self._lowered, False
        if lowered and not set_niceness(self.pid, self._niceness):
            self._retiring = True  # it may not run at its normal priority again
            self.stop_taking_calls()
        if not self._retiring:  # free before its caller hears: its next call may come
            self._on_free(self)
        if not call.future.done():  # its caller may have cancelled while it ran
            if answer.status == "result":
                call.future.set_result(answer.body.decode())
            else:
                call.future.set_exception(wire.error_from_body(answer.body))

    def _drain_stderr(self) -> None:
        stream = self.popen.stderr
        assert stream is not None
        kept = 0
        with contextlib.suppress(OSError, ValueError):
            while chunk := os.read(stream.fileno(), 4096):
                self._stderr.append(chunk)
                kept += len(chunk)
                while kept > _STDERR_KEPT and len(self._stderr) > 1:
                    kept -= len(self._stderr.popleft())
        self._stderr_drained.set()

    def _end(self) -> None:
        with self._lock:
            self.alive = False
            call, self.call = self.call, None
        self._close_requests()
        try:
            code: int | None = self.popen.wait(timeout=SHUTDOWN_WAIT_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = None
        self.exit_code = code
        self._stderr_drained.wait(timeout=SHUTDOWN_WAIT_S)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream is not None:
                stream.close()
        if call is not None:
            failure = self._failure(call, code)
            if failure.kind == "crashed":
                log.warning(
                    "the sandbox process %d stopped under a %s call (exit code %s)%s",
                    self.pid,
                    call.request.language,
                    code,
                    self._stderr_tail(),
                )
            elif failure.kind == "memory":  # the call's own doing: no cause to look into
                log.info("a %s call ran its sandbox process out of memory", call.request.language)
            if not call.future.done():
                call.future.set_exception(failure)
        elif not self._retiring and not self._closing and code not in (0, None):
            log.warning("the idle sandbox process %d stopped (exit code %s)", self.pid, code)
        self._on_exit(self)

    # -- plumbing -----------------------------------------------------------------------

    def _start_clock(self, call: Call) -> None:
        call.started_at = time.monotonic()

    def _failure(self, call: Call, exit_code: int | None) -> SandboxError:
        if self._killed_for == "timeout":
            request = call.request
            return timeout_error(
                request.language, request.timeout_ms, check=request.operation == "check"
            )
        if self._killed_for == "startup":
            return _not_started()
        stderr = b"".join(self._stderr)
        # V8 ends the process with a trap or an abort when it cannot allocate what it
        # needs for itself (near the data cap, that may be a thread's stack, with no
        # message): a call that did that was out of memory.
        aborted = exit_code in (-signal.SIGTRAP, -signal.SIGABRT)
        if aborted or any(sign in stderr for sign in _OUT_OF_MEMORY_SIGNS):
            return SandboxError(memory_message(call.request.language), kind="memory")
        return _stopped(exit_code)

    def startup_failure(self) -> SandboxError:
        """Why a call waiting for this child, which ended before it was ready, fails."""
        return _not_started() if self._killed_for == "startup" else _stopped(self.exit_code)

    def _stderr_tail(self) -> str:
        text = b"".join(self._stderr).decode("utf-8", errors="replace").strip()
        lines = [line for line in text.splitlines() if line.strip()][-5:]
        return (": " + " | ".join(line.strip()[:200] for line in lines)) if lines else ""

    def _write(self, message: bytes) -> None:
        view = memoryview(message)
        with self._write_lock, contextlib.suppress(OSError):  # if it stopped, the reader
            while view and self._requests >= 0:  # fails the call
                view = view[os.write(self._requests, view) :]

    def _close_requests(self) -> None:
        with self._write_lock:
            if self._requests >= 0:
                os.close(self._requests)
                self._requests = -1


def _not_started() -> SandboxError:
    return SandboxError(
        f"the sandbox process did not start within {STARTUP_LIMIT_S:.0f} s", kind="crashed"
    )


def _stopped(exit_code: int | None) -> SandboxError:
    how = "" if exit_code is None else f" (exit code {exit_code})"
    return SandboxError(
        f"the sandbox process stopped{how}; the next call starts a new one", kind="crashed"
    )
