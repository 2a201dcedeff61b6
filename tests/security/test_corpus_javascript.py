"""Corpus: JavaScript that tries to exhaust time, memory or output, and the bound each
case must respect when run the way a transform runs it (in a sandbox process).

Every case runs with a time limit of :data:`LIMIT_MS` and must end, one way or the
other, within that limit plus :data:`~tests.support.sandbox.GRACE_S` (the pool kills a process past it); the
allowed outcomes say which limit may stop it. After each case an ordinary call works,
and this process's memory has not grown with the case.
"""

# ruff: noqa: E501  (a table of payloads reads best one per line)

from __future__ import annotations

import pytest

from tests.support.sandbox import assert_bounded
from workfuse.sandbox.pool import SandboxPool

LIMIT_MS = 1_000  #: each case's time limit

TIME = {"timeout"}
MEMORY = {"memory"}
TIME_OR_MEMORY = {"timeout", "memory"}
REFUSED = {"error", "memory", "timeout"}  # a RangeError from V8's own size limits counts
OUTPUT = {"output_too_large", "memory", "timeout"}
BOUNDED = {"ok", "error", "memory", "timeout"}  # any outcome, as long as it is in time

CASES: list[tuple[str, str, set[str]]] = [
    # time: plain loops, and long work inside one built-in (V8 cannot interrupt those)
    ("infinite loop", "while (true) {}", TIME),
    ("busy for loop", "for (let i = 0; ; i++) {}", TIME),
    ("promise loop", "(function f() { Promise.resolve().then(f) })(); return 1", TIME),
    ("async generator loop", "(async function () { for (;;) await null })(); return 1", TIME),
    ("fill a billion", "return Array(1e9).fill(0).length", TIME_OR_MEMORY),
    ("array from a billion", "return Array.from({ length: 1e9 }).length", TIME_OR_MEMORY),
    ("spread keys", "return [...Array(1e8).keys()].length", TIME_OR_MEMORY),
    ("sort a big array", "return Array(5e7).fill(1).map((_, i) => -i).sort().length", TIME_OR_MEMORY),
    ("stringify many objects", "return JSON.stringify(Array(3e7).fill({ a: [1] })).length", OUTPUT | REFUSED),
    ("catastrophic regex", "return /(a+)+$/.test('a'.repeat(40) + '!')", TIME),
    ("nested quantifier regex", "return /(x+x+)+y/.test('x'.repeat(40))", TIME),
    ("join a huge array", "return new Array(2 ** 28).join('ab').length", REFUSED | TIME),
    ("pad to a billion", "return ''.padEnd(1e9, 'x').length", REFUSED),
    ("repeat past V8's string limit", "return 'x'.repeat(2 ** 30).length", REFUSED),
    ("deep recursion", "function f(n) { return f(n + 1) + 1 } return f(0)", {"error"}),
    ("parse deep nesting", "return eval('['.repeat(1e6) + ']'.repeat(1e6))", REFUSED),
    ("compile a huge function", "return new Function('return ' + '1+'.repeat(2e7) + '1')()", BOUNDED),
    # memory: V8's heap, and memory outside it (ArrayBuffers, typed arrays, strings); a
    # slow machine may reach the time limit first
    ("heap growth", "const a = []; while (true) a.push({ x: Math.random() })", TIME_OR_MEMORY),
    ("string growth", "const a = []; while (true) a.push('x'.repeat(1e6) + Math.random())", TIME_OR_MEMORY),
    ("string doubling", "let s = 'a'; while (true) s = s + s", REFUSED),
    ("four 128 MB buffers", "const a = []; for (let i = 0; i < 4; i++) a.push(new Uint8Array(1 << 27).fill(1)); return a.length", MEMORY),
    ("endless buffers", "const a = []; while (true) a.push(new Float64Array(1e7).fill(1))", TIME_OR_MEMORY),
    ("one 8 GB buffer", "return new ArrayBuffer(2 ** 33).byteLength", MEMORY | REFUSED),
    ("resizable buffer", "const b = new ArrayBuffer(1, { maxByteLength: 2 ** 32 }); b.resize(2 ** 32); return new Uint8Array(b).fill(1).length", MEMORY | REFUSED),
    ("maps and sets", "const m = new Map(); for (let i = 0; ; i++) m.set(i, new Set([i]))", TIME_OR_MEMORY),
    ("buffers held by closures", "const keep = []; for (;;) { const b = new Uint8Array(1 << 24).fill(7); keep.push(() => b) }", TIME_OR_MEMORY),
    # output and logs
    ("an 11 MB result", "return 'x'.repeat(11 * 1024 * 1024)", OUTPUT),
    ("a result of many strings", "return Array(2e6).fill('abcdefgh')", OUTPUT),
    ("endless logging", "for (;;) console.log('x'.repeat(1e4))", TIME),
]  # fmt: skip


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("code", "allowed"),
    [pytest.param(code, allowed, id=name) for name, code, allowed in CASES],
)
def test_hostile_javascript_stays_within_its_bounds(
    sandbox_pool: SandboxPool, code: str, allowed: set[str]
) -> None:
    # Given hostile code, When it runs with a limit of 1 s, Then a limit stops it in time,
    # this process does not grow with it, and the next call is answered
    assert_bounded(sandbox_pool, "javascript", code, allowed, timeout_ms=LIMIT_MS)
