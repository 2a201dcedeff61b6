"""JavaScript in V8 isolates (mini-racer), with time, memory, input and output limits.

User code is the *body* of a strict-mode function; its ``return`` value is the result::

    return trigger.data.items.filter(i => i.price > 10).map(i => i.name)

``nodes``, ``trigger`` and ``env`` are its parameters, parsed from JSON and deeply
frozen: assigning to them throws a ``TypeError`` (strict mode), and so does assigning
to an undeclared variable. ``console.log/info/debug/warn/error`` are captured into
``logs`` (at most :data:`MAX_LOG_LINES` lines of :data:`MAX_LOG_LINE_CHARS`
characters; ``warn``/``error`` lines start with ``[warn]``/``[error]``).

Isolation
    V8 alone has no network, file system or process access, and no host function is
    exposed: ``require``, ``process``, ``fetch``, timers, ``WebAssembly``, ``Atomics``,
    ``SharedArrayBuffer``, ``WeakRef`` and ``FinalizationRegistry`` are undefined.
    An isolate is reused by the calls of one worker thread, so nothing a call does may
    survive it: when an isolate starts, every intrinsic reachable from the global object
    (constructors, prototypes, iterator and generator prototypes, ``Math``, ``JSON``...)
    and the global object itself are frozen, and the legacy ``RegExp.$1``-style
    statics are removed. A global assignment therefore throws, prototype pollution
    throws, and the compiled function of a code string is frozen as well. (Assigning
    to an inherited ``toString``, ``constructor``, ``name`` or ``message`` of an object
    or error still works: those are turned into accessors that define an own property.)

Limits
    The time limit covers the call and the microtasks it queued; V8 itself terminates
    the script (a cancelled mini-racer task), no thread is abandoned. The memory limit
    is V8's hard heap limit per isolate (:data:`DEFAULT_MEMORY_LIMIT`). After a
    timeout or out-of-memory the isolate is closed, on the worker thread that owns it,
    and that worker's next call gets a fresh one (about 10 ms). A script stuck inside
    one long built-in call (``new Array(2e8).fill(0)``) cannot be interrupted before
    that call returns: the caller still gets its timeout on time, but the worker stays
    busy until V8 lets go of the isolate.

Results
    The result goes through ``JSON.stringify``: ``undefined`` becomes ``None``, a
    ``Date`` its ISO string, ``NaN``/``Infinity`` ``null``; functions, symbols, BigInts,
    promises, ``Map``/``Set`` and cycles are refused with ``invalid_result``.

Processes and threads
    JavaScript runs in a separate sandbox process, started on a process's first
    JavaScript call (:mod:`.process`): the app and the workers never load V8 (about
    40 MB each, and it may only be initialised on a process's main thread). In that
    process calls run on a small pool of :data:`DEFAULT_WORKERS` threads. Each thread
    owns one isolate and one asyncio loop that mini-racer answers on, and creates, uses
    and closes its isolate itself (closing an isolate from another thread can crash
    mini-racer). The caller's event loop is never blocked, and the number of isolates
    (and so their memory) is bounded.

Modules
    :mod:`.calls` (limits, a call's input and result), :mod:`.process` (the client of
    the sandbox process, the default sandbox), :mod:`.wire` (their messages),
    :mod:`.host` (the sandbox process), and, loaded only there or where imported
    directly: :mod:`.pool` (:class:`~.pool.JavaScriptSandbox`, the threads), :mod:`.v8`
    (V8's initialisation, on the main thread), :mod:`.bootstrap` (the JavaScript that
    locks an isolate down and runs user code), :mod:`.isolate` (one isolate, syntax
    errors) and :mod:`.worker` (a thread owning an isolate).
"""

from __future__ import annotations

from workfuse.sandbox.javascript.calls import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIMEOUT_MS,
    DEFAULT_WORKERS,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES,
    MAX_TIMEOUT_MS,
    ScriptResult,
)
from workfuse.sandbox.javascript.process import (
    SandboxProcess,
    check_syntax,
    default_sandbox,
    run_javascript,
)

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT_MS",
    "DEFAULT_WORKERS",
    "MAX_LOG_LINES",
    "MAX_LOG_LINE_CHARS",
    "MAX_TIMEOUT_MS",
    "SandboxProcess",
    "ScriptResult",
    "check_syntax",
    "default_sandbox",
    "run_javascript",
]
