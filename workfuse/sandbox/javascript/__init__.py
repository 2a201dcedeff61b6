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
    An isolate is reused by the calls of one sandbox process, so nothing a call does
    may survive it: when an isolate starts, every intrinsic reachable from the global object
    (constructors, prototypes, iterator and generator prototypes, ``Math``, ``JSON``...)
    and the global object itself are frozen, and the legacy ``RegExp.$1``-style
    statics are removed. A global assignment therefore throws, prototype pollution
    throws, and the compiled function of a code string is frozen as well. (Assigning
    to an inherited ``toString``, ``constructor``, ``name`` or ``message`` of an object
    or error still works: those are turned into accessors that define an own property.)

Limits
    The time limit covers the call and the microtasks it queued; V8 itself terminates
    the script (a cancelled mini-racer task). The memory limit is V8's hard heap limit
    per isolate (:data:`DEFAULT_MEMORY_LIMIT`); the sandbox process around it caps its
    whole data segment too, so ArrayBuffers and other memory outside the heap count
    (:mod:`workfuse.sandbox.limits`). A script stuck inside one long built-in call
    (``new Array(1e9).fill(0)``) cannot be interrupted by V8: its sandbox process is
    killed :data:`~workfuse.sandbox.limits.KILL_GRACE_S` after the time limit, and it
    ran nothing else.

Results
    The result goes through ``JSON.stringify``: ``undefined`` becomes ``None``, a
    ``Date`` its ISO string, ``NaN``/``Infinity`` ``null``; functions, symbols, BigInts,
    promises, ``Map``/``Set`` and cycles are refused with ``invalid_result``.

Processes
    JavaScript runs only in sandbox processes (:mod:`workfuse.sandbox.pool`): the app
    and the workers never load V8 (about 40 MB each, and it may only be initialised on
    a process's main thread). A sandbox process runs one call at a time on its main
    thread, in one isolate (:class:`~.runner.JavaScriptRunner`).

Modules
    :mod:`.calls` (limits, a call's result; no V8), and, loaded only in a sandbox
    process or where imported directly: :mod:`.runner` (one isolate used from one
    thread), :mod:`.v8` (V8's initialisation, on the main thread), :mod:`.bootstrap`
    (the JavaScript that locks an isolate down and runs user code) and :mod:`.isolate`
    (one isolate, syntax errors).
"""

from __future__ import annotations

from workfuse.sandbox.javascript.calls import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_TIMEOUT_MS,
    MAX_LOG_LINE_CHARS,
    MAX_LOG_LINES,
    MAX_TIMEOUT_MS,
    ScriptResult,
)

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT_MS",
    "MAX_LOG_LINES",
    "MAX_LOG_LINE_CHARS",
    "MAX_TIMEOUT_MS",
    "ScriptResult",
]
