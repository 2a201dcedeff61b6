"""The limits of sandbox processes, and the process-level caps their host applies.

A call's own limits (time, V8 heap, input, output, logs) live with each language; these
bound the process around it, so that no path inside an engine escapes them:

* **time**: a JSONata call still running :data:`INTERRUPT_AFTER_S` past its time limit
  (inside a built-in function's own loop, which the evaluator's deadline does not see)
  is interrupted by :func:`interrupt_after`; a call still running :data:`KILL_GRACE_S`
  after its limit (V8 inside a long built-in such as ``Array(1e9).fill(0)``, one long C
  call, a regular expression that takes long to compile) has its process killed by the
  pool;
* **CPU**: a call still running after :data:`LONG_CALL_S` has its process's threads
  lowered by :data:`LONG_CALL_NICENESS` (:func:`set_niceness`), so that long or hostile
  calls leave the CPU to short ones, to the app, and to sandbox processes starting;
* **memory**: the host caps its data segment (``RLIMIT_DATA``: every private writable
  mapping, so the V8 heap, ArrayBuffers' backing stores and Python objects alike) at
  what it uses once ready plus :func:`data_allowance`; running out is a clean error in
  V8 (``RangeError``, or the heap limit) and in Python (``MemoryError``). A process
  whose data segment is still :data:`RECYCLE_GROWTH_BYTES` larger than when it was
  ready once its call has ended (and been cleaned up after) retires after its answer.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Iterator
from dataclasses import dataclass

from workfuse.sandbox import MAX_OUTPUT_CHARS
from workfuse.sandbox.javascript.calls import (
    DEFAULT_MEMORY_LIMIT,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES,
)

KILL_GRACE_S = 0.5  #: seconds past a call's time limit before its process is killed
INTERRUPT_AFTER_S = 0.1  #: seconds past a JSONata call's time limit before it is interrupted
INTERRUPT_REPEAT_S = 0.05  #: seconds between interruptions until the call ends
LONG_CALL_S = 0.1  #: seconds a call runs at its process's normal priority
LONG_CALL_NICENESS = 10  #: how much lower a long call's process runs (``nice`` steps)
STARTUP_LIMIT_S = 30.0  #: seconds a sandbox process may take to start or to load V8
#: ms a syntax check (compiling code, a pattern) may take: the editor waits for it
CHECK_TIMEOUT_MS = 3_000
MAX_REGEX_SUBJECT_CHARS = 1_000_000  #: characters of text a regular expression searches
MEMORY_HEADROOM = 128 * 1024 * 1024  #: bytes of data beyond the heap limit (see data_allowance)
RECYCLE_GROWTH_BYTES = 64 * 1024 * 1024  #: data bytes kept after a call that retire a process

_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_statm: int | None = None  #: /proc/self/statm, opened on first use (by a sandbox process)


@dataclass(frozen=True)
class HostLimits:
    """What a pool tells its sandbox processes (as JSON on their command line)."""

    memory_limit: int = DEFAULT_MEMORY_LIMIT  #: bytes: a call's V8 heap limit
    max_log_lines: int = MAX_LOG_LINES  #: console lines kept per JavaScript call
    max_log_line_chars: int = MAX_LOG_LINE_CHARS  #: characters kept per console line
    max_output_chars: int = MAX_OUTPUT_CHARS  #: characters of a result as JSON
    javascript: bool = False  #: load V8 at start instead of on the first JavaScript call


def data_allowance(memory_limit: int) -> int:
    """Bytes of data a sandbox process may add once ready: the V8 heap limit of its call
    plus :data:`MEMORY_HEADROOM` (V8's own overhead above its heap limit, ArrayBuffers,
    Python objects)."""
    return memory_limit + MEMORY_HEADROOM


def data_in_use() -> int:
    """Bytes of this process's data segment and stack (``/proc/self/statm``; about 1 µs:
    the file stays open)."""
    global _statm
    if _statm is None:
        _statm = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
    return int(os.pread(_statm, 256, 0).split()[5]) * _PAGE_BYTES


def cap_data(allowance: int) -> None:
    """Let this process's data segment grow by at most ``allowance`` bytes from now."""
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = data_in_use() + allowance
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


@contextlib.contextmanager
def data_cap_lifted(allowance: int) -> Iterator[None]:
    """Lift the data cap for a block (V8 reserves about 560 MB when it loads), then cap
    again at what is in use after it plus ``allowance``."""
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    resource.setrlimit(resource.RLIMIT_DATA, (hard, hard))
    try:
        yield
    finally:
        cap_data(allowance)


def set_niceness(pid: int, niceness: int) -> bool:
    """Give every thread of process ``pid`` this niceness; ``False`` if not permitted
    (lowering it back needs ``CAP_SYS_NICE``). A process that is gone counts as done."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return True
    for thread in threads:
        try:
            os.setpriority(os.PRIO_PROCESS, int(thread), niceness)
        except ProcessLookupError:
            continue
        except PermissionError:
            return False
    return True


class Overtime(BaseException):
    """Raised in the main thread by :func:`interrupt_after` (a ``BaseException``, so
    that library code catching ``Exception`` does not swallow it)."""


@contextlib.contextmanager
def interrupt_after(seconds: float) -> Iterator[None]:
    """Raise :class:`Overtime` in this thread (the main one) ``seconds`` from now, then
    every :data:`INTERRUPT_REPEAT_S`, until the block ends. It stops Python loops that
    check no deadline of their own, not one long call into C code."""

    def overtime(signum: int, frame: object) -> None:
        raise Overtime

    previous = signal.signal(signal.SIGALRM, overtime)
    signal.setitimer(signal.ITIMER_REAL, seconds, INTERRUPT_REPEAT_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def no_core_dumps() -> None:
    """A crashing sandbox process writes no core file (it would hold user data)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
