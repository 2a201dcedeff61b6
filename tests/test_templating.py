"""The template engine: helpers, native values, strictness, sandbox, limits, validation.

Every failure must be a :class:`TemplateError` (never an empty string), and every limit
must trip before the process allocates or spins for long.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from workfuse import templating
from workfuse.templating import (
    MAX_OUTPUT_CHARS,
    MAX_RANGE_ITEMS,
    MAX_RENDER_SECONDS,
    CompiledTemplate,
    TemplateError,
    TemplateProblem,
    compile_template,
    register_helper,
    render,
    render_value,
    validate_template,
)

FAIL_FAST_SECONDS = 2.0  # a guard only: the assertion that matters is the error


def _context() -> dict[str, Any]:
    return {
        "nodes": {
            "a": {"body": {"x": 42}},
            "fetch": {
                "status": 200,
                "body": {
                    "items": [{"name": "pen", "price": 3}, {"name": "ink", "price": 12}],
                    "keys": "K",
                    "user": {"email": "ann@example.com", "active": True, "nick": None},
                },
            },
            "my-node": {"ok": True},
        },
        "trigger": {
            "source": "webhook",
            "data": {
                "items": [1, 2, 3],
                "when": "2024-03-05T14:07:09Z",
                "epoch": 1_700_000_000,
                "raw": '{"a": [1, 2], "b": null}',
                "name": "Ann Lee",
            },
            "headers": {"x-id": "7"},
        },
        "env": {"REGION": "eu-west-1", "API_SECRET": "hunter2-secret"},
    }


@pytest.fixture
def ctx() -> dict[str, Any]:
    return _context()


@pytest.fixture
def restore_helpers() -> Iterator[None]:
    """Undo helper registrations made by a test."""
    env = templating._ENV
    filters, globals_, helpers = dict(env.filters), dict(env.globals), dict(templating._HELPERS)
    yield
    env.filters.clear()
    env.filters.update(filters)
    env.globals.clear()
    env.globals.update(globals_)
    templating._HELPERS.clear()
    templating._HELPERS.update(helpers)


def _fails(source: str, context: dict[str, Any], kind: str) -> TemplateError:
    """Render ``source``; it must raise a TemplateError of ``kind``, quickly."""
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(source, context)
    assert time.monotonic() - started < FAIL_FAST_SECONDS
    assert caught.value.kind == kind, caught.value
    return caught.value


# --- variables, native values, text ---------------------------------------------------


def test_single_expression_returns_native_values(ctx: dict[str, Any]) -> None:
    # Given sources that are exactly one expression (whitespace around allowed)
    # When they are rendered
    # Then each gives the value itself, not its text
    assert render("{{ nodes.a.body.x }}", ctx) == 42
    assert render("  {{ nodes.fetch.body.items }}\n", ctx) == ctx["nodes"]["fetch"]["body"]["items"]
    assert render("{{ nodes.fetch.body.user }}", ctx)["active"] is True
    assert render("{{ nodes.fetch.body.user.nick }}", ctx) is None
    assert render("{{ nodes.a.body.x * 2 + 1 }}", ctx) == 85
    assert render("{{ range(3) }}", ctx) == [0, 1, 2]
    assert render("{{ nodes.fetch.body.items | map(attribute='name') }}", ctx) == ["pen", "ink"]


def test_mixed_text_renders_a_string(ctx: dict[str, Any]) -> None:
    # Given text around expressions, and two expressions side by side
    # When rendered
    # Then the result is a string; None is empty, booleans and containers read as JSON
    assert render("Hi {{ trigger.data.name }}!", ctx) == "Hi Ann Lee!"
    assert render("{{ nodes.a.body.x }}{{ nodes.a.body.x }}", ctx) == "4242"
    assert render("n={{ nodes.fetch.body.user.nick }}.", ctx) == "n=."
    assert render("ok={{ nodes['my-node'].ok }}", ctx) == "ok=true"
    assert render("v={{ trigger.data.items }}", ctx) == "v=[1,2,3]"
    assert render('{"user": {{ nodes.fetch.body.user }}}', ctx) == (
        '{"user": {"email":"ann@example.com","active":true,"nick":null}}'
    )
    assert render("{{ 'id-' ~ nodes.a.body.x ~ none }}", ctx) == "id-42"
    assert render("line\n", ctx) == "line\n"


def test_text_without_tags_is_returned_as_is(ctx: dict[str, Any]) -> None:
    # Given strings with no {{ or {% (even with a lone brace or a comment marker)
    source = "price {x} {# not a tag #}"
    # When rendered or compiled
    # Then the very same string comes back
    assert render(source, ctx) is source
    assert compile_template(source).render(ctx) == source


def test_nested_and_subscript_access(ctx: dict[str, Any]) -> None:
    # Given attribute, key and index access
    # When rendered
    # Then they reach the same data
    assert render("{{ nodes.fetch.body.user.email }}", ctx) == "ann@example.com"
    assert render("{{ nodes['fetch']['body']['items'][1].name }}", ctx) == "ink"
    assert render("{{ nodes.fetch.body['items'][-1]['price'] }}", ctx) == 12
    assert render("{{ trigger.headers['x-id'] }}", ctx) == "7"


def test_mapping_keys_win_over_dict_methods(ctx: dict[str, Any]) -> None:
    # Given dicts with keys named like dict methods ("items", "keys")
    # When they are read with . and []
    # Then the keys come back, never the bound methods
    assert render("{{ nodes.fetch.body.items }}", ctx) == ctx["nodes"]["fetch"]["body"]["items"]
    assert render("{{ nodes.fetch.body.keys }}", ctx) == "K"
    assert render("{{ nodes.fetch.body['items'] | length }}", ctx) == 2
    assert render("{{ trigger.data.items | sum }}", ctx) == 6


def test_dict_methods_are_not_reachable_and_say_how_to_iterate(ctx: dict[str, Any]) -> None:
    # Given a dict without a "values" key
    # When a template calls .values() on it
    # Then it fails with a hint to the filters that do it instead
    error = _fails("{{ nodes.fetch.body.user.values() }}", ctx, "undefined")
    assert "'values' is undefined" in error.message
    assert "|items" in error.message
    # And iterating a mapping through the items filter works
    source = "{% for k, v in trigger.headers | items %}{{ k }}={{ v }}{% endfor %}"
    assert render(source, ctx) == "x-id=7"


# --- strict undefined ------------------------------------------------------------------


def test_undefined_values_raise_with_the_name_and_line(ctx: dict[str, Any]) -> None:
    # Given references to a node and a key that do not exist
    # When rendered, natively or in text
    # Then a TemplateError names the missing key and the line
    error = _fails("{{ nodes.missing }}", ctx, "undefined")
    assert error.message == "'missing' is undefined: the mapping has no such key"
    assert error.line == 1
    error = _fails("ok\n\nvalue: {{ nodes.fetch.body.nope.deeper }}", ctx, "undefined")
    assert "'nope' is undefined" in error.message
    assert error.line == 3
    assert "line 3" in str(error)
    _fails("{{ unknown_name }}", ctx, "undefined")
    _fails("{{ trigger.data.items[10] }}", ctx, "undefined")


def test_undefined_values_raise_when_tested_compared_or_iterated(ctx: dict[str, Any]) -> None:
    # Given a missing key used in an if, a comparison, a loop and a helper
    # When rendered
    # Then each raises instead of being falsy or empty
    _fails("{% if nodes.fetch.body.error %}x{% endif %}", ctx, "undefined")
    _fails("{{ nodes.fetch.body.error == 1 }}", ctx, "undefined")
    _fails("{% for x in nodes.fetch.body.error %}{% endfor %}", ctx, "undefined")
    _fails("{{ uppercase(nodes.fetch.body.error) }}", ctx, "undefined")


def test_defined_test_and_default_filter_work_at_any_depth(ctx: dict[str, Any]) -> None:
    # Given optional paths
    # When tested with "is defined" or given a default
    # Then nothing raises
    assert render("{{ nodes.nope.body.x is defined }}", ctx) is False
    assert render("{{ nodes.fetch.body is defined }}", ctx) is True
    assert render("{{ nodes.nope.body.x | default('n/a') }}", ctx) == "n/a"
    source = "{% if nodes.fetch.body.error is defined %}bad{% else %}fine{% endif %}"
    assert render(source, ctx) == "fine"


def test_error_messages_never_quote_context_values(ctx: dict[str, Any]) -> None:
    # Given failures that involve a secret-looking env value
    sources = [
        "{{ nodes[env.API_SECRET] }}",
        "{{ env.API_SECRET + 1 }}",
        "{{ env.API_SECRET.__class__ }}",
        "{{ jsonParse(env.API_SECRET) }}",
        "{{ formatDate(env.API_SECRET) }}",
        "{{ [1, 2].index(env.API_SECRET) }}",
    ]
    for source in sources:
        # When rendered
        with pytest.raises(TemplateError) as caught:
            render(source, ctx)
        # Then the message does not contain the value
        assert "hunter2" not in str(caught.value), source
        assert "hunter2" not in repr(caught.value.args), source


# --- helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ formatDate(trigger.data.when, 'YYYY-MM-DD') }}", "2024-03-05"),
        ("{{ trigger.data.when | formatDate('DD/MM/YY HH:mm:ss') }}", "05/03/24 14:07:09"),
        ("{{ formatDate(trigger.data.epoch, 'YYYY-MM-DDTHH:mm:ss') }}", "2023-11-14T22:13:20"),
        ("{{ formatDate('1700000000', 'YYYY') }}", "2023"),
        ("{{ formatDate(trigger.data.when) }}", "2024-03-05"),
        ("{{ formatDate('2024-03-05T14:07:09.250', 'ss.SSS') }}", "09.250"),
        ("{{ formatDate('2024-03-05', '[Day] DD [of] MM') }}", "Day 05 of 03"),
    ],
)
def test_format_date(source: str, expected: str, ctx: dict[str, Any]) -> None:
    # Given ISO strings, epoch seconds and format tokens (function and filter forms)
    # When rendered
    # Then the date is formatted token by token
    assert render(source, ctx) == expected


def test_format_date_accepts_datetimes_and_refuses_non_dates(ctx: dict[str, Any]) -> None:
    # Given a datetime object in the context, then a value that is not a date
    ctx["trigger"]["data"]["at"] = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    # When formatted
    # Then the datetime works and the bad value is a clear error
    assert render("{{ trigger.data.at | formatDate('YYYY-MM-DD HH:mm') }}", ctx) == (
        "2025-01-02 03:04"
    )
    error = _fails("{{ formatDate(trigger.data.name, 'YYYY') }}", ctx, "runtime")
    assert "is not a date" in error.message


def test_json_parse_and_stringify(ctx: dict[str, Any]) -> None:
    # Given a JSON string and a structure
    # When parsed and stringified as function and as filter
    # Then values round-trip; bad JSON is an error with a position
    assert render("{{ jsonParse(trigger.data.raw) }}", ctx) == {"a": [1, 2], "b": None}
    assert render("{{ (trigger.data.raw | jsonParse).a[1] }}", ctx) == 2
    assert render("{{ jsonParse(trigger.data.items) }}", ctx) == [1, 2, 3]  # already data
    assert render("{{ jsonStringify(nodes.a) }}", ctx) == '{"body":{"x":42}}'
    assert render("{{ nodes.a | jsonStringify(2) }}", ctx) == '{\n  "body": {\n    "x": 42\n  }\n}'
    assert render("{{ jsonStringify('é') }}", ctx) == '"é"'
    error = _fails("{{ jsonParse('{oops') }}", ctx, "runtime")
    assert "jsonParse: invalid JSON" in error.message
    assert "column 2" in error.message
    _fails("{{ jsonStringify(nodes, 1000) }}", ctx, "runtime")


def test_uppercase_and_lowercase(ctx: dict[str, Any]) -> None:
    # Given text (function and filter forms)
    # When case is changed
    # Then it works, and None reads as empty text
    assert render("{{ uppercase(trigger.data.name) }}", ctx) == "ANN LEE"
    assert render("{{ trigger.data.name | lowercase }}", ctx) == "ann lee"
    assert render("{{ uppercase(nodes.fetch.body.user.nick) }}", ctx) == ""


def test_get_reads_paths_and_returns_none_when_missing(ctx: dict[str, Any]) -> None:
    # Given dotted paths through dicts and lists (function and filter forms)
    # When read with get
    # Then present paths give values, missing ones None (or the default)
    assert render("{{ get(nodes, 'fetch.body.items.1.name') }}", ctx) == "ink"
    assert render("{{ nodes | get('fetch.body.items.-1.price') }}", ctx) == 12
    assert render("{{ get(nodes, 'fetch.body.items.9.name') }}", ctx) is None
    assert render("{{ get(nodes, 'nope.body') }}", ctx) is None
    assert render("{{ get(nodes, 'fetch.status.x') }}", ctx) is None
    assert render("{{ get(nodes, 'nope', 'fallback') }}", ctx) == "fallback"
    assert render("{{ get(trigger, '') is mapping }}", ctx) is True
    # And get never reaches attributes
    assert render("{{ get(trigger.data.name, '__class__') }}", ctx) is None


def test_helpers_exist_as_filters_and_functions() -> None:
    # Given the seed's helper names
    # Then each is both a filter and a global function
    for name in ("formatDate", "jsonParse", "jsonStringify", "uppercase", "lowercase", "get"):
        assert name in templating._ENV.filters
        assert name in templating._ENV.globals


# --- control flow ----------------------------------------------------------------------


def test_if_and_for(ctx: dict[str, Any]) -> None:
    # Given conditionals and loops, with loop variables and else branches
    source = (
        "{% for item in nodes.fetch.body.items if item.price > 5 %}"
        "{{ loop.index }}:{{ item.name }}{% if not loop.last %},{% endif %}"
        "{% else %}none{% endfor %}"
    )
    # When rendered
    # Then they behave as in Jinja
    assert render(source, ctx) == "1:ink"
    assert render("{% for i in range(3) %}{{ i }}{% endfor %}", ctx) == "012"
    assert render("{% for x in [] %}{% else %}empty{% endfor %}", ctx) == "empty"
    source = "{% if nodes.fetch.status == 200 %}ok{% elif nodes.fetch.status %}hm{% endif %}"
    assert render(source, ctx) == "ok"
    assert render("{% set n = nodes.a.body.x %}{{ n // 2 }}", ctx) == "21"


def test_macros_and_blocks_work(ctx: dict[str, Any]) -> None:
    # Given a macro, a block assignment and a filter block
    source = (
        "{% macro tag(x) %}<{{ x }}>{% endmacro %}"
        "{% set body %}{{ tag(1) }}{{ tag(2) }}{% endset %}"
        "{% filter upper %}{{ body }}a{% endfilter %}"
    )
    # When rendered
    # Then all of them produce their text
    assert render(source, ctx) == "<1><2>A"


# --- caching and compilation -----------------------------------------------------------


def test_compile_template_is_cached() -> None:
    # Given the same source compiled twice
    first = compile_template("{{ nodes.a.body.x }} cached")
    second = compile_template("{{ nodes.a.body.x }} cached")
    # Then the same compiled object comes back
    assert first is second
    assert isinstance(first, CompiledTemplate)
    assert compile_template("{{ nodes.a.body.x }}").is_native
    assert not first.is_native


def test_compiled_template_renders_many_contexts(ctx: dict[str, Any]) -> None:
    # Given one compiled template
    template = compile_template("{{ nodes.a.body.x }}")
    # When rendered with different contexts
    # Then each render sees its own context
    assert template.render(ctx) == 42
    assert template.render({"nodes": {"a": {"body": {"x": "other"}}}}) == "other"


def test_syntax_errors_raise_with_line_and_column(ctx: dict[str, Any]) -> None:
    # Given a template with a syntax error on its second line
    # When compiled
    with pytest.raises(TemplateError) as caught:
        compile_template("first line\n  {{ nodes.a b }}")
    # Then the error says where
    assert caught.value.kind == "syntax"
    assert (caught.value.line, caught.value.column) == (2, 14)
    assert "line 2, column 14" in str(caught.value)


def test_unknown_filters_and_loader_tags_are_refused_at_compile_time() -> None:
    # Given an unknown filter and tags that would load other templates
    for source in (
        "{{ 1 | nope }}",
        "{% include 'x' %}",
        "{% import 'x' as y %}",
        "{% extends 'x' %}",
    ):
        # When compiled
        # Then it is a syntax error
        with pytest.raises(TemplateError) as caught:
            compile_template(source)
        assert caught.value.kind == "syntax"
        assert caught.value.line == 1


def test_overlong_template_is_refused() -> None:
    # Given a source over the size limit
    source = "{{ 1 }}" + "x" * templating.MAX_TEMPLATE_CHARS
    # When compiled
    # Then it is refused without parsing
    with pytest.raises(TemplateError) as caught:
        compile_template(source)
    assert caught.value.kind == "limit"


# --- render_value ----------------------------------------------------------------------


def test_render_value_renders_strings_inside_structures(ctx: dict[str, Any]) -> None:
    # Given a config with templates in nested dicts and lists, a templated-looking key
    # and non-string leaves
    config = {
        "url": "https://api.example.com/{{ nodes.a.body.x }}",
        "body": {"items": "{{ nodes.fetch.body.items }}", "n": 3, "flag": None},
        "headers": [{"{{ key }}": "{{ env.REGION }}"}, 7, ("{{ trigger.source }}",)],
    }
    # When rendered
    result = render_value(config, ctx)
    # Then strings are rendered (natively when alone), keys and other leaves are kept
    assert result == {
        "url": "https://api.example.com/42",
        "body": {"items": ctx["nodes"]["fetch"]["body"]["items"], "n": 3, "flag": None},
        "headers": [{"{{ key }}": "eu-west-1"}, 7, ("webhook",)],
    }
    # And the input is left untouched in a new structure
    assert config["url"] == "https://api.example.com/{{ nodes.a.body.x }}"
    assert result is not config and result["body"] is not config["body"]


def test_render_value_raises_on_a_bad_leaf(ctx: dict[str, Any]) -> None:
    # Given a nested string with an undefined reference
    # When rendered
    # Then the TemplateError propagates
    with pytest.raises(TemplateError):
        render_value({"a": ["{{ nodes.nope }}"]}, ctx)


# --- register_helper -------------------------------------------------------------------


@pytest.mark.usefixtures("restore_helpers")
def test_register_helper_adds_a_filter_and_a_function(ctx: dict[str, Any]) -> None:
    # Given a new helper
    register_helper("shout", lambda text, mark="!": f"{text}{mark}".upper())
    # When used both ways
    # Then it works like the built-in ones, including on templates compiled before
    assert render("{{ shout(trigger.data.name) }}", ctx) == "ANN LEE!"
    assert render("{{ trigger.data.name | shout('?') }}", ctx) == "ANN LEE?"
    # And undefined arguments raise before the helper runs
    _fails("{{ shout(nodes.nope) }}", ctx, "undefined")


@pytest.mark.usefixtures("restore_helpers")
def test_register_helper_refuses_overrides_unless_asked(ctx: dict[str, Any]) -> None:
    # Given built-in helper, filter and context names
    for name in ("formatDate", "get", "upper", "range", "nodes", "not-an-identifier"):
        # When registered without replace
        # Then it is refused
        with pytest.raises(ValueError):
            register_helper(name, str)
    # And replace=True replaces a helper
    register_helper("uppercase", lambda value: "replaced", replace=True)
    assert render("{{ uppercase('x') }}", ctx) == "replaced"
    with pytest.raises(ValueError):
        register_helper("env", str, replace=True)


@pytest.mark.usefixtures("restore_helpers")
def test_register_helper_twice_needs_replace() -> None:
    # Given a helper registered once
    register_helper("twice", str)
    # When registered again without replace
    # Then it is refused
    with pytest.raises(ValueError):
        register_helper("twice", repr)


# --- validate_template -----------------------------------------------------------------


def test_validate_reports_syntax_errors_with_line_and_column() -> None:
    # Given templates with syntax errors at known places
    cases = {
        "a\n  {{ nodes.a b }}": (2, 14),
        "{{ x }": (1, 6),
        "{% for %}": (1, 8),
        "x\n{% if y %}": (2, 11),
        "{% for x in y %}{% endif %}": (1, 20),
    }
    for source, where in cases.items():
        # When validated
        problems = validate_template(source)
        # Then exactly one problem gives the line and column
        assert len(problems) == 1, source
        assert (problems[0].line, problems[0].column) == where, source
        assert problems[0].message


def test_validate_reports_unknown_nodes() -> None:
    # Given references to node ids in every supported form
    source = (
        "{{ nodes.fetch.body }}\n"
        "{{ nodes['my-node'].ok }} {{ nodes.ghost }}\n"
        "{{ get(nodes, 'phantom.body.x') }} {{ nodes | get('spook') }}"
    )
    # When validated against the workflow's node ids
    problems = validate_template(source, known_nodes={"fetch", "my-node"})
    # Then only the unknown ids are reported, with their lines
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (2, "unknown node 'ghost'"),
        (3, "unknown node 'phantom'"),
        (3, "unknown node 'spook'"),
    ]
    # And without known_nodes node ids are not checked
    assert validate_template(source) == []


def test_validate_reports_unknown_names_but_not_known_ones() -> None:
    # Given a template using context names, helpers, loop variables, set variables
    # and one unknown name
    source = (
        "{% set total = 1 %}{% for i in range(2) %}{{ loop.index }}{{ i }}{% endfor %}"
        "{{ total }} {{ formatDate(trigger.data.when) }} {{ env.REGION }} {{ dict(a=1) }}\n"
        "{{ input.value }}"
    )
    # When validated
    problems = validate_template(source)
    # Then only the unknown name is reported
    assert problems == [
        TemplateProblem(
            "unknown name 'input': templates can use nodes, trigger, env and the helpers", 2
        )
    ]


def test_validate_reports_unknown_filters_and_accepts_plain_text() -> None:
    # Given an unknown filter, then plain text
    # When validated
    # Then the filter is a problem with its line, and plain text has none
    problems = validate_template("ok\n{{ 1 | nofilter }}")
    assert len(problems) == 1
    assert "nofilter" in problems[0].message
    assert problems[0].line == 2
    assert validate_template("plain text {x}") == []


# --- sandbox ---------------------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ ''|attr('__class__') }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ 'a{0.__class__.__mro__}'.format(1) }}",
        "x{{ lipsum.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner }}",
        "{{ namespace(a=1) }}",
        "{{ trigger.data.items.append(1) }}",
        "{{ trigger.data.items.pop() }}",
        "{{ trigger.data.update({'a': 1}) }}",
        "{{ trigger.data.items|attr('append') }}",
        "{{ trigger.data.items['append'] }}",
        "{{ range.__init__ }}",
        "{{ dict.mro() }}",
        "{{ formatDate.__globals__ }}",
        "{{ (1).__class__.__base__.__subclasses__() }}",
        "{% set f = trigger.data.name.__class__ %}{{ f }}",
        "{{ trigger.data.items | map(attribute='__class__') | list }}",
        "{{ trigger.data.items | sort(attribute='__class__') }}",
        "{{ self }}",
        "{{ config }}",
        "{{ request }}",
    ],
)
def test_sandbox_escapes_raise(source: str, ctx: dict[str, Any]) -> None:
    # Given a known sandbox escape or data mutation
    # When rendered
    # Then a TemplateError is raised (never an empty string)
    with pytest.raises(TemplateError) as caught:
        render(source, ctx)
    assert caught.value.kind in {"security", "undefined"}


def test_mutation_attempt_leaves_data_unchanged(ctx: dict[str, Any]) -> None:
    # Given a template that tries to append to a list of the context
    # When rendered
    with pytest.raises(TemplateError) as caught:
        render("{{ trigger.data.items.append(1) }}", ctx)
    # Then it is a security error and the list is unchanged
    assert caught.value.kind == "security"
    assert "'append'" in caught.value.message
    assert ctx["trigger"]["data"]["items"] == [1, 2, 3]


# --- limits ----------------------------------------------------------------------------


def test_huge_range_fails_fast(ctx: dict[str, Any]) -> None:
    # Given ranges over the item limit
    # When rendered
    # Then they fail at once, naming the limit
    error = _fails("{{ range(10**9)|list }}", ctx, "limit")
    assert f"{MAX_RANGE_ITEMS:,}" in error.message
    _fails("{{ range(0, 10**30, 2) }}", ctx, "limit")
    source = "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}"
    _fails(source, ctx, "limit")


def test_nested_loops_hit_the_time_limit(ctx: dict[str, Any]) -> None:
    # Given nested loops within the range limit that print nothing
    source = "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    # When rendered
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(source, ctx)
    # Then the time limit stops them
    assert caught.value.kind == "limit"
    assert "longer than" in caught.value.message
    assert time.monotonic() - started < MAX_RENDER_SECONDS + FAIL_FAST_SECONDS


def test_exponential_macro_recursion_hits_the_time_limit(ctx: dict[str, Any]) -> None:
    # Given a macro that calls itself twice per level, 40 levels deep
    source = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    # When rendered
    # Then the time limit stops it
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(source, ctx)
    assert caught.value.kind == "limit"
    assert time.monotonic() - started < MAX_RENDER_SECONDS + FAIL_FAST_SECONDS


def test_infinite_recursion_is_a_limit_error(ctx: dict[str, Any]) -> None:
    _fails("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", ctx, "limit")


def test_output_size_limit(ctx: dict[str, Any]) -> None:
    # Given a loop printing more than the output limit
    source = "{% for i in range(10000) %}{{ 'y' * 200 }}{% endfor %}"
    # When rendered
    # Then the output limit stops it
    error = _fails(source, ctx, "limit")
    assert f"{MAX_OUTPUT_CHARS:,}" in error.message
    # And output just under the limit is fine
    assert len(render("{% for i in range(1000) %}{{ 'y' * 999 }}{% endfor %}", ctx)) == 999_000


@pytest.mark.corpus
@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**8 }}",
        "text {{ 'a' * 10**8 }}",
        "{{ 10**8 * 'a' }}",
        "{{ [0] * 10**9 }}",
        "{{ 2 ** (10**8) }}",
        "{{ (10**3000) * (10**3000) }}",
        "{% set a = 'x' * 900000 %}{{ a ~ a }}",
        "{% set a = 'x' * 900000 %}{{ a + a }}",
        "{% set a = 'x' * 900000 %}{{ [a, a] | join }}",
        "{% set a = 'x' * 900000 %}{{ ''.join([a, a]) }}",
        "{% set a = 'x' * 900000 %}{{ [a, a] }}",
        "{% set a = 'x' * 900000 %}{{ [a, a] | tojson }}",
        "{% set a = 'x' * 900000 %}{{ jsonStringify([a, a]) }}",
        "{% set a = 'x' * 900000 %}{{ [a, a] | string }}",
        "{% set a = 'x' * 900000 %}{{ [a, a] | pprint }}",
        "{{ 'x'.center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ ('\t' * 1000).expandtabs(10**6) }}",
        "{{ ('a' * 1000).replace('a', 'b' * 10000) }}",
        "{{ ('a' * 1000) | replace('a', 'b' * 10000) }}",
        "{{ 'x' | center(10**9) }}",
        "{{ ('a\n' * 1000) | indent(10**6) }}",
        "{{ '%1000000000d' % 1 }}",
        "{{ '%d' | format(1) * 10**8 }}",
        "{{ '%*d' % (10**9, 1) }}",
        "{{ '%1000000000d' | format(1) }}",
        "{{ '{:>1000000000}'.format(1) }}",
        "{{ '{:{w}}'.format(1, w=10**9) }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ [1] | batch(10**9, 0) | list }}",
        "{{ [] | slice(10**9) | list }}",
        "{{ ('a' * 999999) | wordwrap(1) }}",
        "{% set a %}{% for i in range(10000) %}{{ 'y' * 1000 }}{% endfor %}{% endset %}{{ 1 }}",
        "{% macro m() %}{% for i in range(2000) %}{{ 'y' * 1000 }}{% endfor %}{% endmacro %}"
        "{{ m() | length }}",
    ],
)
def test_amplification_fails_before_allocating(source: str, ctx: dict[str, Any]) -> None:
    # Given an expression that would build a huge string, list or integer
    # When rendered
    # Then it fails fast with a limit error (the guard runs before the allocation)
    _fails(source, ctx, "limit")


@pytest.mark.corpus
@pytest.mark.parametrize(
    "source",
    [
        "{{ range(10000) | map('string') | map('center', 100000) | list }}",
        "{{ range(10000) | map('string') | map('center', 100000) | join }}",
        "{{ ([[0] * 100000] * 100000) | sum(start=[]) }}",
        "{% set b = 'x' * 1000000 %}{{ [b, b, b, b, b, b, b, b, b, b, b] }}",
        "{% set b = 'x' * 1000000 %}{{ dict(a=b, c=b, d=b, e=b, f=b, g=b, h=b, i=b, j=b, k=b) }}",
        "{{ '%(a)1000000000s' % {'a': 1} }}",
    ],
)
def test_values_built_from_many_references_are_bounded(source: str, ctx: dict[str, Any]) -> None:
    # Given expressions that build a large value out of many references or mapped items
    # When rendered (natively or as text)
    # Then the size limit stops them before the caller has to serialise them
    _fails(source, ctx, "limit")


def test_small_built_values_are_fine(ctx: dict[str, Any]) -> None:
    assert len(render("{{ ('ab' * 1000) | list }}", ctx)) == 2000
    assert render("{{ ([[1], [2, 3]] * 2) | sum(start=[]) }}", ctx) == [1, 2, 3, 1, 2, 3]
    assert render("{{ nodes.fetch.body.items | sum(attribute='price') }}", ctx) == 15


def test_looked_up_values_pass_through_whatever_their_size(ctx: dict[str, Any]) -> None:
    # Given a large value in the context (beyond the size limit of built values)
    big = ["x" * 1000] * 20_000
    ctx["nodes"]["fetch"]["body"] = {"rows": big}
    # When a single lookup expression returns it
    # Then it comes back as is (the limit applies to values the template builds)
    assert render("{{ nodes.fetch.body.rows }}", ctx) is big
    assert render("{{ nodes['fetch'].body['rows'] }}", ctx) is big


def test_process_stays_healthy_after_limits(ctx: dict[str, Any]) -> None:
    # Given a render that hit a limit
    with pytest.raises(TemplateError):
        render("{{ 'a' * 10**8 }}", ctx)
    # When an ordinary template renders next
    # Then it works normally
    assert render("{{ nodes.a.body.x }}", ctx) == 42


def test_functions_are_not_values(ctx: dict[str, Any]) -> None:
    # Given expressions that name a function without calling it
    # When rendered natively or in text
    # Then they fail instead of handing a function (or its address) to the caller
    for source in ("{{ range }}", "{{ formatDate }}", "x {{ dict }}", "{{ 'a'.upper }}"):
        error = _fails(source, ctx, "runtime")
        assert "not a value" in error.message


def test_errors_from_python_operations_become_template_errors(ctx: dict[str, Any]) -> None:
    # Given operations that raise ordinary Python exceptions
    # When rendered
    # Then they are TemplateErrors that say what went wrong
    error = _fails("{{ 1 / 0 }}", ctx, "runtime")
    assert "ZeroDivisionError" in error.message
    error = _fails("{{ nodes.a.body.x + 'a' }}", ctx, "runtime")
    assert "TypeError" in error.message
    _fails("{{ '{x}'.format() }}", ctx, "runtime")


@pytest.mark.parametrize(
    "make",
    [
        lambda: render("{{ nodes.a.body.x }}", {"nodes": {"a": {"body": {"x": 1}}}}),
        lambda: render("{{ 'a' ~ 1 }}", {}),
    ],
)
def test_render_does_not_need_every_context_key(make: Callable[[], Any]) -> None:
    # Given contexts without some of the seed's keys
    # Then templates that do not use them still render
    assert make() in (1, "a1")


# --- resource exhaustion: time, intermediate sizes, nesting (issue 18) ----------------


def _peak_bytes(call: Callable[[], Any]) -> tuple[Any, int]:
    """``call()``'s outcome (its result or the exception it raised) and the most memory
    it held at once."""
    tracemalloc.start()
    try:
        try:
            outcome: Any = call()
        except Exception as error:
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


URLIZE_PAYLOAD = "{{ ('.'*6000 ~ 'a.')|urlize|length }}"
HEX_PAYLOAD = "{{ ('x'*999999)" + ".encode().hex()" * 5 + " }}"
PARENTHESES_PAYLOAD = "{{ " + "(" * 1000 + "1" + ")" * 1000 + " }}"


def test_the_quadratic_urlize_filter_is_refused_at_once(ctx: dict[str, Any]) -> None:
    # Given the payload: urlize runs a quadratic regex on a long word
    # When rendered
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(URLIZE_PAYLOAD, ctx)
    # Then it is refused before anything runs, saying why
    assert time.monotonic() - started < 0.5
    assert caught.value.kind == "limit"
    assert "urlize" in caught.value.message and "square" in caught.value.message
    # And saving the template already reports it
    assert "urlize" in validate_template(URLIZE_PAYLOAD)[0].message


def test_only_allowlisted_filters_exist() -> None:
    # Given the filters of the environment (Jinja's own, bounded, and the helpers)
    # Then they are exactly the allowlist: a filter Jinja adds in a new version, or a
    # quadratic one (urlize) or one whose output grows with nesting (pprint), is absent
    expected = {
        *("abs", "attr", "batch", "capitalize", "center", "count", "d", "default"),
        *("dictsort", "e", "escape", "filesizeformat", "first", "float", "forceescape"),
        *("format", "groupby", "indent", "int", "items", "join", "last", "length", "list"),
        *("lower", "map", "max", "min", "random", "reject", "rejectattr", "replace"),
        *("reverse", "round", "safe", "select", "selectattr", "slice", "sort", "string"),
        *("striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper"),
        *("urlencode", "wordcount", "wordwrap", "xmlattr"),
        *templating.BUILTIN_HELPERS,
    }
    assert set(templating._ENV.filters) == expected


def test_chained_hex_is_refused_at_the_first_too_large_step(ctx: dict[str, Any]) -> None:
    # Given the payload: each .encode().hex() doubles a 1 MB text, five times
    # When rendered
    outcome, peak = _peak_bytes(lambda: render(HEX_PAYLOAD, ctx))
    # Then the first hex() that would exceed the limit is refused before it runs, and
    # the render never held more than a few MB (not the 32 M characters of the issue)
    assert isinstance(outcome, TemplateError), outcome
    assert outcome.kind == "limit"
    assert "hex()" in outcome.message and f"{MAX_OUTPUT_CHARS:,}" in outcome.message
    assert peak < 8_000_000


@pytest.mark.parametrize(
    ("source", "step"),
    [
        ("{{ ('ß' * 999999).upper() | length }}", "upper()"),  # 'ß' -> 'SS'
        ("{{ ('ﬃ' * 400000).upper() | length }}", "upper()"),  # one ligature -> 3 letters
        ("{{ ('ß' * 999999) | upper | length }}", "upper"),
        ("{{ ('ß' * 999999) | uppercase | length }}", "uppercase"),
        ("{{ ('x' * 999999).encode('utf-32') | length }}", "encode()"),
        ("{{ ('x' * 400000).encode('utf-16').hex() | length }}", "hex()"),
        ("{{ ('x' * 600000).encode().hex(':') | length }}", "hex()"),
        ("{{ ('<' * 999999) | e | length }}", "e"),
        ("{{ ('<' * 999999) | tojson | length }}", "tojson"),
        ("{{ ('&' * 999999) | urlencode | length }}", "urlencode"),
        (
            "{{ ('\\xff' * 999999).encode('latin-1').decode('ascii', 'backslashreplace') }}",
            "decode()",
        ),
        ("{{ ('1' * 999999) | int(base=2) > 0 }}", "int"),
    ],
)
def test_values_that_expand_are_bounded_at_each_step(
    source: str, step: str, ctx: dict[str, Any]
) -> None:
    # Given an intermediate value that grows past the limit (case mapping, encoding,
    # escaping...) and is only measured afterwards (by length or a comparison)
    # When rendered
    outcome, peak = _peak_bytes(lambda: render(source, ctx))
    # Then the step that built it is refused, within a bounded amount of memory
    assert isinstance(outcome, TemplateError), outcome
    assert outcome.kind == "limit"
    assert step in outcome.message
    assert peak < 32_000_000


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: render(PARENTHESES_PAYLOAD, {}), id="render"),
        pytest.param(lambda: compile_template(PARENTHESES_PAYLOAD), id="compile"),
        pytest.param(lambda: render_value({"a": [PARENTHESES_PAYLOAD]}, {}), id="render_value"),
    ],
)
def test_a_thousand_nested_parentheses_are_a_syntax_error(call: Callable[[], Any]) -> None:
    # Given a template of 1,000 nested parentheses (Jinja's parser recurses per level)
    # When it is compiled or rendered
    with pytest.raises(TemplateError) as caught:
        call()
    # Then it is a clear syntax error, not a RecursionError
    assert caught.value.kind == "syntax"
    assert "nests too deeply" in caught.value.message


def test_a_thousand_nested_parentheses_are_a_validation_problem() -> None:
    # Given the same template in a node config being saved
    # When validated
    problems = validate_template(PARENTHESES_PAYLOAD)
    # Then one problem says what is wrong, where
    assert len(problems) == 1
    assert "nests too deeply" in problems[0].message
    assert problems[0].line == 1


@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "[" * 1000 + "1" + "]" * 1000 + " }}",
        "{{ " + "{'a': " * 1000 + "1" + "}" * 1000 + " }}",
        "{{ " + "range(" * 1000 + "1" + ")" * 1000 + " }}",
        "{{ " + "not " * 5000 + "1 }}",
        "{{ " + "-" * 5000 + "1 }}",
        "{{ " + "1 if 1 else " * 1000 + "1 }}",
        "{{ " + " + ".join(["1"] * 3000) + " }}",
        "{{ 1" + " | string" * 1000 + " }}",
        "{{ nodes" + ".a" * 3000 + " }}",
        "{% if 1 %}" * 1000 + "{% endif %}" * 1000,
        "{% for x in [1] %}" * 21 + "{% endfor %}" * 21,  # Python nests 20 blocks at most
        "{% macro m() %}" * 500 + "{% endmacro %}" * 500,
        "{{ " + "~".join(["x"] * 20000) + " }}",  # too many tokens
    ],
)
def test_every_kind_of_deep_or_huge_source_is_a_clear_error(source: str) -> None:
    # Given a source that nests too deeply in some way, or is too large to compile
    # When validated and rendered
    problems = validate_template(source)
    with pytest.raises(TemplateError) as caught:
        render(source, {"nodes": {}})
    # Then both say so in words, without a RecursionError or SyntaxError
    assert len(problems) == 1 and problems[0].message
    assert caught.value.kind in {"syntax", "limit"}
    assert "too deeply" in caught.value.message or "tokens" in caught.value.message


def test_nesting_up_to_the_limit_compiles_from_a_deep_call_stack() -> None:
    # Given templates at the nesting limits, compiled by a caller already 400 frames deep
    sources = [
        "{{ " + "(" * templating.MAX_NESTING + "1" + ")" * templating.MAX_NESTING + " }}",
        "{{ " + " + ".join(["1"] * (templating.MAX_EXPRESSION_DEPTH - 5)) + " }}",
        "{% for x in [1] %}" * 20 + "{{ x }}" + "{% endfor %}" * 20,
    ]

    def deep(frames: int, source: str) -> Any:
        return deep(frames - 1, source) if frames else CompiledTemplate(source).render({})

    # Then they work
    assert [deep(400, source) for source in sources] == [1, 95, "1"]


def test_methods_outside_the_allowlist_are_refused(ctx: dict[str, Any]) -> None:
    # Given methods of value types that are not on the allowlist
    for source in (
        "{{ 'ab'.encode().fromhex('00') }}",
        "{{ (1).from_bytes('x'.encode(), 'big') }}",
        "{{ (1.5).fromhex('0x1p10') }}",
        "{{ nodes.fetch.body | attr('copy') }}",
        "{{ 'x'.encode('unicode_escape') }}",
    ):
        # When rendered
        # Then they are refused with a clear error
        with pytest.raises(TemplateError) as caught:
            render(source, ctx)
        assert caught.value.kind in {"security", "undefined", "runtime"}, source


def test_values_kept_alive_by_recursion_hit_the_memory_budget(ctx: dict[str, Any]) -> None:
    # Given a macro that keeps a new 1 MB text alive in each of hundreds of frames
    source = (
        "{% macro f(n, s) %}{{ s | length }}{% if n %}{{ f(n - 1, s ~ 'x') }}{% endif %}"
        "{% endmacro %}{{ f(300, 'x' * 999000) }}"
    )
    # When rendered
    outcome, peak = _peak_bytes(lambda: render(source, ctx))
    # Then the render's memory budget stops it long before it holds 300 MB
    assert isinstance(outcome, TemplateError), outcome
    assert outcome.kind == "limit"
    assert f"{templating.MAX_RENDER_BYTES // 1_000_000} MB" in outcome.message
    assert peak < 2 * templating.MAX_RENDER_BYTES


def test_the_templates_of_one_config_share_one_budget(ctx: dict[str, Any]) -> None:
    # Given three templated fields, each building 15 MB of text (fine on its own)
    texts = ", ".join(f"a ~ {i}" for i in range(15))
    field = "{% set a = 'x' * 999990 %}{{ [" + texts + "] | length }}"
    assert render(field, ctx) == "15"
    # When the config is rendered
    # Then together they exceed the budget of one render
    with pytest.raises(TemplateError) as caught:
        render_value({"a": field, "b": field, "c": field}, ctx)
    assert caught.value.kind == "limit"
    assert "MB" in caught.value.message


def test_the_clock_is_read_inside_a_long_filter(ctx: dict[str, Any]) -> None:
    # Given a filter that reads millions of items without yielding one
    ctx["trigger"]["data"]["rows"] = [0] * 5_000_000
    source = "{{ trigger.data.rows | select('none') | list | length }}"
    # When rendered
    started = time.monotonic()
    with pytest.raises(TemplateError) as caught:
        render(source, ctx)
    # Then the time limit stops it while it reads
    assert caught.value.kind == "limit"
    assert time.monotonic() - started < MAX_RENDER_SECONDS + 0.5


@pytest.mark.parametrize(
    "source",
    [
        "{{ ('a' * 999999).strip('b' * 200000 ~ 'a') | length }}",  # cost: text x set
        "{{ ('a' * 999999) | trim('b' * 200000 ~ 'a') | length }}",
        "{{ 1.5 | round(100000000, 'floor') }}",  # 10 ** 100000000
        "{{ 5 | round(-100000000) }}",
        "{{ ('a' * 99999) | wordwrap(1) | length }}",  # textwrap is quadratic per paragraph
        "{{ nodes.fetch.body.items | sort(attribute='" + "a." * 100 + "a') }}",
        "{{ formatDate(0, 'Y' * 100000) }}",  # parsed formats are cached
    ],
)
def test_arguments_that_make_a_builtin_slow_are_refused(source: str, ctx: dict[str, Any]) -> None:
    # Given a builtin whose cost grows with an argument faster than linearly
    # When rendered
    # Then it is refused at once (formerly: seconds to hours of one uninterruptible call)
    _fails(source, ctx, "limit")


def test_the_slice_filter_works(ctx: dict[str, Any]) -> None:
    assert render("{{ [1, 2, 3, 4] | slice(2) | list }}", ctx) == [[1, 2], [3, 4]]


def test_a_deep_template_is_a_clear_problem_at_every_entry_point() -> None:
    from workfuse.ai.magic_input import MagicContext, check_proposal
    from workfuse.nodes.execution import ExecutionError
    from workfuse.nodes.registry import REGISTRY
    from workfuse.nodes.runner import resolve_templates

    # Given an HTTP node whose URL is the 1,000 nested parentheses
    config = {"method": "GET", "url": PARENTHESES_PAYLOAD}
    # When magic input checks it as a proposal, it is a problem in words
    problems = check_proposal("http", "Fetch", config, MagicContext())
    assert any("nests too deeply" in problem for problem in problems), problems
    # And when the engine renders it, the node fails with TEMPLATE_ERROR
    with pytest.raises(ExecutionError) as caught:
        resolve_templates(REGISTRY.get("http"), config, {"nodes": {}, "trigger": {}, "env": {}})
    assert caught.value.code == "TEMPLATE_ERROR"
    assert "nests too deeply" in caught.value.message
