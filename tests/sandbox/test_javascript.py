"""JavaScript on a real V8 (mini-racer): results, limits, isolation, reuse.

Most tests run the in-process runner (what a sandbox process runs) for speed; those
about threads, event loops and the process around it go through the sandbox pool.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from workfuse.sandbox import MAX_INPUT_BYTES, SandboxError
from workfuse.sandbox.javascript import MAX_LOG_LINE_CHARS, MAX_LOG_LINES, ScriptResult
from workfuse.sandbox.javascript.runner import JavaScriptRunner
from workfuse.sandbox.pool import default_pool, run_javascript

DOCUMENT: dict[str, Any] = {
    "nodes": {
        "fetch": {
            "status": 200,
            "body": {"items": [{"name": "pen", "price": 3}, {"name": "ink", "price": 12.5}]},
        }
    },
    "trigger": {"source": "webhook", "data": {"n": 21, "tags": ["a", "b"]}, "headers": {}},
    "env": {"REGION": "eu"},
}

#: Every global a locked-down isolate may have: ECMAScript's, our console and runner,
#: and mini-racer's timer names (set to undefined).
STANDARD_GLOBALS = {
    "Object", "Function", "Array", "Number", "parseFloat", "parseInt", "Infinity", "NaN",
    "undefined", "Boolean", "String", "Symbol", "Date", "Promise", "RegExp", "Error",
    "AggregateError", "EvalError", "RangeError", "ReferenceError", "SyntaxError",
    "TypeError", "URIError", "globalThis", "JSON", "Math", "Intl", "ArrayBuffer",
    "Uint8Array", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array",
    "BigUint64Array", "BigInt64Array", "Uint8ClampedArray", "Float32Array", "Float64Array",
    "Float16Array", "DataView", "Map", "BigInt", "Set", "Iterator", "WeakMap", "WeakSet",
    "Proxy", "Reflect", "decodeURI", "decodeURIComponent", "encodeURI",
    "encodeURIComponent", "escape", "unescape", "eval", "isFinite", "isNaN", "Temporal",
    "SuppressedError", "DisposableStack", "AsyncDisposableStack", "console",
    "__workfuse_run", "__timer_manager", "setTimeout", "clearTimeout",
}  # fmt: skip


@pytest.fixture
def sandbox() -> Iterator[JavaScriptRunner]:
    """One isolate, shared by consecutive calls unless it is replaced."""
    box = JavaScriptRunner()
    yield box
    box.close()


def check_syntax(code: str) -> str | None:
    return default_pool().check_javascript(code)


def run(box: JavaScriptRunner, code: str, timeout_ms: int = 5_000) -> ScriptResult:
    return box.run(code, DOCUMENT, timeout_ms=timeout_ms)


def failure(box: JavaScriptRunner, code: str, timeout_ms: int = 5_000) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        box.run(code, DOCUMENT, timeout_ms=timeout_ms)
    return caught.value


# -- results -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("return trigger.data.n * 2", 42),
        ("return nodes.fetch.body.items.map(i => i.name)", ["pen", "ink"]),
        ("return nodes.fetch.body.items.reduce((s, i) => s + i.price, 0)", 15.5),
        (
            "return {region: env.REGION, count: trigger.data.tags.length}",
            {"region": "eu", "count": 2},
        ),
        ("const x = 1;\nlet y = x + 1;\nreturn `${y}!`", "2!"),
        ("return null", None),
        ("return true", True),
        ("return [1, undefined, () => 1].length", 3),
        ("return {a: undefined, b: 1}", {"b": 1}),
        ("return [NaN, Infinity]", [None, None]),
        ("return new Date(Date.UTC(2026, 0, 2, 3, 4, 5))", "2026-01-02T03:04:05.000Z"),
        ("return {when: new Date(0)}", {"when": "1970-01-01T00:00:00.000Z"}),
        ("return typeof this", "undefined"),
        ("return Object.fromEntries(new Map([['k', 1]]))", {"k": 1}),
        ("return JSON.parse(JSON.stringify(trigger.data)).n", 21),
        ("return 'é ü 日本 😀'", "é ü 日本 😀"),
    ],
)
def test_the_return_value_is_the_result(
    sandbox: JavaScriptRunner, code: str, expected: Any
) -> None:
    # Given code that returns a value computed from the context
    # When it runs
    result = run(sandbox, code)

    # Then the value comes back as plain JSON data, with nothing logged
    assert result.value == expected
    assert result.logs == []


@pytest.mark.parametrize("code", ["return", "return undefined", "const a = 1", "return void 0"])
def test_undefined_is_none(sandbox: JavaScriptRunner, code: str) -> None:
    # Given code that returns nothing
    # When it runs
    # Then the result is None
    assert run(sandbox, code).value is None


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("return () => 1", "the result is a function"),
        ("return {f() {}}", 'the value at key "f" is a function'),
        ("return Symbol('s')", "the result is a symbol"),
        ("return {s: Symbol('s')}", 'the value at key "s" is a symbol'),
        ("return 10n", "the result is a BigInt"),
        ("return Promise.resolve(1)", "the result is a Promise"),
        ("return new Map([[1, 2]])", "the result is a Map"),
        ("return {s: new Set()}", 'the value at key "s" is a Set'),
        ("const o = {}; o.me = o; return o", "circular structure"),
    ],
)
def test_results_that_are_not_json_are_refused_clearly(
    sandbox: JavaScriptRunner, code: str, reason: str
) -> None:
    # Given code returning something JSON cannot hold
    # When it runs
    error = failure(sandbox, code)

    # Then it fails as an invalid result naming what is wrong
    assert error.kind == "invalid_result"
    assert reason in error.message


def test_a_result_over_the_output_limit_is_refused(sandbox: JavaScriptRunner) -> None:
    # Given code returning an 11 MB string
    # When it runs
    error = failure(sandbox, "return 'x'.repeat(11 * 1024 * 1024)")

    # Then it fails as too large, and the isolate keeps working
    assert error.kind == "output_too_large"
    assert run(sandbox, "return 1").value == 1


def test_an_input_over_the_limit_is_refused_before_running(sandbox: JavaScriptRunner) -> None:
    # Given a context larger than the input limit
    document = {"trigger": {"data": "x" * (MAX_INPUT_BYTES + 1)}}

    # When a transform runs on it
    with pytest.raises(SandboxError) as caught:
        sandbox.run("return 1", document)

    # Then it is refused as too large
    assert caught.value.kind == "input_too_large"
    assert "too large" in caught.value.message


def test_context_values_json_lacks_are_converted(sandbox: JavaScriptRunner) -> None:
    # Given a context holding a datetime, a tuple and a NaN
    import datetime as dt

    document = {
        "trigger": {
            "data": {"at": dt.datetime(2026, 1, 2, 3, 4, 5), "pair": (1, 2), "x": float("nan")}
        }
    }

    # When code reads them
    result = sandbox.run("return trigger.data", document)

    # Then they arrive as an ISO string, a list and null
    assert result.value == {"at": "2026-01-02T03:04:05", "pair": [1, 2], "x": None}


# -- read-only context ---------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize(
    "code",
    [
        "trigger.data.n = 5",
        "trigger.data.extra = 1",
        "trigger.data.tags.push('c')",
        "delete nodes.fetch.status",
        "env.REGION = 'us'",
        "nodes.fetch.body.items[0].price = 0",
        "Object.setPrototypeOf(trigger, null)",
    ],
)
def test_the_context_is_deeply_frozen_and_writing_throws(
    sandbox: JavaScriptRunner, code: str
) -> None:
    # Given code that tries to change the context (strict mode: writes throw)
    # When it runs
    error = failure(sandbox, code + "; return 1")

    # Then it fails with V8's TypeError, at line 1
    assert error.kind == "error"
    assert error.message.startswith("TypeError:")
    assert error.line == 1


def test_a_copy_of_the_context_can_be_changed(sandbox: JavaScriptRunner) -> None:
    # Given code that copies the data before changing it
    code = "const d = {...trigger.data, n: 1}; const t = [...d.tags, 'c']; return [d.n, t]"

    # When it runs
    # Then the copies are ordinary objects
    assert run(sandbox, code).value == [1, ["a", "b", "c"]]


def test_inherited_names_can_still_be_assigned_on_own_objects(sandbox: JavaScriptRunner) -> None:
    # Given the usual overrides of properties that live on frozen built-in prototypes
    code = """
    class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }
    const o = {}; o.toString = () => 'custom'; o.constructor = 'c';
    const e = new Error('x'); e.message = 'changed';
    return [new MyError('m').name, String(o), o.constructor, e.message]
    """

    # When it runs
    # Then they work as in any JavaScript engine
    assert run(sandbox, code).value == ["MyError", "custom", "c", "changed"]


# -- console -------------------------------------------------------------------------


def test_console_output_is_captured_into_logs(sandbox: JavaScriptRunner) -> None:
    # Given code logging strings, objects and at every level
    code = """
    console.log('hello', 42, {a: [1, 2]}, null, undefined);
    console.info('info'); console.debug('debug');
    console.warn('careful'); console.error(new TypeError('bad'));
    return 'done'
    """

    # When it runs
    result = run(sandbox, code)

    # Then the lines are in logs, in order, warnings and errors marked
    assert result.value == "done"
    assert result.logs[:4] == [
        'hello 42 {"a":[1,2]} null undefined',
        "info",
        "debug",
        "[warn] careful",
    ]
    assert result.logs[4].startswith("[error] TypeError: bad")


def test_logs_are_bounded_in_lines_and_length(sandbox: JavaScriptRunner) -> None:
    # Given code logging more lines than allowed, one of them very long
    code = (
        f"console.log('y'.repeat({MAX_LOG_LINE_CHARS} + 50));"
        f"for (let i = 0; i < {MAX_LOG_LINES} + 500; i++) console.log(i); return 1"
    )

    # When it runs
    logs = run(sandbox, code).logs

    # Then the long line is cut, the extra lines dropped and counted
    assert len(logs[0]) == MAX_LOG_LINE_CHARS + len(" [truncated]")
    assert logs[0].endswith(" [truncated]")
    assert len(logs) == MAX_LOG_LINES + 1
    assert logs[-1] == "[501 more log lines dropped]"


def test_logs_do_not_carry_over_to_the_next_call(sandbox: JavaScriptRunner) -> None:
    # Given a call that logged
    run(sandbox, "console.log('first'); return 1")

    # When the next call logs something else
    # Then it sees only its own line
    assert run(sandbox, "console.log('second'); return 2").logs == ["second"]


# -- errors --------------------------------------------------------------------------


def test_a_thrown_error_reports_its_message_and_line(sandbox: JavaScriptRunner) -> None:
    # Given code that throws on its third line
    code = "const a = 1;\nconst b = 2;\n  throw new Error('boom ' + (a + b));"

    # When it runs
    error = failure(sandbox, code)

    # Then the message and the position in the user's code are reported
    assert error.kind == "error"
    assert error.message == "Error: boom 3 (line 3, column 9)"
    assert (error.line, error.column) == (3, 9)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("throw 'plain text'", "plain text"),
        ("null.x", "TypeError: Cannot read properties of null (reading 'x')"),
        ("undefinedName + 1", "ReferenceError: undefinedName is not defined"),
        ("leaked = 1", "ReferenceError: leaked is not defined"),
        ("function f() { f() } f()", "RangeError: Maximum call stack size exceeded"),
        ("throw {toString() { throw new Error('nested') }}", "an exception that cannot be printed"),
    ],
)
def test_runtime_errors_are_reported(sandbox: JavaScriptRunner, code: str, message: str) -> None:
    # Given code that fails at run time
    # When it runs
    error = failure(sandbox, code)

    # Then it is an error carrying the JavaScript message
    assert error.kind == "error"
    assert message in error.message


@pytest.mark.parametrize(
    ("code", "message", "line", "column"),
    [
        ("let a = 1;\nreturn a +* 2;", "SyntaxError: Unexpected token '*'", 2, 11),
        ("return 1 +;", "SyntaxError: Unexpected token ';'", 1, 11),
        (
            "with (trigger) { return data }",
            "SyntaxError: Strict mode code may not include a with",
            1,
            1,
        ),
        ("return (1 +", "SyntaxError: Unexpected token '}'", 1, 12),
        ("}); globalThis.escaped = 1; (function () {", "SyntaxError", None, None),
    ],
)
def test_syntax_errors_report_their_position(
    sandbox: JavaScriptRunner, code: str, message: str, line: int | None, column: int | None
) -> None:
    # Given code that does not parse as a strict function body
    # When it runs
    error = failure(sandbox, code)

    # Then it is a syntax error with the position in the user's code
    assert error.kind == "syntax"
    assert message in error.message
    if line is not None:
        assert (error.line, error.column) == (line, column)
    # and nothing of it ran: breaking out of the function body is not possible
    assert run(sandbox, "return typeof escaped").value == "undefined"


def test_check_syntax_reports_without_running() -> None:
    # Given valid code, invalid code and code that would loop if it ran
    # When their syntax is checked
    # Then only the invalid one has a message, with its position
    assert check_syntax("return trigger.data.n") is None
    assert check_syntax("while (true) {}") is None
    assert check_syntax("return 1 +;") == "SyntaxError: Unexpected token ';' (line 1, column 11)"
    message = check_syntax("const x = ;\n")
    assert message is not None
    assert "line 1" in message


# -- no host access ------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize(
    "name",
    [
        "require", "process", "fetch", "XMLHttpRequest", "WebSocket", "Deno", "Bun",
        "module", "exports", "importScripts", "setTimeout", "setInterval", "setImmediate",
        "queueMicrotask", "WebAssembly", "SharedArrayBuffer", "Atomics", "WeakRef",
        "FinalizationRegistry", "load", "read", "readline", "print", "quit", "os",
    ],
)  # fmt: skip
def test_no_host_function_is_reachable(sandbox: JavaScriptRunner, name: str) -> None:
    # Given code probing for a host facility
    # When it runs
    # Then the name is undefined
    assert run(sandbox, f"return typeof {name}").value == "undefined"


def test_the_global_object_holds_only_standard_javascript(sandbox: JavaScriptRunner) -> None:
    # Given the sloppy-mode global object, reached through the Function constructor
    code = "return Object.getOwnPropertyNames(Function('return this')())"

    # When its names are listed
    names = set(run(sandbox, code).value)

    # Then they are all ECMAScript built-ins (plus console and the runner)
    assert names <= STANDARD_GLOBALS


def test_dynamic_import_cannot_load_anything(sandbox: JavaScriptRunner) -> None:
    # Given code that tries to import a Node module
    # When it runs
    error = failure(sandbox, "return import('fs')")

    # Then it only gets a promise back, which is refused
    assert error.kind == "invalid_result"


# -- limits --------------------------------------------------------------------------


def test_an_infinite_loop_hits_the_time_limit_and_the_isolate_recovers(
    sandbox: JavaScriptRunner,
) -> None:
    # Given a warm isolate
    assert run(sandbox, "return 1").value == 1
    created = sandbox.isolates_created

    # When code loops forever under a 300 ms limit
    started = time.monotonic()
    error = failure(sandbox, "while (true) {}", timeout_ms=300)
    elapsed = time.monotonic() - started

    # Then V8 stops it on time with a timeout error
    assert error.kind == "timeout"
    assert "300 ms" in error.message
    assert 0.29 <= elapsed < 2.0
    # And the next call works, on a fresh isolate
    assert run(sandbox, "return 2").value == 2
    assert sandbox.isolates_created == created + 1


def test_a_promise_callback_that_loops_is_inside_the_time_limit(
    sandbox: JavaScriptRunner,
) -> None:
    # Given code whose result is ready but whose queued microtask loops forever
    code = "Promise.resolve().then(() => { while (true) {} }); return 1"

    # When it runs under a 300 ms limit
    error = failure(sandbox, code, timeout_ms=300)

    # Then the call times out (not the next one), and the next call works
    assert error.kind == "timeout"
    assert run(sandbox, "return 3").value == 3


def test_a_memory_bomb_hits_the_memory_limit_and_the_isolate_recovers(
    sandbox: JavaScriptRunner,
) -> None:
    # Given a warm isolate
    assert run(sandbox, "return 1").value == 1
    created = sandbox.isolates_created

    # When code allocates without end
    error = failure(sandbox, "let a = []; while (true) a.push(new Array(1e6).fill(1))")

    # Then V8's heap limit stops it with a memory error
    assert error.kind == "memory"
    assert "128 MB" in error.message
    # And the next call works, on a fresh isolate
    assert run(sandbox, "return [1, 2].length").value == 2
    assert sandbox.isolates_created == created + 1


def test_the_default_time_limit_is_bounded(sandbox: JavaScriptRunner) -> None:
    # Given an absurd timeout
    # When a quick call runs with it
    # Then the call works (the limit is clamped to 60 s)
    assert sandbox.run("return 1", DOCUMENT, timeout_ms=10**9).value == 1


# -- isolation between calls ---------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("attempt", "check", "clean"),
    [
        ("globalThis.leak = 1", "typeof globalThis.leak", "undefined"),
        ("Object.defineProperty(globalThis, 'leak', {value: 1})", "typeof leak", "undefined"),
        ("(0, eval)('var leak = 1')", "typeof leak", "undefined"),
        ("(0, eval)('function leak() {}')", "typeof leak", "undefined"),
        ("Object.prototype.leak = 1", "({}).leak", None),
        ("Array.prototype.push = () => 0", "[].push(1)", 1),
        ("Array.prototype.map = null", "typeof [].map", "function"),
        ("JSON.stringify = () => 'x'", "JSON.stringify(1)", "1"),
        ("Math.max = () => 0", "Math.max(1, 2)", 2),
        ("String.prototype.trim = () => 'x'", "' a '.trim()", "a"),
        ("Function.prototype.call = null", "typeof Function.prototype.call", "function"),
        ("Object.getPrototypeOf([].values()).leak = 1", "[].values().leak", None),
        ("Iterator.prototype.leak = 1", "[].values().leak", None),
        ("Object.getPrototypeOf(function* () {}).leak = 1", "(function* () {}).leak", None),
        ("Object.getPrototypeOf(async function () {}).leak = 1", "(async () => {}).leak", None),
        ("Object.getPrototypeOf(Int8Array).leak = 1", "Uint8Array.leak", None),
        ("Error.prepareStackTrace = () => 'x'", "typeof Error.prepareStackTrace", "undefined"),
        ("Error.stackTraceLimit = 0", "Error.stackTraceLimit", 10),
        ("console.log = null", "typeof console.log", "function"),
        ("Symbol.leak = 1", "Symbol.leak", None),
        ("Date.now = () => 0", "Date.now() > 0", True),
        ("/(s\\w+)/.exec('a secret here')", "typeof RegExp.$1", "undefined"),
    ],
)
def test_nothing_one_call_does_is_visible_to_the_next(
    sandbox: JavaScriptRunner, attempt: str, check: str, clean: Any
) -> None:
    # Given a call that tries to leave something behind in the shared isolate
    run(sandbox, f"try {{ {attempt} }} catch (e) {{}} return 1")
    created = sandbox.isolates_created

    # When the next call, on the same isolate, looks for it
    result = run(sandbox, f"return {check}")

    # Then it finds the isolate as it was
    assert result.value == clean
    assert sandbox.isolates_created == created


def test_the_same_code_compiled_once_stays_clean(sandbox: JavaScriptRunner) -> None:
    # Given code that tries to remember state on itself between runs
    code = "const seen = typeof counter === 'undefined' ? 0 : counter; return seen"

    # When it runs twice with the same text (the compiled function is cached)
    # Then both runs see the same fresh world
    assert run(sandbox, code).value == 0
    assert run(sandbox, code).value == 0


@pytest.mark.parametrize(
    "reach",
    [
        "String(__workfuse_run)",
        "__workfuse_run.toString()",
        "Function.prototype.toString.call(__workfuse_run)",
        "String(console.log)",
        "String(Object.getOwnPropertyDescriptor(Object.prototype, 'toString').get)",
    ],
)
def test_user_code_cannot_read_the_sandbox_s_own_source(
    sandbox: JavaScriptRunner, reach: str
) -> None:
    # Given code printing a function of the sandbox's own
    # When it runs
    source = run(sandbox, f"return {reach}").value

    # Then it reads as native code, never as the runner's JavaScript
    assert "[native code]" in source
    assert "inputJson" not in source and "logs" not in source and "newValue" not in source


def test_the_runner_cannot_be_called_from_user_code(sandbox: JavaScriptRunner) -> None:
    # Given code calling the runner itself
    # When it runs
    error = failure(sandbox, "return __workfuse_run('return 1', '{}', 1, 1, 1)")

    # Then the runner refuses to re-enter
    assert "not re-entrant" in error.message


# -- threads and the event loop ------------------------------------------------------


def test_parallel_async_calls_with_one_timing_out() -> None:
    # Given eight transforms started together, one of which loops forever
    async def main() -> list[Any]:
        calls = [
            run_javascript("return trigger.data.n * 10", {"trigger": {"data": {"n": n}}})
            for n in range(7)
        ]
        calls.append(run_javascript("while (true) {}", {}, timeout_ms=300))
        return await asyncio.gather(*calls, return_exceptions=True)

    # When they run on the default sandbox
    results = asyncio.run(main())

    # Then the seven others succeed and the looping one times out
    assert [r.value for r in results[:7] if isinstance(r, ScriptResult)] == [
        n * 10 for n in range(7)
    ]
    assert isinstance(results[7], SandboxError)
    assert results[7].kind == "timeout"


def test_a_long_transform_does_not_block_the_event_loop() -> None:
    # Given a transform that computes for about 300 ms
    async def main() -> tuple[int, float]:
        ticks = 0
        stop = threading.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not stop.is_set():
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        code = "const end = Date.now() + 300; while (Date.now() < end) {} return 1"
        await run_javascript(code, {})
        elapsed = time.monotonic() - started
        stop.set()
        await task
        return ticks, elapsed

    # When it runs while another task ticks every 10 ms
    ticks, elapsed = asyncio.run(main())

    # Then the ticker kept running meanwhile
    assert elapsed >= 0.29
    assert ticks >= 10
