"""Corpus: JSONata that tries to exhaust time, memory or output, and the bound each case
must respect when run the way a transform runs it (in a sandbox process).

Every case runs with a time limit of :data:`LIMIT_MS` and must end within that limit
plus :data:`~tests.support.sandbox.GRACE_S`; the allowed outcomes say which limit may stop it. Built-in
functions on huge values cannot be interrupted inside the evaluator: those are the
cases where the pool must kill the process. After each case an ordinary call works,
and this process's memory has not grown with it.
"""

# ruff: noqa: E501  (a table of payloads reads best one per line)

from __future__ import annotations

import pytest

from tests.support.sandbox import assert_bounded
from workfuse.sandbox.pool import SandboxPool

LIMIT_MS = 1_000  #: each case's time limit

TIME = {"timeout"}
TIME_OR_MEMORY = {"timeout", "memory"}
REFUSED = {"error", "memory", "timeout"}
OUTPUT = {"output_too_large", "memory", "timeout"}
BOUNDED = {"ok", "error", "memory", "timeout", "output_too_large"}

CASES: list[tuple[str, str, set[str]]] = [
    # the probe's payloads
    ("distinct of three million", "$distinct([1..3000000])", TIME_OR_MEMORY),
    ("spread of a hundred thousand", "$spread([1..100000])", TIME_OR_MEMORY),
    ("count of two ten-million ranges", "$count([[1..10000000], [1..10000000]])", TIME_OR_MEMORY),
    # long work inside one built-in function
    ("sort with a comparator", "$sort([1..3000000], function($a, $b) { $a < $b })", TIME_OR_MEMORY),
    ("reduce ten million", "$reduce([1..10000000], function($a, $b) { $a + $b })", TIME_OR_MEMORY),
    ("string of five million", "$length($string([1..5000000]))", TIME_OR_MEMORY),
    ("join of mapped strings", "$length($join($map([1..3000000], $string)))", TIME_OR_MEMORY),
    ("zip two ranges", "$count($zip([1..5000000], [1..5000000]))", TIME_OR_MEMORY),
    ("sum of ten million", "$sum([1..10000000])", TIME_OR_MEMORY | {"ok"}),
    ("each of a big object", "$count($each($merge($map([1..1000000], function($v) { {$string($v): $v} })), function($v, $k) { $k }))", TIME_OR_MEMORY),
    ("cross product in a path", "$count([1..3000].([1..3000]))", TIME_OR_MEMORY),
    ("filter predicate on a range", "$count([1..10000000][$ % 7 = 0])", TIME_OR_MEMORY),
    ("group by a million keys", "$count($keys([1..1000000]{$string($): $}))", TIME_OR_MEMORY),
    ("exponential recursion", "($f := function($n) { $n <= 0 ? 0 : $f($n - 1) + $f($n - 1) }; $f(40))", TIME),
    ("deep recursion", "($f := function($n) { $f($n + 1) }; $f(0))", REFUSED),
    ("eval in a loop", "$reduce([1..1000000], function($a, $b) { $eval('$a + 1', {'a': $a}) }, 0)", TIME_OR_MEMORY),
    # strings and regular expressions
    ("pad to ten billion", '$pad("x", 1e10)', TIME_OR_MEMORY),
    ("pad then replace", '$length($replace($pad("", 10000000, "a"), "a", "bb"))', TIME_OR_MEMORY),
    ("split to characters", '$count($split($pad("", 50000000, "a"), ""))', TIME_OR_MEMORY),
    ("catastrophic regex", '$match($pad("", 40, "a") & "!", /(a+)+$/)', BOUNDED),
    ("regex on a long string", '$contains($pad("", 1000000, "x"), /(x+x+)+y/)', TIME),
    ("base64 of a big string", '$length($base64encode($pad("", 100000000, "a")))', BOUNDED),
    ("uppercase of a big string", '$length($uppercase($pad("", 100000000, "ß")))', TIME_OR_MEMORY),
    ("number formatting", '$formatNumber(1e300, "#,###")', BOUNDED),
    # output
    ("ten million numbers", "[1..10000000]", OUTPUT),
    ("a string past the output limit", '$pad("", 11000000, "x")', OUTPUT),
    ("range past its own limit", "[1..2147483647]", REFUSED),
]  # fmt: skip


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("expr", "allowed"),
    [pytest.param(expr, allowed, id=name) for name, expr, allowed in CASES],
)
def test_hostile_jsonata_stays_within_its_bounds(
    sandbox_pool: SandboxPool, expr: str, allowed: set[str]
) -> None:
    # Given hostile code, When it runs with a limit of 1 s, Then a limit stops it in time,
    # this process does not grow with it, and the next call is answered
    assert_bounded(sandbox_pool, "jsonata", expr, allowed, timeout_ms=LIMIT_MS)
