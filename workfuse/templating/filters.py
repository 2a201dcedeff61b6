"""Jinja's built-in filters, bounded: those that can build large text or lists check the
size first.

:func:`_guarded_filters` is what the environment installs over Jinja's defaults:
``center``, ``indent``, ``format``, ``join``, ``replace``, ``batch``, ``slice``,
``tojson``, ``wordwrap`` (input capped at ``MAX_WORDWRAP_CHARS``: it is quadratic),
``map`` (what it builds is counted as it goes, and the clock checked), ``sum`` (lists
concatenated in linear time), ``string`` (text as in output), and the escaping and
printing filters (their input's size is checked). Other filters are Jinja's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import Environment
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.filters import make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.utils import pass_context, pass_environment, pass_eval_context

from workfuse.templating.errors import (
    _JSON_MAX_INDENT,
    _LOOP_CHECK_EVERY,
    MAX_SEQUENCE_ITEMS,
    MAX_VALUE_CHARS,
    MAX_WORDWRAP_CHARS,
    TemplateError,
    _limit,
)
from workfuse.templating.guards import _check_percent, _check_replace, _check_time
from workfuse.templating.text import _check_length, _check_text, _text, _text_size


def _filter_center(value: Any, width: int = 80) -> str:
    _check_length(width, "the result of center")
    return _text(value).center(width)


def _filter_indent(
    value: Any, width: int | str = 4, first: bool = False, blank: bool = False
) -> Any:
    text = _text(value)
    pad = width if isinstance(width, int) else len(width)
    _check_length(len(text) + (text.count("\n") + 1) * pad, "the result of indent")
    return DEFAULT_FILTERS["indent"](text, width, first, blank)


@pass_environment
def _filter_wordwrap(environment: Environment, value: Any, *args: Any, **kwargs: Any) -> Any:
    text = _text(value)
    _check_length(len(text), "the text given to wordwrap", MAX_WORDWRAP_CHARS)
    return DEFAULT_FILTERS["wordwrap"](environment, text, *args, **kwargs)


def _filter_format(value: Any, *args: Any, **kwargs: Any) -> str:
    if args and kwargs:
        raise TemplateError("format: give positional or keyword arguments, not both")
    values = kwargs or args
    _check_percent(_text(value), values)
    return _text(value) % values


@pass_eval_context
def _filter_join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: Any = None
) -> str:
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(eval_ctx.environment, attribute), items))
    _check_length(sum(map(_text_size, items)) + len(d) * len(items), "the joined text")
    return d.join(map(_text, items))


@pass_eval_context
def _filter_replace(
    eval_ctx: EvalContext, value: Any, old: str, new: str, count: int | None = None
) -> Any:
    _check_replace(_text(value), old, new, count)
    return DEFAULT_FILTERS["replace"](eval_ctx, value, old, new, count)


def _filter_batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    _check_length(linecount, "batch size", MAX_SEQUENCE_ITEMS)
    return DEFAULT_FILTERS["batch"](value, linecount, fill_with)


def _filter_slice(value: Iterable[Any], slices: int, fill_with: Any = None) -> Any:
    _check_length(slices, "slice count", MAX_SEQUENCE_ITEMS)
    return DEFAULT_FILTERS["slice"](value, slices, fill_with)


@pass_eval_context
def _filter_tojson(eval_ctx: EvalContext, value: Any, indent: int | None = None) -> Any:
    if indent is not None and not 0 <= indent <= _JSON_MAX_INDENT:
        raise TemplateError(f"tojson: indent must be between 0 and {_JSON_MAX_INDENT}")
    _check_text(value, "the JSON text")
    return DEFAULT_FILTERS["tojson"](eval_ctx, value, indent)


@pass_context
def _filter_map(context: Context, value: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
    """``map``, with the size of what it builds counted as it goes."""
    total = 0
    for index, item in enumerate(DEFAULT_FILTERS["map"](context, value, *args, **kwargs)):
        total += _text_size(item, MAX_VALUE_CHARS - total)
        if total > MAX_VALUE_CHARS:
            raise _limit(f"map would build more than {MAX_VALUE_CHARS:,} characters")
        if not index % _LOOP_CHECK_EVERY:
            _check_time(context)
        yield item


@pass_environment
def _filter_sum(
    environment: Environment, value: Iterable[Any], attribute: Any = None, start: Any = 0
) -> Any:
    """``sum``; lists and tuples are concatenated in linear time, within the size limit."""
    items = list(value)
    if attribute is not None:
        items = list(map(make_attrgetter(environment, attribute), items))
    if not isinstance(start, list | tuple):
        return sum(items, start)
    size = len(start) + sum(len(item) for item in items if isinstance(item, list | tuple))
    _check_length(size, "the summed list", MAX_SEQUENCE_ITEMS)
    result = list(start)
    for item in items:
        result.extend(item)
    return result if isinstance(start, list) else tuple(result)


def _checked_input(name: str) -> Callable[..., Any]:
    original = DEFAULT_FILTERS[name]
    skip = 1 if getattr(original, "jinja_pass_arg", None) else 0

    @functools.wraps(original)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if len(args) > skip:
            _check_text(args[skip], f"the text of {name}")
        return original(*args, **kwargs)

    return checked


def _guarded_filters() -> dict[str, Callable[..., Any]]:
    guarded: dict[str, Callable[..., Any]] = {
        "center": _filter_center,
        "indent": _filter_indent,
        "format": _filter_format,
        "join": _filter_join,
        "replace": _filter_replace,
        "batch": _filter_batch,
        "slice": _filter_slice,
        "tojson": _filter_tojson,
        "wordwrap": _filter_wordwrap,
        "map": _filter_map,
        "sum": _filter_sum,
        "string": _text,
    }
    for name in ("e", "escape", "forceescape", "safe", "pprint", "urlencode", "xmlattr"):
        guarded[name] = _checked_input(name)
    return guarded
