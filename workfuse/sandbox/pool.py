""":class:`SandboxPool`: user code run in sandbox processes, one call per process at a time.

JavaScript, JSONata and regular expressions from users run here, never in the app or a
worker: a call that must be stopped (past its time limit inside a built-in that cannot
be interrupted, out of memory) is stopped by killing its process, which runs nothing
else, so no other call fails with it. The process (:mod:`workfuse.sandbox.host`) is
started on demand (about 0.1 s; V8 adds about 0.1 s on its first JavaScript call) and
reused for later calls.

Processes
    At most ``max_processes`` run at once (``WORKFUSE_SANDBOX_PROCESSES`` for the
    default pool). A call goes to a ready, free process; without one it waits in line
    for the first process that is free or becomes ready, and a process is started for
    it when no running call is likely to end soon (:data:`QUEUE_PATIENCE_S`), room
    permitting. While processes are being lost under their calls (hostile calls killed
    at their limits) and two or more calls run, :data:`CHURN_SPARES` processes are kept
    ready beside them, so that other calls do not wait for a start. Idle processes stop
    after :data:`SPARE_IDLE_STOP_S`, the last one after ``idle_stop_s``. Once the pool has
    run JavaScript, new processes load V8 at start.

Limits
    Each call is bounded by its own time limit; the watchdog thread kills its process
    :data:`~workfuse.sandbox.limits.KILL_GRACE_S` after it, whoever waits (or not) for
    the answer, and the call fails with kind ``timeout``. It also lowers the CPU
    priority of a call running longer than :data:`~workfuse.sandbox.limits.LONG_CALL_S`.
    Memory is capped inside the process (:mod:`workfuse.sandbox.limits`). A process
    that dies under a call fails it with ``memory`` (it ran out) or ``crashed``; the
    next call starts another.

Threads and loops
    Every method may be called from any thread; the ``*_async`` ones never block the
    event loop (a large input is written to the process from a helper thread).
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import itertools
import json
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from workfuse.sandbox import SandboxError, encode_context, wire
from workfuse.sandbox.child import SHUTDOWN_WAIT_S, Call, Due, SandboxChild
from workfuse.sandbox.javascript.calls import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIMEOUT_MS,
    ScriptResult,
    clamp_timeout,
    decode_result,
)
from workfuse.sandbox.limits import CHECK_TIMEOUT_MS, MAX_REGEX_SUBJECT_CHARS, HostLimits

DEFAULT_MAX_PROCESSES = 8  #: sandbox processes one process (app, worker) may run at once
IDLE_STOP_S = 300.0  #: seconds without a call after which the last idle process stops
SPARE_IDLE_STOP_S = 30.0  #: seconds after which any other idle process stops
#: seconds a queued call waits for a running call to end before a process is started
#: for it (when a running call started that recently: most calls take about 1 ms)
QUEUE_PATIENCE_S = 0.005
#: processes kept ready beside two or more running calls within CHURN_WINDOW_S of a
#: process lost under its call: each call that starts again after such a loss (a
#: hostile one killed at its limit) takes one, and the others should not wait for a start
CHURN_SPARES = 2
CHURN_WINDOW_S = 30.0  #: seconds
_WATCHDOG_IDLE_S = 5.0  #: seconds the watchdog sleeps when nothing is running
#: seconds between the watchdog's looks while calls run or have just run (so that a
#: new call need not wake it)
_WATCHDOG_TICK_S = 0.05
_WATCHDOG_TICKING_S = 1.0  #: seconds it keeps ticking after the last call was sent

log = logging.getLogger(__name__)


class SandboxPool:
    """Sandbox processes started on demand, each running one call at a time."""

    def __init__(
        self,
        *,
        max_processes: int = DEFAULT_MAX_PROCESSES,
        memory_limit: int = DEFAULT_MEMORY_LIMIT,
        idle_stop_s: float = IDLE_STOP_S,
        spare_idle_stop_s: float = SPARE_IDLE_STOP_S,
    ) -> None:
        if max_processes < 1:
            raise ValueError("a sandbox pool needs at least one process")
        self.max_processes = max_processes
        self.limits = HostLimits(memory_limit=memory_limit)
        self._idle_stop_s = idle_stop_s
        self._spare_idle_stop_s = min(spare_idle_stop_s, idle_stop_s)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # the watchdog sleeps on it
        self._idle: list[SandboxChild] = []  # ready and free; most recently freed last
        self._busy: set[SandboxChild] = set()  # running a call
        self._starting: set[SandboxChild] = set()  # not ready yet
        self._queue: collections.deque[Call] = collections.deque()
        self._ids = itertools.count(1)
        self._javascript_seen = False
        self._closed = False
        self._watchdog: threading.Thread | None = None
        self._next_wake = 0.0  #: when the sleeping watchdog wakes (monotonic s); 0: awake
        self._last_sent = 0.0  #: when the last call was handed to a process (monotonic s)
        self._last_loss = -math.inf  #: when a process was last lost under a call
        #: sandbox processes started so far (replacements included); for tests and monitoring
        self.processes_started = 0
        _live_pools.add(self)

    # -- JavaScript ---------------------------------------------------------------------

    def run_javascript(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """Run ``code`` with ``document``'s keys (``nodes``, ``trigger``, ``env``) as
        parameters; blocks the caller."""
        call = self._submit("javascript", "run", code, encode_context(document), timeout_ms)
        return decode_result(call.future.result())

    async def run_javascript_async(
        self, code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> ScriptResult:
        """:meth:`run_javascript` without blocking the event loop."""
        call = self._submit("javascript", "run", code, encode_context(document), timeout_ms)
        return decode_result(await asyncio.wrap_future(call.future))

    def check_javascript(self, code: str) -> str | None:
        """The syntax error of ``code`` as a message with line and column, or ``None``."""
        return self._check("javascript", code)

    # -- JSONata ------------------------------------------------------------------------

    def evaluate_jsonata(
        self, expr: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> Any:
        """``expr`` evaluated against ``{nodes, trigger, env}``; blocks the caller."""
        call = self._submit("jsonata", "run", expr, encode_context(document), timeout_ms)
        return json.loads(call.future.result())

    async def evaluate_jsonata_async(
        self, expr: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> Any:
        """:meth:`evaluate_jsonata` without blocking the event loop."""
        call = self._submit("jsonata", "run", expr, encode_context(document), timeout_ms)
        answer: str = await asyncio.wrap_future(call.future)
        return json.loads(answer)

    def check_jsonata(self, expr: str) -> str | None:
        """The syntax error of ``expr`` (message with position), or ``None``."""
        return self._check("jsonata", expr)

    # -- regular expressions ------------------------------------------------------------

    async def search_regex_async(self, pattern: str, text: str, *, timeout_ms: int) -> bool:
        """Whether ``pattern`` occurs in ``text`` (its first million characters)."""
        subject = text[:MAX_REGEX_SUBJECT_CHARS]  # no more crosses the pipe
        call = self._submit("regex", "run", pattern, subject, timeout_ms)
        answer: str = await asyncio.wrap_future(call.future)
        return answer == "true"

    def check_regex(self, pattern: str) -> str | None:
        """Why ``pattern`` does not compile, or ``None``."""
        return self._check("regex", pattern)

    # -- the pool -----------------------------------------------------------------------

    @property
    def pids(self) -> list[int]:
        """The running sandbox processes' ids."""
        with self._lock:
            return [child.pid for child in self._children() if child.alive]

    def shutdown(self) -> None:
        """Stop every sandbox process once its running call has answered; kill those
        still running :data:`~workfuse.sandbox.child.SHUTDOWN_WAIT_S` later."""
        with self._lock:
            self._closed = True
            children = self._children()
            queued, self._queue = list(self._queue), collections.deque()
            self._wake.notify_all()
        for call in queued:
            if call.future.set_running_or_notify_cancel():
                call.future.set_exception(RuntimeError("the sandbox pool has been shut down"))
        children = [child for child in children if child.owner_pid == os.getpid()]
        for child in children:
            child.stop_taking_calls()
        wait_until = time.monotonic() + SHUTDOWN_WAIT_S  # one wait for all of them
        for child in children:
            child.close(wait_until=wait_until)

    def _check(self, language: wire.Language, code: str) -> str | None:
        call = self._submit(language, "check", code, "", CHECK_TIMEOUT_MS)
        try:
            call.future.result()
        except SandboxError as error:
            if error.kind == "syntax":
                return error.message
            raise
        return None

    def _submit(
        self,
        language: wire.Language,
        operation: wire.Operation,
        code: str,
        input_text: str,
        timeout_ms: int,
    ) -> Call:
        request = wire.Request(
            next(self._ids), language, operation, clamp_timeout(timeout_ms), code, input_text
        )
        call = Call(request)
        with self._lock:
            if self._closed:
                raise RuntimeError("the sandbox pool has been shut down")
            if language == "javascript":
                self._javascript_seen = True
            child = self._take_idle()
            if child is None:
                call.queued_at = time.monotonic()
                self._queue.append(call)
                self._grow_for_queue(call.queued_at)
                if call.queued_at + QUEUE_PATIENCE_S < self._next_wake:
                    self._wake.notify_all()  # the watchdog grows the pool if it waits
                return call
            call.future.set_running_or_notify_cancel()
        child.start_call(call)
        self._last_sent = call.sent_at
        self._check_at(child.next_check())
        return call

    def _take_idle(self) -> SandboxChild | None:
        """The most recently freed ready child, now busy, or ``None``."""
        while self._idle:
            child = self._idle.pop()
            if child.alive:
                self._busy.add(child)
                self._keep_spares()
                return child
        return None

    def _keep_spares(self) -> None:
        """While processes are being lost under their calls and two or more calls run,
        have :data:`CHURN_SPARES` more processes ready (or starting), room permitting."""
        if len(self._busy) < 2 or time.monotonic() - self._last_loss >= CHURN_WINDOW_S:
            return
        while (
            len(self._idle) + len(self._starting) < CHURN_SPARES
            and self._count() < self.max_processes
        ):
            self._start_child()

    def _grow_for_queue(self, now: float) -> None:
        """Start processes for queued calls that no starting process will serve: for
        every one of them if no running call started within :data:`QUEUE_PATIENCE_S`,
        else (one of those will likely end first) only for the calls that have waited
        that long. A process costs about 20 MB (75 MB with V8): a burst of quick calls
        shares the ones there are."""
        if any(child.running_since(now) < QUEUE_PATIENCE_S for child in self._busy):
            waiting = sum(now - call.queued_at >= QUEUE_PATIENCE_S for call in self._queue)
        else:
            waiting = len(self._queue)
        while len(self._starting) < waiting and self._count() < self.max_processes:
            self._start_child()

    def _command(self) -> list[str]:
        """How a sandbox process starts: V8 loaded at once if this pool has run JavaScript."""
        limits = HostLimits(**{**asdict(self.limits), "javascript": self._javascript_seen})
        return [sys.executable, "-m", "workfuse.sandbox.host", json.dumps(asdict(limits))]

    def _start_child(self) -> None:
        child = SandboxChild(
            self._command(),
            javascript_loaded=self._javascript_seen,
            on_free=self._free,
            on_exit=self._gone,
            on_check=self._check_at,
        )
        self._starting.add(child)
        self.processes_started += 1
        log.debug("started a sandbox process (pid %d)", child.pid)
        self._start_watchdog()
        self._wake.notify_all()

    def _children(self) -> list[SandboxChild]:
        return [*self._idle, *self._busy, *self._starting]

    def _count(self) -> int:
        return len(self._idle) + len(self._busy) + len(self._starting)

    def _free(self, child: SandboxChild) -> None:
        """``child`` is ready, or answered its call: it takes the next queued call, or
        waits idle."""
        with self._lock:
            self._starting.discard(child)
            self._busy.discard(child)
            if self._closed:
                return
            call = self._next_queued()
            if call is None:
                self._idle.append(child)
                return
            self._busy.add(child)
            self._keep_spares()
        child.start_call(call)
        self._check_at(child.next_check())

    def _gone(self, child: SandboxChild) -> None:
        """``child``'s process ended. If it never got ready, the first queued call fails
        (the sandbox cannot start, or keeps failing to); others get a new process."""
        failed = None
        with self._lock:
            if child in self._busy:  # killed or retired under a call (not stopped idle)
                self._last_loss = time.monotonic()
            was_starting = child in self._starting
            self._starting.discard(child)
            self._busy.discard(child)
            if child in self._idle:
                self._idle.remove(child)
            if self._closed or child.owner_pid != os.getpid():
                return
            if was_starting:
                failed = self._next_queued()
            self._grow_for_queue(time.monotonic())
        if failed is not None:
            failed.future.set_exception(child.startup_failure())

    def _next_queued(self) -> Call | None:
        while self._queue:
            call = self._queue.popleft()
            if call.future.set_running_or_notify_cancel():  # False: its caller gave up
                return call
        return None

    # -- the watchdog -------------------------------------------------------------------

    def _check_at(self, moment: float | None) -> None:
        """Wake the watchdog if ``moment`` comes before its next planned check."""
        if moment is None or moment >= self._next_wake > 0:
            return
        with self._lock:
            self._wake.notify_all()

    def _start_watchdog(self) -> None:
        if self._watchdog is None or not self._watchdog.is_alive():
            self._watchdog = threading.Thread(
                target=self._watch, name="workfuse-sandbox-watchdog", daemon=True
            )
            self._watchdog.start()

    def _watch(self) -> None:
        """Kill children past a deadline; stop children idle for too long; end with the
        last child."""
        while True:
            overdue: list[tuple[SandboxChild, Due]] = []
            stopping: list[SandboxChild] = []
            with self._lock:
                if self._closed or self._watchdog is not threading.current_thread():
                    return
                if not self._count():
                    self._watchdog = None
                    return
                now = time.monotonic()
                ticking = self._busy or now - self._last_sent < _WATCHDOG_TICKING_S
                wake = now + (_WATCHDOG_TICK_S if ticking else _WATCHDOG_IDLE_S)
                for child in self._children():
                    reason = child.due(now)
                    if reason is not None:
                        overdue.append((child, reason))
                    check = child.next_check()
                    if check is not None:
                        wake = min(wake, check)
                self._grow_for_queue(now)
                if self._queue:
                    wake = min(wake, self._queue[0].queued_at + QUEUE_PATIENCE_S)
                remaining = self._count()
                for child in list(self._idle):  # the longest idle first
                    limit = self._idle_stop_s if remaining == 1 else self._spare_idle_stop_s
                    if now - child.idle_since >= limit:
                        self._idle.remove(child)
                        stopping.append(child)
                        remaining -= 1
                    else:
                        wake = min(wake, child.idle_since + limit)
                if not overdue and not stopping:
                    self._next_wake = wake
                    self._wake.wait(max(wake - now, 0.001))
                    self._next_wake = 0.0
                    continue
            for child, due in overdue:
                if due == "lower":
                    child.lower_priority()
                    continue
                log.debug("killing sandbox process %d (%s)", child.pid, due)
                child.kill(due)
            for child in stopping:
                log.debug("stopping the idle sandbox process %d", child.pid)
                threading.Thread(target=child.close, daemon=True).start()

    def _forget_after_fork(self) -> None:
        children = self._children()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._idle, self._busy, self._starting = [], set(), set()
        self._queue = collections.deque()
        self._watchdog = None
        for child in children:
            child.forget_after_fork()


_live_pools: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for pool in list(_live_pools):
        pool.shutdown()


def _forget_all_after_fork() -> None:
    for pool in list(_live_pools):
        pool._forget_after_fork()


os.register_at_fork(after_in_child=_forget_all_after_fork)

_default: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """The process-wide sandbox pool, created on first use (sized from the settings)."""
    global _default
    with _default_lock:
        if _default is None:
            from workfuse.settings import get_settings

            _default = SandboxPool(max_processes=get_settings().sandbox_processes)
        return _default


async def run_javascript(
    code: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> ScriptResult:
    """Run JavaScript ``code`` in the default pool without blocking the event loop."""
    return await default_pool().run_javascript_async(code, document, timeout_ms=timeout_ms)


async def evaluate_jsonata(
    expr: str, document: Mapping[str, Any], *, timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Any:
    """Evaluate JSONata ``expr`` in the default pool without blocking the event loop."""
    return await default_pool().evaluate_jsonata_async(expr, document, timeout_ms=timeout_ms)
