"""Corpus: templates that try to exhaust time, memory or the parser, and the bound each
must respect.

A case is a source rendered against :func:`hostile_context` (large but plausible node
outputs: a 10 MB text, a list of 3 million items, a dict of 200,000 keys...) with the
outcomes it may have: ``ok`` (the render finished within the output limits) or the
kind of :class:`~workfuse.templating.TemplateError` that stops it, whose message must
be short and plain. Every case must end within its time bound (:data:`FAST_S` for
what is refused before the work is done, :data:`SLOW_S` for what only the render's
clock can stop), and, rendered a second time under tracemalloc (which slows
allocations several times over, so that run is not timed), hold at most
:data:`PEAK_BYTES` at once; the next ordinary render must work.

The cases are grouped by the class of attack rather than by payload: each group has
the issue's payloads where they belong and variants that reach the same cost another
way (another filter, method, operator, codec, a value from the context instead of one
built by the template...). A suite that only replayed known payloads would not show
the class is closed; a new filter, method or helper belongs here with its worst input.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from workfuse.templating import (
    MAX_OUTPUT_CHARS,
    MAX_RENDER_SECONDS,
    MAX_VALUE_CHARS,
    TemplateError,
    render,
    validate_template,
)

FAST_S = 0.75  #: refused before the expensive step (generous: a loaded CI machine)
SLOW_S = MAX_RENDER_SECONDS + 1.0  #: stopped by the clock: the limit, one step, slack
PEAK_BYTES = 64_000_000  #: the render's budget (32 MB) and one bounded temporary

LIMIT = frozenset({"limit"})
BOUNDED = frozenset({"ok", "limit"})  #: finishes in time on a fast machine, else stopped
SYNTAX = frozenset({"syntax"})
REFUSED = frozenset({"security", "undefined", "runtime", "limit"})


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    outcomes: frozenset[str] = LIMIT
    seconds: float = FAST_S


def _slow(name: str, source: str, outcomes: frozenset[str] = LIMIT) -> Case:
    return Case(name, source, outcomes, SLOW_S)


MB = "('x' * 999999)"  #: a text at the size limit, built by the template
BIG = "trigger.data.big"  #: 10,000,000 characters from the context
ROWS = "trigger.data.rows"  #: 3,000,000 items from the context

CASES: list[Case] = [
    # --- super-linear builtins: refused or bounded before they run -------------------
    Case("issue: urlize's quadratic regex", "{{ ('.'*6000 ~ 'a.')|urlize|length }}"),
    Case("urlize on context text", "{{ " + BIG + " | urlize }}"),
    Case("urlize through map", "{{ ['.' * 6000 ~ 'a.'] | map('urlize') | list }}", REFUSED),
    Case("pprint (output grows with depth x size)", "{{ [[[[1]]]] | pprint }}"),
    Case("wordwrap: one long word, width 1", "{{ ('a' * 99999) | wordwrap(1) | length }}"),
    Case("wordwrap: whitespace run", "{{ (' ' * 99999 ~ 'a') | wordwrap(1) | length }}"),
    Case("wordwrap: long text", "{{ ('a ' * 500000) | wordwrap(79) | length }}"),
    Case(
        "wordwrap: many paragraphs at the caps",
        "{{ (('\\t' * 4999 ~ '\\n') * 20) | wordwrap(1) | length }}",
        BOUNDED,
    ),
    Case(
        "wordwrap: separator multiplies lines",
        "{{ ('a' * 4999) | wordwrap(1, wrapstring='x' * 1000) | length }}",
    ),
    Case("strip: text x character set", "{{ " + MB + ".strip('b' * 999999 ~ 'x') | length }}"),
    Case("trim: text x character set", "{{ " + MB + " | trim('b' * 999999 ~ 'x') | length }}"),
    Case("lstrip on bytes", "{{ " + MB + ".encode().lstrip(('b' * 5000).encode()) | length }}"),
    Case("round: 10 ** precision", "{{ 1.5 | round(100000000, 'floor') }}"),
    Case("round: negative precision", "{{ 5 | round(-100000000) }}"),
    Case("power of integers", "{{ 2 ** (10 ** 8) }}"),
    Case("power tower", "{{ 2 ** (2 ** (2 ** (2 ** (2 ** 2)))) }}"),
    Case("product of huge integers", "{{ (10 ** 3000) * (10 ** 3000) }}"),
    Case("integer from a long binary string", "{{ ('1' * 999999) | int(base=2) > 0 }}"),
    Case("integer from a long hex string", "{{ (('f' * 999999) | int(base=16)) // 3 }}"),
    Case("sort keys with long attribute paths", "{{ [{}] | sort(attribute='a.' * 500 ~ 'a') }}"),
    Case("groupby keys with long attribute paths", "{{ [{}] | groupby('a.' * 500 ~ 'a') }}"),
    Case("map attribute with long paths", "{{ [{}] | map(attribute='a,' * 500 ~ 'a') | list }}"),
    Case("formatDate with a huge format (cached)", "{{ formatDate(0, 'YYYY' * 100000) }}"),
    Case("get with a huge path", "{{ get(trigger.data, '.' * 999999) }}", REFUSED),
    # --- size of every intermediate value --------------------------------------------
    Case("issue: chained encode().hex()", "{{ " + MB + ".encode().hex()" * 5 + " | length }}"),
    Case("hex with separators", "{{ ('x' * 400000).encode().hex(':') | length }}"),
    Case("encode utf-32", "{{ " + MB + ".encode('utf-32') | length }}"),
    Case("encode utf-16 then hex", "{{ ('x' * 300000).encode('utf-16').hex() | length }}"),
    Case(
        "encode with xmlcharrefreplace",
        "{{ trigger.data.emoji.encode('ascii', 'xmlcharrefreplace') | length }}",
    ),
    Case(
        "encode with backslashreplace",
        "{{ trigger.data.emoji.encode('ascii', 'backslashreplace') | length }}",
    ),
    Case("encode with namereplace", "{{ 'é'.encode('ascii', 'namereplace') }}", REFUSED),
    Case(
        "encode with unicode_escape", "{{ ('\\x00' * 999999).encode('unicode_escape') }}", REFUSED
    ),
    Case("encode with a bytes codec", "{{ 'x'.encode('zlib') }}", REFUSED),
    Case("encode with punycode (quadratic)", "{{ ('é' * 99999).encode('punycode') }}", REFUSED),
    Case(
        "decode with backslashreplace",
        "{{ ('\\xff' * 999999).encode('latin-1').decode('ascii', 'backslashreplace') | length }}",
    ),
    Case("upper on expanding characters", "{{ ('ß' * 999999).upper() | length }}"),
    Case("upper of ligatures, twice", "{{ ('ﬃ' * 999999).upper().upper() | length }}"),
    Case("upper filter", "{{ ('ß' * 999999) | upper | length }}"),
    Case("uppercase helper", "{{ ('ß' * 999999) | uppercase | length }}"),
    Case("title filter on context text", "{{ " + BIG + " | title | length }}"),
    Case("casefold", "{{ ('ß' * 999999).casefold() | length }}"),
    Case("swapcase on context text", "{{ " + BIG + ".swapcase() | length }}"),
    Case("escape expands 5x", "{{ ('<' * 999999) | e | length }}"),
    Case("escape of markup joins", "{{ ('x' | safe).join(['<' * 999999]) | length }}"),
    Case("urlencode expands", "{{ trigger.data.emoji | urlencode | length }}"),
    Case("tojson escapes", "{{ ('<' * 999999) | tojson | length }}"),
    Case("tojson of non-ASCII", "{{ trigger.data.emoji | tojson | length }}"),
    Case("jsonStringify escapes", "{{ jsonStringify(['\\x00' * 999999]) | length }}"),
    Case("xmlattr escapes", "{{ {'a': '<' * 999999} | xmlattr | length }}"),
    Case("striptags of context text", "{{ " + BIG + " | striptags | length }}"),
    Case("repeat a text", "{{ 'a' * 10 ** 8 }}"),
    Case("repeat a list", "{{ [0] * 10 ** 9 }}"),
    Case("repeat a context list", "{{ (" + ROWS + " * 2) | length }}"),
    Case("join two large texts", "{{ (" + MB + " ~ " + MB + ") | length }}"),
    Case("add two large texts", "{{ (" + MB + " + " + MB + ") | length }}"),
    Case("add a context list", "{{ (" + ROWS + " + []) | length }}"),
    Case("center", "{{ 'x'.center(10 ** 9) }}"),
    Case("ljust on bytes", "{{ 'x'.encode().ljust(10 ** 9) }}"),
    Case("zfill", "{{ 'x'.zfill(10 ** 9) }}"),
    Case("center filter", "{{ 'x' | center(10 ** 9) }}"),
    Case("expandtabs", "{{ ('\\t' * 99999).expandtabs(100) | length }}"),
    Case("replace expands", "{{ ('a' * 1000).replace('a', 'b' * 10000) }}"),
    Case("replace the empty string", "{{ " + MB + ".replace('', 'b') | length }}"),
    Case("replace filter", "{{ ('a' * 1000) | replace('a', 'b' * 10000) }}"),
    Case("translate expands", "{{ " + MB + ".translate({120: 'yy'}) | length }}"),
    Case("maketrans of huge tables", "{{ ''.maketrans('x' * 999999, 'y' * 999999) | length }}"),
    Case("indent many lines", "{{ ('a\\n' * 1000) | indent(10 ** 6) }}"),
    Case("indent with a long prefix", "{{ ('a\\n' * 500000) | indent('xx') | length }}"),
    Case("percent width", "{{ '%1000000000d' % 1 }}"),
    Case("percent star width", "{{ '%*d' % (10 ** 9, 1) }}"),
    Case("percent repeated key", "{{ ('%(a)s' * 1000) % {'a': " + MB + "} }}"),
    Case("percent repr expands", "{{ '%r' % ('\\x00' * 999999) }}"),
    Case("format filter width", "{{ '%1000000000d' | format(1) }}"),
    Case("str.format width", "{{ '{:>1000000000}'.format(1) }}"),
    Case("str.format nested width", "{{ '{:{w}}'.format(1, w=10 ** 9) }}"),
    Case("str.format repeated field", "{{ ('{0}' * 1000).format(" + MB + ") | length }}"),
    Case("str.format precision", "{{ '{:.999999999f}'.format(1.5) }}"),
    Case("str.format_map repeated key", "{{ ('{a}' * 1000).format_map({'a': " + MB + "}) }}"),
    Case("str.format ascii() expands", "{{ '{0!a}'.format(trigger.data.emoji) | length }}"),
    Case("to_bytes", "{{ (1).to_bytes(10 ** 9, 'big') }}"),
    Case("slice of context text", "{{ " + BIG + "[1:] | length }}"),
    Case("reversed context text", "{{ " + BIG + "[::-1] | length }}"),
    Case("slice of a context list", "{{ " + ROWS + "[1:] | length }}"),
    Case("copy of a context list", "{{ " + ROWS + ".copy() | length }}"),
    Case("dict() of a large mapping", "{{ dict(trigger.data.mapping) | length }}"),
    Case("split into millions of parts", "{{ trigger.data.spaced.split() | length }}"),
    Case("rsplit into millions of parts", "{{ trigger.data.spaced.rsplit(' ') | length }}"),
    Case("splitlines into millions of lines", "{{ ('\\n' * 999999).splitlines() | length }}"),
    Case("splitlines on rare breaks", "{{ ('\\x1c' * 999999).splitlines() | length }}"),
    Case("range", "{{ range(10 ** 9) | list }}"),
    Case("range with a step", "{{ range(0, 10 ** 30, 2) }}"),
    Case("batch padding", "{{ [1] | batch(10 ** 9, 0) | list }}"),
    Case("slice count", "{{ [] | slice(10 ** 9) | list }}"),
    Case("batch of one over a context list", "{{ " + ROWS + " | batch(1) | list | length }}"),
    Case("list of a context list", "{{ " + ROWS + " | list | length }}"),
    Case("list of a large text", "{{ " + BIG + " | list | length }}"),
    Case("sort a context list", "{{ " + ROWS + " | sort | length }}"),
    Case("dictsort a large mapping", "{{ trigger.data.mapping | dictsort | length }}"),
    Case("items of a large mapping, listed", "{{ trigger.data.mapping | items | list | length }}"),
    Case("groupby a context list", "{{ trigger.data.dicts | groupby('a') | length }}"),
    Case("sum of lists", "{{ ([[0] * 100000] * 100000) | sum(start=[]) }}"),
    Case("join a context list", "{{ " + ROWS + " | join(',') | length }}"),
    _slow(
        "str.join a context list", "{{ ','.join(" + ROWS + " | map('string')) | length }}", BOUNDED
    ),
    Case(
        "map builds large texts",
        "{{ range(10000) | map('string') | map('center', 100000) | list }}",
    ),
    Case("jsonParse of context text", "{{ jsonParse(" + BIG + ") }}"),
    Case("jsonParse of deep nesting", "{{ jsonParse(trigger.data.deep_json) }}"),
    Case("native value of many references", "{{ [" + BIG + "] * 100000 }}"),
    Case("text of many references", "x{{ [" + BIG + "] * 100000 }}"),
    Case("string filter of many references", "{{ ([" + BIG + "] * 100000) | string }}"),
    Case("tojson of many references", "{{ ([" + BIG + "] * 100000) | tojson }}"),
    Case("output over the limit", "{% for i in range(10000) %}{{ 'y' * 200 }}{% endfor %}"),
    Case(
        "captured block over the limit",
        "{% set a %}{% for i in range(2000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}1",
    ),
    # --- memory: values kept alive at once -------------------------------------------
    Case(
        "literal list of built texts",
        "{% set a = 'x' * 999990 %}{{ ["
        + ", ".join(f"a ~ {i}" for i in range(40))
        + "] | length }}",
    ),
    Case(
        "literal list of slices",
        "{% set a = " + MB + " %}{{ [" + ", ".join(f"a[{i}:]" for i in range(40)) + "] | length }}",
    ),
    Case(
        "recursion keeping a text per frame",
        "{% macro f(n, s) %}{{ s | length }}{% if n %}{{ f(n - 1, s ~ 'x') }}{% endif %}"
        "{% endmacro %}{{ f(300, 'x' * 999000) }}",
    ),
    Case(
        "caller() keeping a text per frame",
        "{% macro f(n) %}{% if n %}{% call f(n - 1) %}{{ 'x' * 999999 }}{% endcall %}"
        "{% endif %}{{ caller() if caller else '' }}{% endmacro %}{{ f(60) | length }}",
        REFUSED,
    ),
    Case(
        "jsonParse kept alive several times",
        "{% set s = '[' ~ '{},' * 333000 ~ '{}]' %}{{ [jsonParse(s), jsonParse(s)] | length }}",
    ),
    Case(  # streaming is fine: each pair is dropped after its iteration
        "items of a large mapping, looped",
        "{% for k, v in trigger.data.mapping | items %}{% endfor %}",
        BOUNDED,
    ),
    Case(
        "loop.length of new lists",
        "{% for b in " + ROWS + " | batch(1) %}{{ loop.length }}{% endfor %}",
        frozenset({"limit"}),
        SLOW_S,
    ),
    # --- time: only the clock can stop these ------------------------------------------
    _slow(
        "nested loops",
        "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    ),
    _slow(
        "exponential macro recursion",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
    ),
    _slow(
        "exponential loop recursion",
        "{% for x in range(100) recursive %}{{ loop(range(100)) if loop.depth < 50 }}{% endfor %}",
    ),
    _slow(
        "a linear search per iteration, captured",
        "{% set s %}{% for i in range(10000) %}{{ 'ab' in " + BIG + " }}{% endfor %}{% endset %}",
    ),
    _slow("a test per item, nothing yielded", "{{ " + ROWS + " | select('none') | list }}"),
    _slow("a test per item, reject", "{{ " + ROWS + " | reject('number') | list }}"),
    _slow("unique over millions of items", "{{ " + ROWS + " | unique | list | length }}", BOUNDED),
    _slow("max over millions of items", "{{ " + ROWS + " | max }}", BOUNDED),
    _slow("sum over millions of items", "{{ " + ROWS + " | sum }}", BOUNDED),
    _slow("map over millions of items", "{{ " + ROWS + " | map('string') | list | length }}"),
    _slow("wordcount of context text", "{{ trigger.data.spaced | wordcount }}", BOUNDED),
    _slow("a loop over millions of items", "{% for x in " + ROWS + " %}{{ x }}{% endfor %}"),
    _slow(
        "nested loops under map",
        "{{ range(10000) | map('string') | map('wordwrap', 1) | map('length') | sum }}",
        BOUNDED,
    ),
    # --- the parser: nesting and size of the source -----------------------------------
    Case("issue: 1,000 nested parentheses", "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}", SYNTAX),
    Case("nested lists", "{{ " + "[" * 1000 + "1" + "]" * 1000 + " }}", SYNTAX),
    Case("nested dicts", "{{ " + "{'a': " * 1000 + "1" + "}" * 1000 + " }}", SYNTAX),
    Case("nested calls", "{{ " + "range(" * 1000 + "1" + ")" * 1000 + " }}", SYNTAX),
    Case("nested subscripts", "{{ " + "x[" * 1000 + "1" + "]" * 1000 + " }}", SYNTAX),
    Case("nested slices", "{{ " + "x[1:" * 1000 + "2" + "]" * 1000 + " }}", SYNTAX),
    Case("not chain", "{{ " + "not " * 10000 + "1 }}", SYNTAX),
    Case("unary minus chain", "{{ " + "-" * 10000 + "1 }}", SYNTAX),
    Case("unary plus chain", "{{ " + "+" * 10000 + "1 }}", SYNTAX),
    Case("inline if chain", "{{ " + "1 if 1 else " * 2000 + "1 }}", SYNTAX),
    Case("filter argument nesting", "{{ 1" + "|default(" * 1000 + "1" + ")" * 1000 + " }}", SYNTAX),
    Case("addition chain", "{{ " + "+".join(["1"] * 3000) + " }}", SYNTAX),
    Case("and chain", "{{ " + " and ".join(["1"] * 3000) + " }}", SYNTAX),
    Case("power chain", "{{ " + "**".join(["1"] * 3000) + " }}", SYNTAX),
    Case("filter chain", "{{ 1" + "|string" * 3000 + " }}", SYNTAX),
    Case("attribute chain", "{{ x" + ".a" * 3000 + " }}", SYNTAX),
    Case("call chain", "{{ x" + "()" * 3000 + " }}", SYNTAX),
    Case("nested if blocks", "{% if 1 %}" * 1000 + "{% endif %}" * 1000, SYNTAX),
    Case("nested for blocks", "{% for x in y %}" * 1000 + "{% endfor %}" * 1000, SYNTAX),
    Case("21 nested for blocks", "{% for x in [1] %}" * 21 + "{% endfor %}" * 21, SYNTAX),
    Case("nested macros", "{% macro m() %}" * 1000 + "{% endmacro %}" * 1000, SYNTAX),
    Case("nested filter blocks", "{% filter upper %}" * 1000 + "{% endfilter %}" * 1000, SYNTAX),
    Case("nested set blocks", "{% set x %}" * 1000 + "{% endset %}" * 1000, SYNTAX),
    Case("nested with blocks", "{% with %}" * 1000 + "{% endwith %}" * 1000, SYNTAX),
    Case("too many tokens", "{{ " + "~".join(["x"] * 30000) + " }}", LIMIT),
    Case("too many tags", "{{ x }}" * 14000, LIMIT),
    Case("too long", "{{ 1 }}" + "x" * 100_000, LIMIT),
    Case("infinite recursion", "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"),
    Case("infinite loop recursion", "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}"),
    # --- the sandbox: what is not on the allowlist ------------------------------------
    Case("bytes.fromhex", "{{ 'x'.encode().fromhex('00' * 500000) | length }}", REFUSED),
    Case("int.from_bytes", "{{ (1).from_bytes(" + MB + ".encode(), 'big') }}", REFUSED),
    Case("float.fromhex", "{{ (1.0).fromhex('0x1p99999999') }}", REFUSED),
    Case("dict.fromkeys", "{{ ({} | attr('fromkeys'))(range(10000)) }}", REFUSED),
    Case("list mutation", "{{ trigger.data.rows.append(1) }}", REFUSED),
    Case("private attributes", "{{ ''.__class__.__mro__ }}", REFUSED),
]


def hostile_context() -> dict[str, Any]:
    """Node outputs as large as the platform lets them be (an HTTP body is capped at
    10 MB), built so as to cost little memory themselves."""
    return {
        "nodes": {},
        "trigger": {
            "data": {
                "big": "a" * 10_000_000,
                "spaced": "a " * 2_000_000,
                "rows": [0] * 3_000_000,
                "dicts": [{"a": 1}, {"a": 2}] * 150_000,
                "mapping": {f"k{i}": 0 for i in range(200_000)},
                "emoji": "\U0001f600" * 999_999,
                "deep_json": "[" * 100_000 + "]" * 100_000,
            }
        },
        "env": {},
    }


@pytest.fixture(scope="module")
def context() -> Iterator[dict[str, Any]]:
    yield hostile_context()


def _outcome(source: str, context: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", render(source, context)
    except TemplateError as error:
        return error.kind, error


def _peak(source: str, context: dict[str, Any]) -> int:
    """The most memory rendering ``source`` held at once."""
    gc.collect()
    tracemalloc.start()
    try:
        _outcome(source, context)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.corpus
@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CASES])
def test_hostile_templates_stay_within_their_bounds(case: Case, context: dict[str, Any]) -> None:
    # Given a hostile source and a context of large node outputs
    gc.collect()
    started = time.monotonic()

    # When it is rendered
    kind, result = _outcome(case.source, context)
    elapsed = time.monotonic() - started

    # Then it ended in an allowed way, within its time bound, without holding much memory
    assert kind in case.outcomes, (kind, str(result)[:200])
    assert elapsed < case.seconds, elapsed
    assert _peak(case.source, context) < PEAK_BYTES
    if kind == "ok":  # within the output limits
        limit = MAX_OUTPUT_CHARS if isinstance(result, str) else MAX_VALUE_CHARS
        assert len(str(result)) <= limit
    else:  # a plain message that quotes no data
        assert result.message and len(result.message) < 300, result.message
    # And a source refused as syntax is already a problem when it is saved
    if kind == "syntax":
        assert validate_template(case.source)
    # And the next ordinary render works
    assert render("{{ trigger.data.rows[0] + 1 }}", context) == 1
