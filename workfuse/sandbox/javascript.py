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

Threads
    Calls run on a small dedicated pool of :data:`DEFAULT_WORKERS` threads. Each thread
    owns one isolate and one asyncio loop that mini-racer answers on, and creates, uses
    and closes its isolate itself (closing an isolate from another thread can crash
    mini-racer). The caller's event loop is never blocked, and the number of isolates
    (and so their memory) is bounded. Every sandbox is shut down at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import json
import queue
import re
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from py_mini_racer import (
    JSEvalException,
    JSOOMException,
    JSTimeoutException,
    MiniRacer,
    init_mini_racer,
)

from workfuse.sandbox import MAX_OUTPUT_CHARS, SandboxError, encode_document

DEFAULT_TIMEOUT_MS = 5_000
MAX_TIMEOUT_MS = 60_000
DEFAULT_MEMORY_LIMIT = 128 * 1024 * 1024  #: bytes of V8 heap per isolate
DEFAULT_WORKERS = 4  #: threads (and so isolates) of the default sandbox
MAX_LOG_LINES = 1_000
MAX_LOG_LINE_CHARS = 10_000
MAX_COMPILED_FUNCTIONS = 256  #: compiled code strings kept per isolate
SOURCE_NAME = "transform.js"  #: how stack traces name the user's code

#: ``new Function`` puts two lines before the body and the body starts with our
#: ``"use strict";`` line, so the user's line 1 is line 4 of the compiled source.
_LINE_OFFSET = 3

# V8 must be initialised on the main thread: initialised on another thread, creating
# isolates on further threads crashes the process (mini-racer 0.14, seen here). Doing it
# at import (about 80 ms) makes that the case whenever the app imports the node types
# at start-up, as it does.
_v8_ready = False


def _initialise_v8() -> None:
    global _v8_ready
    if _v8_ready:
        return
    if threading.current_thread() is threading.main_thread():
        init_mini_racer(ignore_duplicate_init=True)
        _v8_ready = True
    else:
        warnings.warn(
            "workfuse.sandbox.javascript was first used off the main thread: import it "
            "on the main thread at start-up, or V8 may crash when isolates are created",
            RuntimeWarning,
            stacklevel=3,
        )


_initialise_v8()

_BOOTSTRAP_TIMEOUT_S = 30.0
_SYNTAX_CHECK_TIMEOUT_S = 10.0

# Runs once per isolate, before any user code. Everything the runner needs is captured
# here, so user code cannot replace it; afterwards every reachable intrinsic and the
# global object are frozen.
_BOOTSTRAP_JS = r"""
(function () {
  "use strict";
  const G = globalThis;
  const O = Object;
  const freeze = O.freeze, isFrozen = O.isFrozen, getProto = O.getPrototypeOf;
  const defineProperty = O.defineProperty, getOwnDesc = O.getOwnPropertyDescriptor;
  const ownKeys = Reflect.ownKeys, apply = Reflect.apply;
  const hasOwn = O.hasOwn;
  const JSONparse = JSON.parse, JSONstringify = JSON.stringify;
  const FunctionCtor = Function, SyntaxErrorCtor = SyntaxError, TypeErrorCtor = TypeError;
  const ErrorCtor = Error, StringCtor = String, PromiseCtor = Promise;
  const MapCtor = Map, SetCtor = Set, WeakMapCtor = WeakMap, WeakSetCtor = WeakSet;
  const isArray = Array.isArray;
  const mapGet = Map.prototype.get, mapSet = Map.prototype.set;
  const mapDelete = Map.prototype.delete, mapKeys = Map.prototype.keys;
  const mapSize = getOwnDesc(Map.prototype, "size").get;
  const iterNext = getProto([].values()).next;
  const push = Array.prototype.push, join = Array.prototype.join;
  const slice = String.prototype.slice;
  const regexpExec = RegExp.prototype.exec;
  const objectToString = O.prototype.toString;
  const SOURCE_RE = /transform\.js:(\d+):(\d+)/;

  // 1. Nothing asynchronous or host-like: timers (mini-racer's), weak references and
  //    their callbacks, shared memory, WebAssembly (off-heap memory, async compile).
  for (const name of ["setTimeout", "clearTimeout", "__timer_manager", "WeakRef",
                      "FinalizationRegistry", "SharedArrayBuffer", "Atomics",
                      "WebAssembly"]) {
    if (!Reflect.deleteProperty(G, name)) G[name] = undefined;
  }
  // 2. RegExp.$1, RegExp.lastMatch... remember the last match of any call.
  for (const name of ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "input", "$_",
                      "lastMatch", "$&", "lastParen", "$+", "leftContext", "$`",
                      "rightContext", "$'"]) {
    Reflect.deleteProperty(RegExp, name);
  }

  // 3. console: one global object writing into the current call's log.
  let logs = null, dropped = 0, maxLines = 0, maxChars = 0;
  function format(value) {
    try {
      if (typeof value === "string") return value;
      if (value instanceof ErrorCtor) return StringCtor(value.stack || value);
      if (typeof value === "object" && value !== null) {
        const text = JSONstringify(value);
        if (text !== undefined) return text;
      }
      return StringCtor(value);
    } catch (e) {
      try { return apply(objectToString, value, []); } catch (e2) { return "[value]"; }
    }
  }
  function writer(prefix) {
    return function () {
      if (logs === null) return;
      if (logs.length >= maxLines) { dropped++; return; }
      const parts = [];
      for (let i = 0; i < arguments.length; i++) apply(push, parts, [format(arguments[i])]);
      let line = prefix + apply(join, parts, [" "]);
      if (line.length > maxChars) {
        line = apply(slice, line, [0, maxChars]) + " [truncated]";
      }
      apply(push, logs, [line]);
    };
  }
  const consoleObject = {
    log: writer(""), info: writer(""), debug: writer(""),
    warn: writer("[warn] "), error: writer("[error] "),
  };

  // 4. Assigning an inherited data property of a frozen prototype would throw ("the
  //    override mistake"); for the usual ones, an accessor defines an own property.
  function enableOverride(obj, name) {
    const desc = getOwnDesc(obj, name);
    if (!desc || !("value" in desc) || !desc.configurable) return;
    const value = desc.value;
    defineProperty(obj, name, {
      get: function () { return value; },
      set: function (newValue) {
        if (this === obj) {
          throw new TypeErrorCtor("Cannot assign to read only property '" + StringCtor(name) +
                                  "' of a built-in prototype");
        }
        if (hasOwn(this, name)) { this[name] = newValue; return; }
        defineProperty(this, name,
                       { value: newValue, writable: true, enumerable: true, configurable: true });
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  }
  for (const name of ["constructor", "toString", "valueOf", "toLocaleString",
                      "hasOwnProperty", "isPrototypeOf", "propertyIsEnumerable"]) {
    enableOverride(O.prototype, name);
  }
  for (const E of [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError,
                   URIError, AggregateError]) {
    for (const name of ["name", "message", "toString", "constructor"]) {
      enableOverride(E.prototype, name);
    }
  }
  enableOverride(Function.prototype, "toString");

  // 5. The runner.
  const compiled = new MapCtor();
  let busy = false;

  function errorInfo(error) {
    let message, name = "Error", stack = "";
    try {
      if (error instanceof ErrorCtor) {
        name = StringCtor(error.name);
        message = StringCtor(error.message);
        stack = StringCtor(error.stack);
      } else {
        message = StringCtor(error);
        name = "Uncaught";
      }
    } catch (e) {
      message = "an exception that cannot be printed";
    }
    const info = { name: name, message: message };
    try {
      const m = apply(regexpExec, SOURCE_RE, [stack]);
      if (m !== null) { info.line = +m[1] - LINE_OFFSET; info.column = +m[2]; }
    } catch (e) {}
    return info;
  }

  function where(key) {
    return key === "" ? "the result" : "the value at key " + JSONstringify(StringCtor(key));
  }
  function refuse(key, what) {
    throw new TypeErrorCtor(where(key) + " is " + what);
  }
  function replacer(key, value) {
    const t = typeof value;
    if (t === "function") refuse(key, "a function");
    if (t === "symbol") refuse(key, "a symbol");
    if (t === "bigint") refuse(key, "a BigInt (convert it with Number() or String())");
    if (t === "object" && value !== null) {
      if (value instanceof PromiseCtor) {
        refuse(key, "a Promise (asynchronous code is not supported: return a plain value)");
      }
      if (value instanceof MapCtor) refuse(key, "a Map (convert it with Object.fromEntries())");
      if (value instanceof SetCtor) refuse(key, "a Set (convert it with Array.from())");
      if (value instanceof WeakMapCtor || value instanceof WeakSetCtor) {
        refuse(key, "a WeakMap or WeakSet");
      }
    }
    return value;
  }

  function deepFreeze(root) {
    const stack = [root];
    while (stack.length > 0) {
      const value = stack.pop();
      if (typeof value !== "object" || value === null) continue;
      freeze(value);
      if (isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const item = value[i];
          if (typeof item === "object" && item !== null) apply(push, stack, [item]);
        }
      } else {
        for (const key in value) {
          const item = value[key];
          if (typeof item === "object" && item !== null) apply(push, stack, [item]);
        }
      }
    }
    return root;
  }

  function compile(code) {
    let fn = apply(mapGet, compiled, [code]);
    if (fn !== undefined) return fn;
    fn = new FunctionCtor("nodes", "trigger", "env",
                          '"use strict";\n' + code + "\n//# sourceURL=transform.js");
    freeze(fn.prototype);
    freeze(fn);
    if (apply(mapSize, compiled, []) >= MAX_COMPILED) {
      const oldest = apply(iterNext, apply(mapKeys, compiled, []), []).value;
      apply(mapDelete, compiled, [oldest]);
    }
    apply(mapSet, compiled, [code, fn]);
    return fn;
  }

  function finish(envelope) {
    if (dropped > 0) apply(push, logs, ["[" + dropped + " more log lines dropped]"]);
    envelope.logs = logs;
    return JSONstringify(envelope);
  }

  function run(code, inputJson, lineLimit, charLimit, outputLimit) {
    if (busy) throw new ErrorCtor("the transform runner is not re-entrant");
    busy = true;
    logs = []; dropped = 0; maxLines = lineLimit; maxChars = charLimit;
    try {
      let fn;
      try {
        fn = compile(code);
      } catch (error) {
        const info = errorInfo(error);
        info.ok = false;
        info.kind = error instanceof SyntaxErrorCtor ? "syntax" : "error";
        return finish(info);
      }
      const input = deepFreeze(JSONparse(inputJson));
      let result;
      try {
        result = fn(input.nodes, input.trigger, input.env);
      } catch (error) {
        const info = errorInfo(error);
        info.ok = false;
        info.kind = "error";
        return finish(info);
      }
      if (result === undefined) return finish({ ok: true, undefined: true });
      let json;
      try {
        json = JSONstringify(result, replacer);
      } catch (error) {
        const reason = errorInfo(error).message;
        return finish({ ok: false, kind: "invalid_result",
                        message: "the result cannot be turned into JSON: " + reason });
      }
      if (json === undefined) return finish({ ok: true, undefined: true });
      if (json.length > outputLimit) {
        return finish({ ok: false, kind: "output_too_large",
                        message: "the result is too large: " + json.length +
                                 " characters as JSON (the limit is " + outputLimit + ")" });
      }
      const head = finish({ ok: true });
      return apply(slice, head, [0, head.length - 1]) + ',"result":' + json + "}";
    } finally {
      logs = null;
      busy = false;
    }
  }

  const fixed = { writable: false, enumerable: false, configurable: false };
  defineProperty(G, "console", O.assign({ value: consoleObject }, fixed));
  defineProperty(G, "__workfuse_run", O.assign({ value: run }, fixed));

  // 6. Freeze every intrinsic reachable from the global object, plus the hidden ones
  //    only reachable through syntax or instances, then the global object itself.
  const hidden = [
    getProto(function* () {}), getProto(async function () {}),
    getProto(async function* () {}), getProto(async () => {}),
    getProto([][Symbol.iterator]()), getProto(new Map()[Symbol.iterator]()),
    getProto(new Set()[Symbol.iterator]()), getProto(""[Symbol.iterator]()),
    getProto(/x/[Symbol.matchAll]("")), getProto((function* () {})()),
    getProto((async function* () {})()),
    (function () { return getOwnDesc(arguments, "callee").get; })(),
  ];
  try { hidden.push(getProto(Iterator.from({ next() { return { done: true }; } }))); } catch (e) {}
  try { hidden.push(getProto([].values().map((x) => x))); } catch (e) {}
  try {
    const segments = new Intl.Segmenter().segment("");
    hidden.push(getProto(segments), getProto(segments[Symbol.iterator]()));
  } catch (e) {}
  const seen = new WeakSetCtor();
  const todo = [G, consoleObject, run, compiled].concat(hidden);
  const unfrozen = [];
  while (todo.length > 0) {
    const value = todo.pop();
    if ((typeof value !== "object" && typeof value !== "function") || value === null) continue;
    if (seen.has(value)) continue;
    seen.add(value);
    if (value === compiled) continue;  // the runner's own cache: private to this closure
    todo.push(getProto(value));
    for (const key of ownKeys(value)) {
      const desc = getOwnDesc(value, key);
      if (desc === undefined) continue;
      if ("value" in desc) todo.push(desc.value); else todo.push(desc.get, desc.set);
    }
    try { freeze(value); } catch (e) {}
    if (!isFrozen(value)) unfrozen.push(StringCtor(value));
  }
  return unfrozen;
})()
"""

_SYNTAX_MESSAGE_RE = re.compile(r"^[^\n]*?:(\d+): (SyntaxError: [^\n]*)\n([^\n]*)\n( *)\^")


@dataclass(frozen=True)
class ScriptResult:
    """What a call returned (``None`` for ``undefined``) and what it logged."""

    value: Any
    logs: list[str] = field(default_factory=list)


class _Isolate:
    """One V8 isolate, locked down, with the runner installed.

    mini-racer delivers V8's answers through an asyncio event loop. Each worker thread
    has its own loop (``loop``), run only while the thread waits for V8, so a call costs
    one hop to V8's thread and back rather than two more through a separate loop thread.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, memory_limit: int) -> None:
        self.loop = loop
        self.racer: MiniRacer = loop.run_until_complete(_new_racer())
        try:
            self.racer.set_hard_memory_limit(memory_limit)
            source = _BOOTSTRAP_JS.replace("LINE_OFFSET", str(_LINE_OFFSET)).replace(
                "MAX_COMPILED", str(MAX_COMPILED_FUNCTIONS)
            )
            unfrozen = self._eval(f"JSON.stringify({source})", _BOOTSTRAP_TIMEOUT_S)
            if unfrozen != "[]":
                raise RuntimeError(f"could not freeze JavaScript intrinsics: {unfrozen}")
        except BaseException:
            self.racer.close()
            raise

    def _eval(self, code: str, timeout_s: float) -> Any:
        return self.loop.run_until_complete(self._eval_async(code, timeout_s))

    async def _eval_async(self, code: str, timeout_s: float) -> Any:
        try:
            async with asyncio.timeout(timeout_s):
                return await self.racer.eval_cancelable(code)
        except TimeoutError:  # cancelling the task made V8 terminate the script
            raise JSTimeoutException from None

    def run(self, call: str, timeout_s: float) -> str:
        """Evaluate ``call`` and wait for the microtasks it queued, within ``timeout_s``."""
        raw = self.loop.run_until_complete(self._run_async(call, timeout_s))
        if self.racer.was_hard_memory_limit_reached():
            raise JSOOMException("JavaScript memory limit reached")
        if not isinstance(raw, str):
            raise JSEvalException(f"unexpected runner result {raw!r}")
        return raw

    async def _run_async(self, call: str, timeout_s: float) -> Any:
        # Microtasks (promise callbacks) run after a script has returned its value. A
        # second evaluation, queued right behind the first, ends only once they have
        # run: waiting for both under one deadline keeps them inside the time limit.
        tasks = [
            asyncio.ensure_future(self.racer.eval_cancelable(call)),
            asyncio.ensure_future(self.racer.eval_cancelable("0")),
        ]
        try:
            async with asyncio.timeout(timeout_s):
                raw = await tasks[0]
                await tasks[1]
                return raw
        except TimeoutError:
            raise JSTimeoutException from None
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def syntax_error(self, code: str) -> SandboxError | None:
        """Compile ``code`` as the runner does, outside it, to get V8's error position."""
        body = '"use strict";\n' + code + f"\n//# sourceURL={SOURCE_NAME}"
        source = f"void new Function('nodes', 'trigger', 'env', {json.dumps(body)})"
        try:
            self._eval(source, _SYNTAX_CHECK_TIMEOUT_S)
        except (JSTimeoutException, JSOOMException):
            raise
        except JSEvalException as error:
            return _parse_syntax_message(str(error), code)
        return None


async def _new_racer() -> MiniRacer:
    return MiniRacer()  # bound to the running loop: the worker thread's own


def _parse_syntax_message(text: str, code: str) -> SandboxError:
    match = _SYNTAX_MESSAGE_RE.match(text)
    if match is None:
        found = re.search(r"SyntaxError: [^\n]*", text)
        return SandboxError(found.group(0) if found else "SyntaxError", kind="syntax")
    line = int(match.group(1)) - _LINE_OFFSET
    column = len(match.group(4)) + 1
    message = match.group(2)
    lines = code.split("\n")
    if line > len(lines):  # found in the wrapper's closing lines: the code ended early
        return SandboxError(
            f"{message} (at the end of the code)",
            kind="syntax",
            line=len(lines),
            column=len(lines[-1]) + 1,
        )
    if line < 1:
        return SandboxError(message, kind="syntax")
    return SandboxError(
        f"{message} (line {line}, column {column})", kind="syntax", line=line, column=column
    )


_Job = Callable[["_Worker"], Any]


class _Worker(threading.Thread):
    """A thread owning one event loop and (lazily) one isolate, closed on this thread.

    V8 isolates are created, used and closed on the same worker thread: closing one
    from another thread can crash the process inside mini-racer.
    """

    def __init__(self, sandbox: JavaScriptSandbox, index: int) -> None:
        super().__init__(name=f"workfuse-js-{index}", daemon=True)
        self.sandbox = sandbox
        self.loop: asyncio.AbstractEventLoop | None = None
        self.isolate: _Isolate | None = None

    def run(self) -> None:
        jobs = self.sandbox._jobs
        self.loop = asyncio.new_event_loop()
        try:
            while (job := jobs.get()) is not None:
                function, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(function(self))
                except BaseException as error:
                    future.set_exception(error)
                del job, function, future
        finally:
            self.discard()
            self.loop.close()

    def current_isolate(self) -> _Isolate:
        if self.isolate is None:
            assert self.loop is not None, "only the worker's own thread makes isolates"
            self.isolate = _Isolate(self.loop, self.sandbox.memory_limit)
            self.sandbox._count_isolate()
        return self.isolate

    def discard(self) -> None:
        """Close the isolate (after a timeout or out-of-memory, or at shutdown).

        If V8 is still inside an uninterruptible built-in this waits for it to end.
        """
        isolate, self.isolate = self.isolate, None
        if isolate is not None:
            isolate.racer.close()


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


__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_TIMEOUT_MS",
    "MAX_LOG_LINES",
    "MAX_LOG_LINE_CHARS",
    "MAX_TIMEOUT_MS",
    "JavaScriptSandbox",
    "ScriptResult",
    "check_syntax",
    "default_sandbox",
    "run_javascript",
]
