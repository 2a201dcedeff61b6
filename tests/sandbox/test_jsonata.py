"""The JSONata sandbox on the real jsonata-python: expressions, errors, limits, caching."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from workfuse.sandbox import MAX_INPUT_BYTES, SandboxError
from workfuse.sandbox import jsonata as jx

DOCUMENT: dict[str, Any] = {
    "nodes": {
        "fetch": {
            "status": 200,
            "body": {
                "items": [
                    {"name": "pen", "price": 3, "tags": ["office"]},
                    {"name": "ink", "price": 12.5, "tags": ["office", "refill"]},
                    {"name": "mug", "price": 8, "tags": ["kitchen"]},
                ]
            },
        }
    },
    "trigger": {
        "source": "webhook",
        "data": {"n": 21, "user": {"first": "ada", "last": "lovelace"}},
    },
    "env": {"REGION": "eu"},
}


def failure(expr: str, timeout_ms: int = 5_000, document: Any = None) -> SandboxError:
    with pytest.raises(SandboxError) as caught:
        jx.evaluate(expr, DOCUMENT if document is None else document, timeout_ms=timeout_ms)
    return caught.value


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("$sum(nodes.fetch.body.items.price)", 23.5),
        ("$count(nodes.fetch.body.items)", 3),
        ("$max(nodes.fetch.body.items.price)", 12.5),
        ("nodes.fetch.body.items[price > 5].name", ["ink", "mug"]),
        ("nodes.fetch.body.items[price > 10].name", "ink"),
        ("nodes.fetch.body.items['refill' in tags].name", "ink"),
        ("nodes.fetch.body.items.{'label': $uppercase(name), 'cents': price * 100}", [
            {"label": "PEN", "cents": 300},
            {"label": "INK", "cents": 1250},
            {"label": "MUG", "cents": 800},
        ]),
        ("nodes.fetch.body.items{name: price}", {"pen": 3, "ink": 12.5, "mug": 8}),
        ("$join(nodes.fetch.body.items.name, ', ')", "pen, ink, mug"),
        ("trigger.data.user.first & ' ' & $uppercase(trigger.data.user.last)", "ada LOVELACE"),
        ("$substringBefore('a-b-c', '-')", "a"),
        ("$split('a,b,c', ',')", ["a", "b", "c"]),
        ("$replace('Hello World', /o/, '0')", "Hell0 W0rld"),
        ("$contains('checkout down', /DOWN/i)", True),
        ("$match('order 42', /\\d+/).match", "42"),
        ("trigger.data.n > 20 ? 'big' : 'small'", "big"),
        ("$map([1, 2, 3], function($v) { $v * trigger.data.n })", [21, 42, 63]),
        ("($double := function($x) { $x * 2 }; $double(nodes.fetch.status))", 400),
        ("$sort(nodes.fetch.body.items, function($a, $b) { $a.price > $b.price }).name", [
            "pen", "mug", "ink",
        ]),
        ("env.REGION", "eu"),
        ("$keys(nodes)", "fetch"),
        ("[1..3]", [1, 2, 3]),
        ("nodes.fetch.status = 200 and env.REGION = 'eu'", True),
        ("$string({'a': [1, null]})", '{"a":[1,null]}'),
        ("null", None),
    ],
)  # fmt: skip
def test_expressions_are_evaluated_against_the_context(expr: str, expected: Any) -> None:
    # Given an expression over nodes, trigger and env
    # When it is evaluated
    result = jx.evaluate(expr, DOCUMENT)

    # Then the result is plain JSON data
    assert result == expected


@pytest.mark.parametrize(
    "expr", ["nothing.here", "nodes.fetch.missing", "nodes.fetch.body.items[price > 100]"]
)
def test_undefined_results_are_none(expr: str) -> None:
    # Given an expression that matches nothing
    # When it is evaluated
    # Then the result is None
    assert jx.evaluate(expr, DOCUMENT) is None


@pytest.mark.parametrize(
    ("expr", "code", "line", "column"),
    [
        ("$sum(nodes.fetch.body.items.price", "S0203", 1, 34),
        ("nodes.fetch[", "S0203", 1, 13),
        ("1 +\n  * 2", "S0201", 2, 6),
        ('"unterminated', "S0101", 1, 14),
    ],
)
def test_syntax_errors_report_their_position(expr: str, code: str, line: int, column: int) -> None:
    # Given an expression that does not parse
    # When it is evaluated
    error = failure(expr)

    # Then it is a syntax error with JSONata's code and the position
    assert error.kind == "syntax"
    assert error.message.startswith(code)
    assert (error.line, error.column) == (line, column)
    assert f"line {line}, column {column}" in error.message


def test_check_syntax_reports_without_evaluating() -> None:
    # Given a valid and an invalid expression
    # When their syntax is checked
    # Then only the invalid one has a message, with its position
    assert jx.check_syntax("$sum(nodes.fetch.body.items.price)") is None
    message = jx.check_syntax("a.(")
    assert message is not None
    assert message.startswith("S0203")
    assert "position 3" in message


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("$foo(1)", "T1006"),
        ("$sum('a')", "T0412"),
        ("'a' + 1", "T2001"),
        ("$number('abc')", "could not convert"),
        ("$error('custom failure')", "custom failure"),
    ],
)
def test_evaluation_errors_are_reported(expr: str, message: str) -> None:
    # Given an expression that fails while evaluating
    # When it is evaluated
    error = failure(expr)

    # Then it is an error with JSONata's code or message
    assert error.kind == "error"
    assert message in error.message


def test_a_function_result_is_refused() -> None:
    # Given an expression whose value is a function
    # When it is evaluated
    error = failure("function($x) { $x }")

    # Then it is refused as not JSON
    assert error.kind == "invalid_result"
    assert "function" in error.message


@pytest.mark.corpus
@pytest.mark.parametrize(
    "expr",
    [
        "($f := function($n) { $n <= 0 ? 0 : $f($n - 1) }; $f(100000000))",
        '$eval("($f := function($n) { $f($n + 1) }; $f(0))")',
        "$match('" + "a" * 40 + "b', /^(a|aa)+$/)",
    ],
)
def test_runaway_expressions_hit_the_time_limit(expr: str) -> None:
    # Given an endless tail-recursive loop, one hidden in $eval, and a backtracking regex
    # When each is evaluated under a 300 ms limit
    started = time.monotonic()
    error = failure(expr, timeout_ms=300)
    elapsed = time.monotonic() - started

    # Then it stops on time with a timeout
    assert error.kind == "timeout"
    assert "300 ms" in error.message
    assert elapsed < 2.0


def test_deep_recursion_is_bounded() -> None:
    # Given non-tail recursion far deeper than the depth limit
    # When it is evaluated
    error = failure("($f := function($n) { $n <= 0 ? 0 : $f($n - 1) + 1 }; $f(100000))")

    # Then it fails cleanly as too deep
    assert error.kind == "error"
    assert "too deeply" in error.message
    # And moderate recursion still works
    assert jx.evaluate("($f := function($n) { $n <= 0 ? 0 : $f($n - 1) + 1 }; $f(50))", {}) == 50


def test_an_input_over_the_limit_is_refused() -> None:
    # Given a context larger than the input limit
    # When an expression is evaluated on it
    error = failure("trigger", document={"trigger": "x" * (MAX_INPUT_BYTES + 1)})

    # Then it is refused as too large
    assert error.kind == "input_too_large"


def test_compiled_expressions_are_cached_and_shared() -> None:
    # Given an expression compiled once
    expr = "$sum(nodes.fetch.body.items.price) * 2"
    first = jx.compile_expression(expr)

    # When it is compiled again and evaluated
    again = jx.compile_expression(expr)
    result = jx.evaluate(expr, DOCUMENT)

    # Then the same compiled object is reused, and the cache is bounded
    assert again is first
    assert result == 47
    assert jx._compile_cached.cache_info().maxsize == jx.CACHE_SIZE


def test_a_cached_expression_keeps_its_full_time_limit_later() -> None:
    # Given an expression compiled a while ago (the library's own timebox would count
    # from compilation)
    expr = "$sum([1..1000])"
    jx.evaluate(expr, {}, timeout_ms=50)
    time.sleep(0.1)

    # When it is evaluated again with a 50 ms limit
    # Then it still succeeds
    assert jx.evaluate(expr, {}, timeout_ms=50) == 500500


def test_one_cached_expression_evaluated_from_many_threads() -> None:
    # Given one expression and twenty different inputs
    expr = "$sum(trigger.data.values) + trigger.data.n"

    def evaluate(n: int) -> Any:
        return jx.evaluate(expr, {"trigger": {"data": {"n": n, "values": list(range(n))}}})

    # When they are evaluated concurrently from eight threads
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(evaluate, range(20)))

    # Then each evaluation saw its own input
    assert results == [n * (n - 1) // 2 + n for n in range(20)]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("$number('x')", "could not convert string to float"),
        ("1/0", "division by zero"),
        ("$power(10, 400)", "a number is out of range"),
        ("$sort([1, 'a'])", "not supported between"),
        ("$toMillis('zzz')", "Invalid isoformat string"),
        ("$encodeUrl('\\ud800')", "cannot be encoded"),
    ],
)
def test_errors_without_a_jsonata_code_name_no_python_exception_type(
    expr: str, message: str
) -> None:
    # Given an expression that fails inside the library, not with a JSONata error code
    # When it is evaluated
    error = failure(expr)

    # Then the message says what went wrong in plain words, never a Python type name
    assert error.kind == "error"
    assert message in error.message
    for name in ("ValueError", "ZeroDivisionError", "OverflowError", "TypeError", "Error:"):
        assert name not in error.message


def test_error_messages_are_bounded() -> None:
    # Given a failure whose library message repeats the (large) input
    document = {"trigger": {"data": "x" * 100_000}}

    # When it is evaluated
    error = failure("$substring(trigger)", document=document)

    # Then its message is cut to the limit
    assert len(error.message) <= jx.MAX_MESSAGE_CHARS


def test_now_is_the_time_of_the_evaluation() -> None:
    # Given a compiled expression using $millis()
    jx.evaluate("$millis()", {})
    time.sleep(0.05)

    # When it is evaluated again
    before = time.time() * 1000
    value = jx.evaluate("$millis()", {})

    # Then it reports the time of this evaluation, not of the first one
    assert value >= before - 5
