"""Jinja's built-in filters, allowlisted and bounded.

:func:`_guarded_filters` is the complete set of filters the environment has besides
the helpers; any other name is unknown, and the two refused ones (:data:`REFUSED`:
``urlize``, whose regexes are quadratic, and ``pprint``, whose output grows with the
nesting depth times the size) fail to compile with a message saying why. Every
filter is wrapped by :func:`_bounded`: it reads the render's clock before it runs,
and what it built is checked and charged (:func:`~workfuse.templating.guards._built`).
On top of that:

* filters that build text from text (case, escaping, URL-encoding, ``striptags``,
  ``xmlattr``...) take at most ``MAX_OUTPUT_CHARS`` of input: their result is at most
  a few times the input, and is checked as soon as it is built;
* where the size of the result is known first, it is checked before: ``center``,
  ``indent``, ``format``, ``join``, ``replace``, ``batch``, ``slice``, ``wordwrap``,
  ``tojson``, ``sum`` of lists;
* filters that iterate read the clock at every item they read (``map``, ``select``,
  ``reject``, ``selectattr``, ``rejectattr``, ``unique``, ``min``, ``max``, ``sum``,
  ``join``, ``wordcount``) and, for ``sort`` and ``groupby``, every few keys they
  compute; filters that collect or sort take at most ``MAX_SEQUENCE_ITEMS`` items
  (``list``, ``sort``, ``groupby``, ``dictsort``, ``slice``, ``reverse`` of an
  iterator, ``sum`` of lists); the new lists and pairs ``batch``, ``slice`` and
  ``items`` yield are charged to the render's budget one by one;
* bounded arguments: ``trim``'s character set (``MAX_STRIP_CHARS``), ``round``'s
  precision (``MAX_ROUND_DIGITS``), ``wordwrap``'s input (``MAX_WORDWRAP_CHARS``,
  paragraphs of ``MAX_WORDWRAP_LINE_CHARS``: textwrap is quadratic in a paragraph),
  the parts of an ``attribute`` argument (``MAX_ATTRIBUTE_PARTS``: one lookup per
  item each).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import groupby
from typing import Any

from jinja2 import Environment
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.filters import (
    _GroupTuple,
    _word_re,
    ignore_case,
    make_attrgetter,
    make_multi_attrgetter,
)
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.utils import pass_context, pass_environment, pass_eval_context

from workfuse.templating.budget import _charge, _check_time, _timed
from workfuse.templating.errors import (
    _JSON_MAX_INDENT,
    _LOOP_CHECK_EVERY,
    MAX_ATTRIBUTE_PARTS,
    MAX_ROUND_DIGITS,
    MAX_SEQUENCE_ITEMS,
    MAX_STRIP_CHARS,
    MAX_VALUE_CHARS,
    MAX_WORDWRAP_CHARS,
    MAX_WORDWRAP_LINE_CHARS,
    TemplateError,
    _limit,
)
from workfuse.templating.guards import _built, _check_percent
from workfuse.templating.methods import _check_replace, _collect_text
from workfuse.templating.text import _check_length, _check_text, _text, _text_size

#: Jinja filters templates cannot use, and why (the compile error says it).
REFUSED: Mapping[str, str] = {
    "urlize": "its cost grows with the square of the text's length",
    "pprint": "its output grows with the nesting depth times the size; use tojson",
}


def _check_input(value: Any, name: str) -> None:
    """Filters that build text from text take bounded inputs."""
    size = len(value) if isinstance(value, str | bytes) else _text_size(value)
    _check_length(size, f"the text given to {name}")


def _bounded(
    name: str,
    fn: Callable[..., Any],
    *,
    text_input: bool = False,
    iterate: bool = False,
    collect: bool = False,
    check: Callable[..., None] | None = None,
    builds: bool = True,
) -> Callable[..., Any]:
    """``fn`` with the clock read first and what it built checked; ``text_input``:
    its input is bounded text; ``iterate``/``collect``: its input is read through
    :func:`_timed` (``collect``: at most ``MAX_SEQUENCE_ITEMS`` items); ``check``:
    called with the filter's arguments before it runs; ``builds``: False for filters
    that return one of their inputs (``first``, ``default``...), which are not built."""
    skip = 1 if getattr(fn, "jinja_pass_arg", None) else 0
    what = f"the result of {name}"

    @functools.wraps(fn)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        if len(args) <= skip:
            return fn(*args, **kwargs)
        value = args[skip]
        if text_input:
            _check_input(value, name)
        if check is not None:
            check(*args[skip:], **kwargs)
        if iterate or collect:
            cap = MAX_SEQUENCE_ITEMS if collect else None
            args = (*args[:skip], _timed(value, cap, name), *args[skip + 1 :])
        result = fn(*args, **kwargs)
        if not builds or result is value or isinstance(result, Iterator):
            return result
        return _built(result, what)

    return bounded


def _charged(items: Iterable[Any]) -> Iterator[Any]:
    """Yield ``items`` (new lists or tuples) with each one charged to the render."""
    for index, item in enumerate(items):
        if not index % _LOOP_CHECK_EVERY:
            _check_time()
        _charge(sys.getsizeof(item))
        yield item


# --- argument checks ---------------------------------------------------------------------


def _round_args(value: Any, precision: Any = 0, method: str = "common") -> None:
    if isinstance(precision, int) and abs(precision) > MAX_ROUND_DIGITS:
        raise _limit(f"round: the precision must be within ±{MAX_ROUND_DIGITS}")


def _trim_args(value: Any, chars: Any = None) -> None:
    if isinstance(chars, str) and len(chars) > MAX_STRIP_CHARS:
        raise _limit(f"trim accepts at most {MAX_STRIP_CHARS:,} characters to strip")


#: Where each filter that reads items' attributes takes its ``attribute`` argument:
#: (position after the value, keyword).
_ATTRIBUTE_ARGUMENT: Mapping[str, tuple[int | None, str | None]] = {
    "sort": (2, "attribute"),
    "groupby": (0, "attribute"),
    "unique": (1, "attribute"),
    "min": (1, "attribute"),
    "max": (1, "attribute"),
    "sum": (0, "attribute"),
    "join": (1, "attribute"),
    "map": (None, "attribute"),
    "selectattr": (0, None),
    "rejectattr": (0, None),
}


def _attribute_check(name: str) -> Callable[..., None]:
    position, keyword = _ATTRIBUTE_ARGUMENT[name]

    def check(value: Any, *args: Any, **kwargs: Any) -> None:
        attribute = kwargs.get(keyword) if keyword else None
        if position is not None and len(args) > position:
            attribute = args[position]
        if isinstance(attribute, str):
            parts = attribute.count(".") + attribute.count(",") + 1
            if parts > MAX_ATTRIBUTE_PARTS:
                raise _limit(f"{name}: attribute has more than {MAX_ATTRIBUTE_PARTS} parts")

    return check


def _timed_key(key: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``key``, with the render's clock read every few items (sorting calls it per item)."""
    count = 0

    def timed(item: Any) -> Any:
        nonlocal count
        count += 1
        if not count % _LOOP_CHECK_EVERY:
            _check_time()
        return key(item)

    return timed


def _dictsort_args(value: Any, *args: Any, **kwargs: Any) -> None:
    if isinstance(value, Mapping):
        _check_length(len(value), "dictsort", MAX_SEQUENCE_ITEMS, "items")


# --- filters with their own bounds -------------------------------------------------------


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
def _filter_wordwrap(
    environment: Environment,
    value: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> Any:
    text = _text(value)
    _check_length(len(text), "the text given to wordwrap", MAX_WORDWRAP_CHARS, "characters")
    longest = max(map(len, text.splitlines()), default=0)
    _check_length(longest, "a paragraph given to wordwrap", MAX_WORDWRAP_LINE_CHARS, "characters")
    separator = len(str(wrapstring if wrapstring is not None else environment.newline_sequence))
    lines = len(text) + text.count("\n") + 1  # at most: every line holds a character
    _check_length(len(text) + lines * separator, "the result of wordwrap")
    return DEFAULT_FILTERS["wordwrap"](
        environment, text, width, break_long_words, wrapstring, break_on_hyphens
    )


def _filter_wordcount(value: Any) -> int:
    return sum(1 for _ in _timed(_word_re.finditer(_text(value))))


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
    items: Iterable[Any] = value
    if attribute is not None:
        items = map(make_attrgetter(eval_ctx.environment, attribute), value)
    collected = _collect_text(items, len(_text(d)), "the joined text")
    return _text(d).join(map(_text, collected))


@pass_eval_context
def _filter_replace(
    eval_ctx: EvalContext, value: Any, old: str, new: str, count: int | None = None
) -> Any:
    _check_replace(_text(value), old, new, count)
    return DEFAULT_FILTERS["replace"](eval_ctx, value, old, new, count)


def _filter_batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
    _check_length(linecount, "batch size", MAX_SEQUENCE_ITEMS, "items")
    return _charged(DEFAULT_FILTERS["batch"](_timed(value), linecount, fill_with))


@pass_eval_context
def _filter_slice(
    eval_ctx: EvalContext, value: Iterable[Any], slices: int, fill_with: Any = None
) -> Any:
    _check_length(slices, "slice count", MAX_SEQUENCE_ITEMS, "items")
    items = _timed(value, MAX_SEQUENCE_ITEMS, "slice")
    return _charged(DEFAULT_FILTERS["slice"](eval_ctx, items, slices, fill_with))


def _filter_items(value: Any) -> Any:
    return _charged(DEFAULT_FILTERS["items"](value))


def _filter_reverse(value: Any) -> Any:
    if isinstance(value, str):
        _check_input(value, "reverse")
        return value[::-1]
    try:
        return reversed(value)  # lazy: nothing is copied
    except TypeError:
        items = list(_timed(value, MAX_SEQUENCE_ITEMS, "reverse"))
        items.reverse()
        return items


@pass_environment
def _filter_sort(
    environment: Environment,
    value: Iterable[Any],
    reverse: bool = False,
    case_sensitive: bool = False,
    attribute: Any = None,
) -> list[Any]:
    """Jinja's ``sort``, with the clock read while the keys are computed."""
    key = make_multi_attrgetter(
        environment, attribute, postprocess=ignore_case if not case_sensitive else None
    )
    return sorted(value, key=_timed_key(key), reverse=reverse)


@pass_environment
def _filter_groupby(
    environment: Environment,
    value: Iterable[Any],
    attribute: Any,
    default: Any = None,
    case_sensitive: bool = False,
) -> list[Any]:
    """Jinja's ``groupby``, with the clock read while the keys are computed."""
    key = _timed_key(
        make_attrgetter(
            environment,
            attribute,
            postprocess=ignore_case if not case_sensitive else None,
            default=default,
        )
    )
    groups = [_GroupTuple(k, list(items)) for k, items in groupby(sorted(value, key=key), key)]
    if not case_sensitive:  # the group shows the first item's own spelling
        shown = make_attrgetter(environment, attribute, default=default)
        groups = [_GroupTuple(shown(items[0]), items) for _, items in groups]
    return groups


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
    for item in DEFAULT_FILTERS["map"](context, value, *args, **kwargs):
        total += _text_size(item, MAX_VALUE_CHARS - total)
        if total > MAX_VALUE_CHARS:
            raise _limit(f"map would build more than {MAX_VALUE_CHARS:,} characters")
        yield item


@pass_environment
def _filter_sum(
    environment: Environment, value: Iterable[Any], attribute: Any = None, start: Any = 0
) -> Any:
    """``sum``; lists and tuples are concatenated in linear time, within the size limit."""
    items: Iterable[Any] = _timed(value)
    if attribute is not None:
        items = map(make_attrgetter(environment, attribute), items)
    if not isinstance(start, list | tuple):
        return sum(items, start)
    result = list(start)
    for item in items:
        if not isinstance(item, list | tuple):
            raise TypeError(f"can only concatenate list (not {type(item).__name__!r}) to list")
        _check_length(len(result) + len(item), "the summed list", MAX_SEQUENCE_ITEMS, "items")
        result.extend(item)
    return result if isinstance(start, list) else tuple(result)


def _guarded_filters() -> dict[str, Callable[..., Any]]:
    """Every filter templates may use (besides the helpers), each one bounded."""
    plain = ("abs", "count", "filesizeformat", "float", "int", "length", "truncate")
    picks = ("attr", "d", "default", "first", "last", "random")
    text = (
        "capitalize",
        "lower",
        "upper",
        "title",
        "e",
        "escape",
        "forceescape",
        "safe",
        "striptags",
        "urlencode",
        "xmlattr",
    )
    own: dict[str, Callable[..., Any]] = {
        "center": _filter_center,
        "indent": _filter_indent,
        "format": _filter_format,
        "join": _filter_join,
        "replace": _filter_replace,
        "batch": _filter_batch,
        "slice": _filter_slice,
        "items": _filter_items,
        "reverse": _filter_reverse,
        "tojson": _filter_tojson,
        "wordwrap": _filter_wordwrap,
        "wordcount": _filter_wordcount,
        "sum": _filter_sum,
        "string": _text,
    }

    def attribute(name: str) -> Callable[..., None] | None:
        return _attribute_check(name) if name in _ATTRIBUTE_ARGUMENT else None

    filters: dict[str, Callable[..., Any]] = {}
    for name in plain:
        filters[name] = _bounded(name, DEFAULT_FILTERS[name])
    for name in picks:
        filters[name] = _bounded(name, DEFAULT_FILTERS[name], builds=False)
    for name in text:
        filters[name] = _bounded(name, DEFAULT_FILTERS[name], text_input=True)
    for name, fn in own.items():
        text_input = name in ("center", "indent", "format", "replace", "string")
        filters[name] = _bounded(name, fn, text_input=text_input, check=attribute(name))
    filters["round"] = _bounded("round", DEFAULT_FILTERS["round"], check=_round_args)
    filters["trim"] = _bounded("trim", DEFAULT_FILTERS["trim"], text_input=True, check=_trim_args)
    filters["map"] = _bounded("map", _filter_map, iterate=True, check=attribute("map"))
    for name in ("select", "reject", "selectattr", "rejectattr", "unique"):
        filters[name] = _bounded(name, DEFAULT_FILTERS[name], iterate=True, check=attribute(name))
    for name in ("min", "max"):
        filters[name] = _bounded(
            name, DEFAULT_FILTERS[name], iterate=True, builds=False, check=attribute(name)
        )
    filters["list"] = _bounded("list", DEFAULT_FILTERS["list"], collect=True)
    filters["sort"] = _bounded("sort", _filter_sort, collect=True, check=attribute("sort"))
    filters["groupby"] = _bounded(
        "groupby", _filter_groupby, collect=True, check=attribute("groupby")
    )
    filters["dictsort"] = _bounded("dictsort", DEFAULT_FILTERS["dictsort"], check=_dictsort_args)
    return filters
