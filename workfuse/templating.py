"""Templates in node configs: the only place a Jinja environment is built.

A template sees the seed's ``TemplateContext``: ``nodes`` (outputs of finished nodes by
node id), ``trigger`` (the payload) and ``env`` (operator-allowlisted variables), plus
the helpers ``formatDate``, ``jsonParse``, ``jsonStringify``, ``uppercase``,
``lowercase`` and ``get`` (each usable as a filter or a function) and any helper added
with :func:`register_helper`.

Rules that differ from stock Jinja:

* A source that is exactly one ``{{ expression }}`` renders to the expression's native
  value (list, dict, number, ``None``...); anything else renders to a string. Native
  values are the context's own objects: treat them as read-only.
* In text, ``None`` renders as ``""``, booleans as ``true``/``false``, and lists, dicts
  and iterators as compact JSON (the same for ``~`` and the ``string`` filter).
* ``a.b`` and ``a['b']`` on a mapping read the key ``b`` only, never a dict method, so
  ``nodes.fetch.body.items`` is the ``items`` key. On other objects, safe attributes.
* Undefined values are strict: printing, comparing, iterating or testing one raises.
  ``x.y.z is defined`` and ``x.y.z | default(...)`` work at any depth.
* Sandbox (``ImmutableSandboxedEnvironment``): private and internal attributes, data
  mutation, ``include``/``import``/``extends`` and the ``lipsum``, ``cycler``,
  ``joiner`` and ``namespace`` globals are refused with a :class:`TemplateError`.

Limits (module constants below): source size, wall time per render (checked at every
call, every loop iteration and every output chunk; one builtin operation on large
data is not interrupted), output size, ``range`` size, and the size of strings,
lists and integers built by operators, string methods and filters (checked before
they are allocated).

Error messages name only what the template itself names (variables, keys, filters)
and types; they never include a value from the context.
"""

from __future__ import annotations

import functools
import json
import re
import string
import time
import types
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from jinja2 import Environment, Template, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.filters import make_attrgetter
from jinja2.lexer import Token, TokenStream, newline_re
from jinja2.meta import find_undeclared_variables
from jinja2.nodes import EvalContext
from jinja2.parser import Parser
from jinja2.runtime import ChainableUndefined, Context, StrictUndefined, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing, pass_context, pass_environment, pass_eval_context
from jinja2.visitor import NodeTransformer

__all__ = [
    "CACHE_SIZE",
    "MAX_INT_BITS",
    "MAX_OUTPUT_CHARS",
    "MAX_RANGE_ITEMS",
    "MAX_RENDER_SECONDS",
    "MAX_SEQUENCE_ITEMS",
    "MAX_TEMPLATE_CHARS",
    "MAX_VALUE_CHARS",
    "MAX_WORDWRAP_CHARS",
    "CompiledTemplate",
    "TemplateError",
    "TemplateProblem",
    "compile_template",
    "register_helper",
    "render",
    "render_value",
    "validate_template",
]

MAX_TEMPLATE_CHARS = 100_000  #: characters in one template source
MAX_RENDER_SECONDS = 1.0  #: s of wall time for one render
MAX_OUTPUT_CHARS = 1_000_000  #: characters in any text a template builds (~1 MB of ASCII)
MAX_VALUE_CHARS = 10_000_000  #: characters (as JSON) of a list or dict a template builds
MAX_RANGE_ITEMS = 10_000  #: items in one range()
MAX_SEQUENCE_ITEMS = 100_000  #: items in a list built by +, *, batch or slice
MAX_INT_BITS = 10_000  #: bits in an integer built by * or ** (about 3,000 digits)
MAX_WORDWRAP_CHARS = 100_000  #: characters the wordwrap filter accepts (it is quadratic)
CACHE_SIZE = 4_096  #: compiled templates kept (least recently used dropped first)
_LOOP_CHECK_EVERY = 64  #: loop iterations between two clock reads
_JSON_MAX_INDENT = 16  #: spaces of indent accepted by jsonStringify and tojson
_RESULT = "wf_result"  #: variable that holds a native expression's value

KNOWN_NAMES = frozenset({"nodes", "trigger", "env"})


class TemplateError(Exception):
    """A template could not be compiled or rendered.

    ``kind`` is ``syntax``, ``undefined``, ``security``, ``limit`` or ``runtime``;
    ``line`` and ``column`` are 1-based (``column`` only for syntax errors).
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        kind: str = "runtime",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.kind = kind

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True)
class TemplateProblem:
    """One problem found by :func:`validate_template`, for the editor to show."""

    message: str
    line: int | None = None
    column: int | None = None


def _limit(message: str) -> TemplateError:
    return TemplateError(message, kind="limit")


# --- text conversion and size checks --------------------------------------------------


def _text_size(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """Characters ``value`` takes as text, counted until ``limit`` is passed."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + len(item)
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            total += item.bit_length() // 3 + 1
        else:
            total += 8
    return total


def _check_text(value: Any, what: str) -> None:
    if not isinstance(value, str) and _text_size(value) > MAX_OUTPUT_CHARS:
        raise _limit(f"{what} would be longer than {MAX_OUTPUT_CHARS:,} characters")


def _check_length(length: Any, what: str, limit: int = MAX_OUTPUT_CHARS) -> None:
    """Refuse a text of more than ``limit`` characters (or a list of more items)."""
    if isinstance(length, int) and length > limit:
        unit = "items" if limit == MAX_SEQUENCE_ITEMS else "characters"
        raise _limit(f"{what} would be longer than {limit:,} {unit}")


def _json_default(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, range | Iterator | set | frozenset):
        return list(value)
    raise TemplateError(f"a {type(value).__name__} value cannot be written as JSON")


def _dumps(value: Any, indent: int | None = None) -> str:
    _check_text(value, "the JSON text")
    separators = (",", ": ") if indent is not None else (",", ":")
    return json.dumps(
        value, ensure_ascii=False, indent=indent, separators=separators, default=_json_default
    )


def _to_text(value: Any) -> Any:
    """How a value appears in text: ``""`` for None, JSON for containers."""
    if isinstance(value, str | Undefined):
        return value  # an undefined value raises when Jinja turns it into text
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Mapping | list | tuple | range | Iterator):
        return _dumps(list(value) if isinstance(value, range | Iterator) else value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    _check_callable(value)
    _check_text(value, "the text")
    return str(value)


def _check_callable(value: Any) -> None:
    if callable(value):
        raise TemplateError(
            f"the expression is a {type(value).__name__}, not a value (call it with ( ))"
        )


def _text(value: Any) -> str:
    text = _to_text(value)
    return text if isinstance(text, str) else str(text)


# --- helpers --------------------------------------------------------------------------

_DATE_TOKENS = re.compile(r"\[([^\]]*)\]|YYYY|YY|MM|DD|HH|mm|ss|SSS")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            text = value.strip()
            if _NUMBER.fullmatch(text):
                return datetime.fromtimestamp(float(text), tz=UTC)
            return datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        pass
    raise TemplateError(
        f"formatDate: a {type(value).__name__} value is not a date"
        " (give an ISO 8601 string, a datetime or epoch seconds)"
    )


_DATE_FIELDS: Mapping[str, Callable[[datetime], str]] = {
    "YYYY": lambda moment: f"{moment.year:04d}",
    "YY": lambda moment: f"{moment.year % 100:02d}",
    "MM": lambda moment: f"{moment.month:02d}",
    "DD": lambda moment: f"{moment.day:02d}",
    "HH": lambda moment: f"{moment.hour:02d}",
    "mm": lambda moment: f"{moment.minute:02d}",
    "ss": lambda moment: f"{moment.second:02d}",
    "SSS": lambda moment: f"{moment.microsecond // 1000:03d}",
}


@functools.lru_cache(maxsize=256)
def _date_format(fmt: str) -> tuple[str | Callable[[datetime], str], ...]:
    parts: list[str | Callable[[datetime], str]] = []
    position = 0
    for match in _DATE_TOKENS.finditer(fmt):
        parts.append(fmt[position : match.start()])
        literal = match.group(1)
        parts.append(literal if literal is not None else _DATE_FIELDS[match.group(0)])
        position = match.end()
    parts.append(fmt[position:])
    return tuple(part for part in parts if part != "")


def format_date(value: Any, fmt: str = "YYYY-MM-DD") -> str:
    """``formatDate``: YYYY, YY, MM, DD, HH, mm, ss, SSS; ``[text]`` is kept as is.

    Epoch seconds are read as UTC; ISO strings and datetimes keep their own offset.
    """
    moment = _as_datetime(value)
    return "".join(
        part if isinstance(part, str) else part(moment) for part in _date_format(str(fmt))
    )


def json_parse(value: Any) -> Any:
    """``jsonParse``: a JSON string to data; other values are returned unchanged."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as error:
        raise TemplateError(
            f"jsonParse: invalid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None


def json_stringify(value: Any, indent: int | None = None) -> str:
    """``jsonStringify``: compact JSON, or indented by ``indent`` spaces (at most 16)."""
    if indent is not None and not 0 <= indent <= _JSON_MAX_INDENT:
        raise TemplateError(f"jsonStringify: indent must be between 0 and {_JSON_MAX_INDENT}")
    return _dumps(value, indent)


def uppercase(value: Any) -> str:
    """``uppercase``."""
    return _text(value).upper()


def lowercase(value: Any) -> str:
    """``lowercase``."""
    return _text(value).lower()


def get_path(obj: Any, path: Any, default: Any = None) -> Any:
    """``get(obj, "a.b.0.c")``: keys of mappings and indexes of lists; missing → default."""
    segments = path if isinstance(path, list | tuple) else str(path).split(".")
    current = obj
    for segment in segments:
        if segment == "" and not isinstance(path, list | tuple):
            continue
        if isinstance(current, Mapping):
            if segment not in current:
                return default
            current = current[segment]
        elif isinstance(current, list | tuple) and _NUMBER.fullmatch(str(segment)):
            index = int(str(segment))
            if not -len(current) <= index < len(current):
                return default
            current = current[index]
        else:
            return default
    return current


def _strict(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Undefined arguments raise instead of reaching the helper."""

    @functools.wraps(fn)
    def helper(*args: Any, **kwargs: Any) -> Any:
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, Undefined):
                arg._fail_with_undefined_error()
        return fn(*args, **kwargs)

    return helper


BUILTIN_HELPERS: Mapping[str, Callable[..., Any]] = types.MappingProxyType(
    {
        "formatDate": format_date,
        "jsonParse": json_parse,
        "jsonStringify": json_stringify,
        "uppercase": uppercase,
        "lowercase": lowercase,
        "get": get_path,
    }
)


# --- guarded building blocks ----------------------------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_SPEC_NUMBER = re.compile(r"\d+")


def _check_percent(fmt: str | bytes, args: Any) -> None:
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    widths = 0
    for match in _PERCENT_SPEC.finditer(text):
        if "*" in match.group(0):
            raise _limit("'*' widths are not allowed in % formatting")
        widths += sum(int(n) for n in match.groups() if n)
    _check_length(len(text) + widths + _text_size(args), "the formatted text")


def _check_format_spec(fmt: str, args: Any) -> None:
    widths = 0
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec and "{" in spec:
            raise _limit("nested fields are not allowed in format specs")
        widths += sum(int(n) for n in _SPEC_NUMBER.findall(spec or ""))
    _check_length(len(fmt) + widths + _text_size(args), "the formatted text")


def _multiply(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _limit(f"the product would have more than {MAX_INT_BITS:,} bits")
    else:
        seq, count = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(count, int):
            if isinstance(seq, str | bytes):
                _check_length(len(seq) * count, "the repeated text")
            elif isinstance(seq, list | tuple):
                _check_length(len(seq) * count, "the repeated list", MAX_SEQUENCE_ITEMS)
    return left * right


def _add(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes) and isinstance(right, str | bytes):
        _check_length(len(left) + len(right), "the joined text")
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        _check_length(len(left) + len(right), "the joined list", MAX_SEQUENCE_ITEMS)
    return left + right


def _power(left: Any, right: Any) -> Any:
    if (
        isinstance(left, int)
        and isinstance(right, int)
        and abs(left) > 1
        and right * left.bit_length() > MAX_INT_BITS
    ):
        raise _limit(f"the power would have more than {MAX_INT_BITS:,} bits")
    return left**right


def _modulo(left: Any, right: Any) -> Any:
    if isinstance(left, str | bytes):
        _check_percent(left, right)
    return left % right


def _method_args(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Check a builtin str/bytes/int method call against the size limits."""
    owner, name = method.__self__, method.__name__
    first = args[0] if args else next(iter(kwargs.values()), None)
    if isinstance(owner, str | bytes):
        if name in ("center", "ljust", "rjust", "zfill"):
            _check_length(first, f"the result of {name}()")
        elif name == "expandtabs":
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            _check_length(tabs * (first if isinstance(first, int) else 8), "expandtabs()")
        elif name == "replace" and len(args) >= 2:
            _check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
        elif name == "join" and args:
            items = list(args[0])
            _check_length(sum(map(_text_size, items)) + len(owner) * len(items), "join()")
            return (items, *args[1:])
        elif name == "translate":
            _check_text(first, "the translation table")
            table = first.values() if isinstance(first, Mapping) else first
            values = table if isinstance(table, Iterable) else ()
            longest = max((_text_size(v) for v in values), default=1)
            _check_length(len(owner) * longest, "the result of translate()")
    elif isinstance(owner, int) and name == "to_bytes":
        _check_length(first, "the result of to_bytes()")
    return args


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if isinstance(old, str | bytes) and isinstance(new, str | bytes):
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        _check_length(len(text) + hits * max(len(new) - len(old), 0), "the replaced text")


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE_ITEMS + 1
    if size > MAX_RANGE_ITEMS:
        raise _limit(f"range() is limited to {MAX_RANGE_ITEMS:,} items")
    return numbers


def _concat_parts(parts: Iterable[str]) -> str:
    """Join a captured block (macro, ``{% set %}`` block, ``{% filter %}``)."""
    chunks = list(parts)
    _check_length(sum(map(len, chunks)), "the captured text")
    return "".join(chunks)


# --- guarded filters ------------------------------------------------------------------


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


# --- environment ----------------------------------------------------------------------


class _UndefinedValue(UndefinedError):
    """An undefined value was used; carries what the message may name."""

    def __init__(self, name: Any, owner: Any, hint: str | None) -> None:
        super().__init__(hint or "undefined value")
        self.name, self.owner, self.hint = name, owner, hint


class _Undefined(ChainableUndefined, StrictUndefined):
    """Strict when used, chainable when read: ``a.b.c is defined`` works at any depth."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> Any:
        raise _UndefinedValue(self._undefined_name, self._undefined_obj, self._undefined_hint)


# Jinja binds its operators (__str__, __iter__, __eq__...) to the base class's failure
# method; point them at ours so every failure carries the name and owner.
for _attr, _value in (*vars(Undefined).items(), *vars(StrictUndefined).items()):
    if _value is Undefined._fail_with_undefined_error and _attr not in vars(ChainableUndefined):
        setattr(_Undefined, _attr, _Undefined._fail_with_undefined_error)
del _attr, _value


class _RenderContext(Context):
    """A Jinja context that knows when its render must stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS


def _check_time(context: Context) -> None:
    if time.monotonic() > cast(_RenderContext, context).deadline:
        raise _limit(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")


class _IndexedStream(TokenStream):
    """A token stream that remembers the order of the tokens it hands out."""

    def __init__(self, tokens: Iterable[Token], name: str | None, filename: str | None) -> None:
        self.order: dict[int, int] = {}
        super().__init__(self._count(tokens), name, filename)

    def _count(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for index, token in enumerate(tokens):
            self.order[id(token)] = index
            yield token


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    context_class = _RenderContext
    concat = staticmethod(_concat_parts)

    def __init__(self) -> None:
        super().__init__(
            undefined=_Undefined,
            autoescape=False,
            finalize=_to_text,
            keep_trailing_newline=True,
            cache_size=0,
            auto_reload=False,
        )
        self.globals.clear()
        self.globals.update(range=_bounded_range, dict=dict)
        self.filters.update(_guarded_filters())
        self.binop_table.update({"*": _multiply, "+": _add, "**": _power, "%": _modulo})

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        if isinstance(obj, Undefined):
            return obj  # reading through an undefined value fails where it is used
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(obj) is dict or isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of type {type(obj).__name__!r} is not allowed"
        )

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt, sandboxed = value.__self__, wrapped

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_format_spec(fmt, (args, kwargs))
            return sandboxed(*args, **kwargs)

        return checked

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        _check_time(context)
        if isinstance(obj, types.BuiltinMethodType) and isinstance(
            getattr(obj, "__self__", None), str | bytes | int
        ):
            args = _method_args(obj, args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def guard_loop(self, context: Context, iterable: Iterable[Any]) -> Iterator[Any]:
        """Every ``{% for %}`` iterates through this: the render's clock is checked."""
        for index, item in enumerate(iterable):
            if not index % _LOOP_CHECK_EVERY:
                _check_time(context)
            yield item

    def concat_values(self, *parts: Any) -> str:
        """The ``~`` operator: values as text, size-checked before joining."""
        texts = [_text(part) for part in parts]
        _check_length(sum(map(len, texts)), "the joined text")
        return "".join(texts)

    def _tokenize(
        self,
        source: str,
        name: str | None,
        filename: str | None = None,
        state: str | None = None,
    ) -> TokenStream:
        raw = self.lexer.tokeniter(source, name, filename, state)
        return _IndexedStream(self.lexer.wrap(raw, name, filename), name, filename)


class _Guard(NodeTransformer):
    """Routes loops and ``~`` through the environment's guards; refuses loader tags."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = cast(nodes.For, self.generic_visit(node))
        iterable = cast(nodes.Expr, node.iter)
        node.iter = _env_call("guard_loop", [nodes.ContextReference(), iterable], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = cast(nodes.Concat, self.generic_visit(node))
        return _env_call("concat_values", list(node.nodes), node.lineno)

    def generic_visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> nodes.Node:
        if isinstance(node, nodes.Extends | nodes.Include | nodes.Import | nodes.FromImport):
            raise TemplateError(
                "include, import and extends are not available in templates",
                line=node.lineno,
                kind="syntax",
            )
        if isinstance(node, nodes.Name) and node.name == "self":
            raise TemplateError(
                "'self' is not available in templates", line=node.lineno, kind="security"
            )
        return super().generic_visit(node, *args, **kwargs)


def _env_call(method: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(method), args, [], None, None, lineno=lineno)
    call.set_environment(_ENV)
    call.set_lineno(lineno)
    return call


_ENV = _Environment()
_HELPERS: dict[str, Callable[..., Any]] = {}


def _install_helper(name: str, fn: Callable[..., Any]) -> None:
    helper = _strict(fn)
    _ENV.filters[name] = helper
    _ENV.globals[name] = helper
    _HELPERS[name] = fn


for _name, _fn in BUILTIN_HELPERS.items():
    _install_helper(_name, _fn)
del _name, _fn
_RESERVED = frozenset(_ENV.filters) | frozenset(_ENV.globals) | KNOWN_NAMES


# --- compiling ------------------------------------------------------------------------


def _has_tags(source: str) -> bool:
    return "{{" in source or "{%" in source


def _token_positions(source: str) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """(line, column) of every parser token, and where lexing failed (None if it did not)."""
    text = "\n".join(newline_re.split(source)[::2])
    positions: list[tuple[int, int]] = []
    cursor = [0, 0]  # start and end of the last raw token

    def tracked() -> Iterator[tuple[int, str, str]]:
        for lineno, kind, value in _ENV.lexer.tokeniter(source, None):
            found = text.find(value, cursor[1])
            cursor[0] = found if found >= 0 else cursor[1]
            cursor[1] = cursor[0] + len(value)
            yield lineno, kind, value

    def where(offset: int) -> tuple[int, int]:
        line_start = text.rfind("\n", 0, offset) + 1
        return text.count("\n", 0, offset) + 1, offset - line_start + 1

    try:
        for _token in _ENV.lexer.wrap(tracked()):
            positions.append(where(cursor[0]))
    except TemplateSyntaxError:
        return positions, where(min(cursor[1], len(text)))
    return positions, None


def _syntax_error(source: str, error: TemplateSyntaxError, parser: Parser | None) -> TemplateError:
    """A TemplateError with the column of the token the lexer or parser stopped at."""
    line, column = error.lineno, None
    positions, lexer_stop = _token_positions(source)
    stream = parser.stream if parser is not None else None
    index = stream.order.get(id(stream.current)) if isinstance(stream, _IndexedStream) else None
    if lexer_stop is not None:
        column = lexer_stop[1] if lexer_stop[0] == line else None
    elif index is not None and index < len(positions):
        column = positions[index][1] if positions[index][0] == line else None
    elif stream is not None and stream.current.type == "eof":
        text = "\n".join(newline_re.split(source)[::2])
        if text.count("\n") + 1 == line:
            column = len(text) - (text.rfind("\n") + 1) + 1
    return TemplateError(error.message or "syntax error", line=line, column=column, kind="syntax")


def _parse(source: str) -> nodes.Template:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise _limit(f"the template is longer than {MAX_TEMPLATE_CHARS:,} characters")
    parser: Parser | None = None
    try:
        parser = Parser(_ENV, source)
        return parser.parse()
    except TemplateSyntaxError as error:
        raise _syntax_error(source, error, parser) from None


def _single_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a source that is exactly one ``{{ ... }}``, else None."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    parts = [
        part
        for part in tree.body[0].nodes
        if not (isinstance(part, nodes.TemplateData) and not part.data.strip())
    ]
    if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
        return parts[0]
    return None


def _is_lookup(node: nodes.Node) -> bool:
    """True for ``a``, ``a.b``, ``a['b'][0]`` and literals: values that cannot grow."""
    if isinstance(node, nodes.Getattr):
        return _is_lookup(node.node)
    if isinstance(node, nodes.Getitem):
        return isinstance(node.arg, nodes.Const) and _is_lookup(node.node)
    return isinstance(node, nodes.Name | nodes.Const)


def _literals(tree: nodes.Template) -> frozenset[Any]:
    """Names, attributes and constant keys written in the template (safe to quote)."""
    found: set[Any] = {node.attr for node in tree.find_all(nodes.Getattr)}
    found.update(node.name for node in tree.find_all(nodes.Name))
    found.update(
        node.value for node in tree.find_all(nodes.Const) if isinstance(node.value, str | int)
    )
    return frozenset(found)


class CompiledTemplate:
    """A compiled template; :meth:`render` it as often as needed (thread-safe)."""

    __slots__ = ("_computed", "_line", "_literals", "_native", "_template", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._template: Template | None = None
        self._native = self._computed = False
        self._line: int | None = None
        self._literals: frozenset[Any] = frozenset()
        if not _has_tags(source):
            return
        tree = _parse(source)
        self._literals = _literals(tree)
        expression = _single_expression(tree)
        if expression is not None:
            self._native, self._line = True, expression.lineno
            self._computed = not _is_lookup(expression)
            target = nodes.Name(_RESULT, "store", lineno=expression.lineno)
            tree = nodes.Template([nodes.Assign(target, expression, lineno=expression.lineno)])
            tree.set_environment(_ENV)
        tree = cast(nodes.Template, _Guard().visit(tree))
        try:
            code = _ENV.compile(tree)
        except TemplateSyntaxError as error:
            raise TemplateError(
                error.message or "syntax error", line=error.lineno, kind="syntax"
            ) from None
        self._template = _ENV.template_class.from_code(_ENV, code, _ENV.globals)

    @property
    def is_native(self) -> bool:
        """True when the source is one expression and renders to its native value."""
        return self._native

    def render(self, context: Mapping[str, Any]) -> Any:
        """The native value of a single expression, else the rendered string."""
        template = self._template
        if template is None:
            return self.source
        try:
            ctx = template.new_context(cast(dict[str, Any], context))  # only read
            if self._native:
                for _ in template.root_render_func(ctx):
                    pass
                value = _native_value(ctx.vars[_RESULT])
                if self._computed and _text_size(value, MAX_VALUE_CHARS) > MAX_VALUE_CHARS:
                    raise _limit(f"the value would be longer than {MAX_VALUE_CHARS:,} characters")
                return value
            chunks: list[str] = []
            size = 0
            for chunk in template.root_render_func(ctx):
                size += len(chunk)
                if size > MAX_OUTPUT_CHARS:
                    raise _limit(f"the output is longer than {MAX_OUTPUT_CHARS:,} characters")
                _check_time(ctx)
                chunks.append(chunk)
            return "".join(chunks)
        except Exception as error:  # every failure becomes a TemplateError with a line
            raise self._translate(error) from None

    def _translate(self, error: Exception) -> TemplateError:
        line = self._line
        traceback = error.__traceback__
        while traceback is not None:
            template = traceback.tb_frame.f_globals.get("__jinja_template__")
            if template is not None and template is self._template:
                line = self._template.get_corresponding_lineno(traceback.tb_lineno)
            traceback = traceback.tb_next
        if isinstance(error, TemplateError):
            if error.line is None:
                error.line = line
            return error
        message, kind = _describe(error, self._literals)
        return TemplateError(message, line=line, kind=kind)


def _native_value(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, range | Iterator):
        return list(value)
    if not isinstance(value, str | int | float | Mapping | list | tuple):
        _check_callable(value)
    return value


def _describe(error: Exception, literals: frozenset[Any]) -> tuple[str, str]:
    """A message for ``error`` that quotes only what the template itself wrote."""
    if isinstance(error, _UndefinedValue):
        return _describe_undefined(error, literals), "undefined"
    if isinstance(error, SecurityError):
        return str(error), "security"
    if isinstance(error, TemplateSyntaxError | UndefinedError):
        return str(error.message), "runtime"
    if isinstance(error, RecursionError):
        return "templates nest or recurse too deeply", "limit"
    if isinstance(error, MemoryError):
        return "the template needs too much memory", "limit"
    if isinstance(error, ZeroDivisionError | OverflowError | TypeError):
        return f"{type(error).__name__}: {str(error)[:200]}", "runtime"
    return (
        f"{type(error).__name__} while rendering (details hidden: they may quote data)",
        "runtime",
    )


_MAPPING_METHODS = frozenset({"items", "keys", "values", "get", "copy", "update", "pop"})


def _describe_undefined(error: _UndefinedValue, literals: frozenset[Any]) -> str:
    if error.hint:
        return error.hint
    name = repr(error.name) if error.name in literals else "a key computed at run time"
    owner = error.owner
    if owner is missing or owner is None:
        return f"{name} is undefined"
    if isinstance(owner, Mapping):
        message = f"{name} is undefined: the mapping has no such key"
        if error.name in _MAPPING_METHODS:
            message += (
                " (on mappings . and [] read keys only: use x|items, x|list or get(x, 'a.b'))"
            )
        return message
    if isinstance(owner, list | tuple | str) and isinstance(error.name, int):
        return f"{name} is undefined: index out of range"
    return f"{name} is undefined: a {type(owner).__name__} has no such attribute"


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile_cached(source: str) -> CompiledTemplate:
    return CompiledTemplate(source)


def compile_template(source: str) -> CompiledTemplate:
    """Compile ``source`` once; later calls with the same text return the same object.

    Raises :class:`TemplateError` (kind ``syntax`` or ``limit``) for a bad source.
    """
    return _compile_cached(source)


def render(source: str, context: Mapping[str, Any]) -> Any:
    """Render ``source`` against ``context``; text without ``{{``/``{%`` is returned as is."""
    if not _has_tags(source):
        return source
    return _compile_cached(source).render(context)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """A copy of ``value`` with every string inside dicts and lists rendered (not keys)."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, Mapping):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [render_value(item, context) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def register_helper(name: str, fn: Callable[..., Any], *, replace: bool = False) -> None:
    """Make ``fn`` available as filter ``x | name(...)`` and function ``name(x, ...)``.

    Refuses names that are not identifiers, the context names (``nodes``, ``trigger``,
    ``env``), and existing helpers, filters or globals unless ``replace=True``.
    Undefined arguments raise before ``fn`` is called. ``fn`` runs unsandboxed and
    outside the size limits: it must bound its own work. To show the user a message,
    raise :class:`TemplateError`; other exceptions are reported by type only (their
    text may quote data), except ``TypeError``, ``ZeroDivisionError`` and
    ``OverflowError``.
    """
    if not name.isidentifier():
        raise ValueError(f"helper name {name!r} is not an identifier")
    if name in KNOWN_NAMES:
        raise ValueError(f"{name!r} is a context variable, not a helper name")
    if not replace and (name in _RESERVED or name in _HELPERS):
        raise ValueError(f"a helper or filter named {name!r} exists; pass replace=True")
    _install_helper(name, fn)


# --- validation -----------------------------------------------------------------------


def _node_references(tree: nodes.Template) -> Iterator[tuple[str, int]]:
    """Node ids named as ``nodes.X``, ``nodes['X']`` and ``get(nodes, 'X.…')``."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Call, nodes.Filter)):
        if isinstance(node, nodes.Getattr) and _is_nodes(node.node):
            yield node.attr, node.lineno
        elif isinstance(node, nodes.Getitem) and _is_nodes(node.node):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                yield node.arg.value, node.lineno
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            if node.node.name == "get" and len(node.args) >= 2 and _is_nodes(node.args[0]):
                yield from _path_head(node.args[1], node.lineno)
        elif (
            isinstance(node, nodes.Filter)
            and node.name == "get"
            and _is_nodes(node.node)
            and node.args
        ):
            yield from _path_head(node.args[0], node.lineno)


def _is_nodes(node: nodes.Node | None) -> bool:
    return isinstance(node, nodes.Name) and node.name == "nodes"


def _path_head(arg: nodes.Node, lineno: int) -> Iterator[tuple[str, int]]:
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and arg.value:
        yield arg.value.split(".")[0], lineno


def validate_template(
    source: str, known_nodes: Collection[str] | None = None
) -> list[TemplateProblem]:
    """Problems an editor can show before saving: syntax errors (line and column),
    unknown filters, unknown names and, when ``known_nodes`` is given, references to
    node ids not in it. An empty list means the template compiles."""
    if not _has_tags(source):
        return []
    try:
        tree = _parse(source)
        compile_template(source)
    except TemplateError as error:
        return [TemplateProblem(error.message, error.line, error.column)]
    problems: dict[tuple[str, int], TemplateProblem] = {}
    unknown = find_undeclared_variables(tree) - KNOWN_NAMES - set(_ENV.globals)
    for node in tree.find_all(nodes.Name):
        if node.name in unknown and node.ctx == "load":
            message = (
                f"unknown name {node.name!r}: templates can use nodes, trigger, env and the helpers"
            )
            problems.setdefault((message, node.lineno), TemplateProblem(message, node.lineno))
    if known_nodes is not None:
        for node_id, lineno in _node_references(tree):
            if node_id not in known_nodes:
                message = f"unknown node {node_id!r}: no node with this id in the workflow"
                problems.setdefault((message, lineno), TemplateProblem(message, lineno))
    return sorted(problems.values(), key=lambda problem: (problem.line or 0, problem.message))
