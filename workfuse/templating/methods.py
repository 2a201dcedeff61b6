"""The attributes and methods templates may use, and the size rule of each method.

On the value types a template meets (``str``, ``bytes``, ``int``, ``bool``, ``float``,
``list``, ``tuple``, ``dict``, ``range``, ``Markup``, dates, the ``loop`` object,
macros, ``groupby``'s groups) only the attributes listed in :data:`ALLOWED_ATTRIBUTES`
are available; on any other object, data attributes only, never a method. Every listed
method costs time linear in its inputs (or is bounded by a rule here), so the render's
clock, read before each call, is never far behind.

:func:`_method_call` is what the environment's ``call`` uses for a builtin method: the
method's rule checks the arguments *before* it runs (sizes known in advance: padding,
``replace``, ``join``, ``hex``, ``to_bytes``...; inputs of operations that expand
their input by a bounded factor, such as case mapping or ``encode``, must be at most
``MAX_OUTPUT_CHARS`` long; ``split`` stops after ``MAX_SEQUENCE_ITEMS`` parts; the
character set of ``strip`` is capped), then what it built is checked and charged by
:func:`~workfuse.templating.guards._built`.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from datetime import date, time
from typing import Any

from jinja2.filters import _GroupTuple
from jinja2.runtime import LoopContext, Macro
from markupsafe import Markup

from workfuse.templating.budget import _charge, _timed
from workfuse.templating.errors import (
    MAX_OUTPUT_CHARS,
    MAX_SEQUENCE_ITEMS,
    MAX_STRIP_CHARS,
    TemplateError,
    _limit,
)
from workfuse.templating.guards import _built
from workfuse.templating.text import _check_length, _check_text, _text_size

_TEXT_QUERIES = frozenset(
    {
        "count",
        "endswith",
        "find",
        "index",
        "rfind",
        "rindex",
        "startswith",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "isidentifier",
        "islower",
        "isnumeric",
        "isprintable",
        "isspace",
        "istitle",
        "isupper",
    }
)
_TEXT_BUILDERS = frozenset(
    {
        "partition",
        "rpartition",
        "removeprefix",
        "removesuffix",
        "strip",
        "lstrip",
        "rstrip",
        "capitalize",
        "casefold",
        "lower",
        "swapcase",
        "title",
        "upper",
        "center",
        "ljust",
        "rjust",
        "zfill",
        "expandtabs",
        "replace",
        "join",
        "translate",
        "maketrans",
        "split",
        "rsplit",
        "splitlines",
    }
)
_STR = _TEXT_QUERIES | _TEXT_BUILDERS | {"encode", "format", "format_map"}
_BYTES = (_TEXT_QUERIES | _TEXT_BUILDERS | {"decode", "hex"}) - {
    "casefold",
    "isdecimal",
    "isidentifier",
    "isnumeric",
    "isprintable",
}
_INT = frozenset(
    {
        "bit_length",
        "bit_count",
        "conjugate",
        "as_integer_ratio",
        "to_bytes",
        "real",
        "imag",
        "numerator",
        "denominator",
    }
)

#: What templates may read (and call) on these types; subclasses inherit the entry of
#: their nearest listed base. Not listed (for example): ``str.format`` escapes are
#: handled by the sandbox, ``bytes.fromhex``, ``float.fromhex``, ``int.from_bytes``,
#: ``dict.copy``/``fromkeys``, ``list``/``dict`` mutators, ``datetime.strftime``.
ALLOWED_ATTRIBUTES: Mapping[type, frozenset[str]] = {
    Markup: frozenset(_STR | {"unescape", "striptags", "escape"}),
    str: frozenset(_STR),
    bytes: frozenset(_BYTES),
    int: _INT,
    float: frozenset({"as_integer_ratio", "conjugate", "hex", "is_integer", "real", "imag"}),
    _GroupTuple: frozenset({"grouper", "list", "count", "index"}),
    list: frozenset({"count", "index", "copy"}),
    tuple: frozenset({"count", "index"}),
    dict: frozenset({"get", "items", "keys", "values"}),  # reachable through |attr only
    range: frozenset({"count", "index", "start", "stop", "step"}),
    date: frozenset(
        {
            "year",
            "month",
            "day",
            "hour",
            "minute",
            "second",
            "microsecond",
            "isoformat",
            "weekday",
            "isoweekday",
        }
    ),
    time: frozenset({"hour", "minute", "second", "microsecond", "isoformat"}),
    LoopContext: frozenset(
        {
            "index",
            "index0",
            "revindex",
            "revindex0",
            "first",
            "last",
            "length",
            "depth",
            "depth0",
            "previtem",
            "nextitem",
            "cycle",
            "changed",
        }
    ),
    Macro: frozenset({"name", "arguments", "catch_kwargs", "catch_varargs", "caller"}),
}
_BY_TYPE: dict[type, frozenset[str] | None] = {}


def _allowed_for(cls: type) -> frozenset[str] | None:
    try:
        return _BY_TYPE[cls]
    except KeyError:
        found = next((ALLOWED_ATTRIBUTES[c] for c in cls.__mro__ if c in ALLOWED_ATTRIBUTES), None)
        _BY_TYPE[cls] = found
        return found


def _attribute_allowed(obj: Any, attr: str, value: Any) -> bool:
    """May a template read ``obj.attr`` (whose value is ``value``)?"""
    allowed = _allowed_for(type(obj))
    if allowed is not None:
        return attr in allowed
    return not callable(value)


# --- rules: check a call's arguments before it runs ------------------------------------

_Args = tuple[tuple[Any, ...], dict[str, Any]]
_Rule = Callable[[Any, str, tuple[Any, ...], dict[str, Any]], _Args]


def _first(args: tuple[Any, ...], kwargs: dict[str, Any], name: str, default: Any = None) -> Any:
    return args[0] if args else kwargs.get(name, default)


def _input(owner: Any, name: str) -> None:
    """Operations whose result is a few times their input take bounded inputs."""
    _check_length(len(owner), f"the text given to {name}()")


def _plain(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    return args, kwargs


def _case(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    _input(owner, name)  # up to 3 characters each ('ß'.upper() == 'SS')
    return args, kwargs


def _strip(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    chars = _first(args, kwargs, "chars")
    if isinstance(chars, str | bytes) and len(chars) > MAX_STRIP_CHARS:
        raise _limit(f"{name}() accepts at most {MAX_STRIP_CHARS:,} characters to strip")
    return args, kwargs


def _pad(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    _check_length(_first(args, kwargs, "width"), f"the result of {name}()")
    return args, kwargs


def _expandtabs(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    size = _first(args, kwargs, "tabsize", 8)
    tabs = owner.count("\t" if isinstance(owner, str) else b"\t")
    if isinstance(size, int):
        _check_length(len(owner) + tabs * max(size, 0), "the result of expandtabs()")
    return args, kwargs


def _check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if isinstance(old, str | bytes) and isinstance(new, str | bytes):
        hits = text.count(old) if old else len(text) + 1
        if isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        _check_length(len(text) + hits * max(len(new) - len(old), 0), "the replaced text")


def _replace(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    if len(args) >= 2:
        _check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
    return args, kwargs


def _collect_text(items: Iterable[Any], separator: int, what: str) -> list[Any]:
    """The items of a join, refused as soon as the joined text would be too long."""
    collected, total = [], 0
    for item in _timed(items):
        total += _text_size(item) + separator
        if total > MAX_OUTPUT_CHARS + separator:
            raise _limit(f"{what} would be longer than {MAX_OUTPUT_CHARS:,} characters")
        collected.append(item)
    return collected


def _join(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    if args:
        args = (_collect_text(args[0], len(owner), "the joined text"), *args[1:])
    return args, kwargs


def _translate(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    table = _first(args, kwargs, "table")
    _check_text(table, "the translation table")
    values = table.values() if isinstance(table, Mapping) else ()
    longest = max((_text_size(v) for v in values), default=1)
    _check_length(len(owner) * longest, "the result of translate()")
    return args, kwargs


def _split(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    sep = args[0] if args else kwargs.get("sep")
    maxsplit = args[1] if len(args) > 1 else kwargs.get("maxsplit", -1)
    if not isinstance(maxsplit, int) or isinstance(maxsplit, bool):
        raise TemplateError(f"{name}(): maxsplit must be an integer")
    if maxsplit < 0 or maxsplit > MAX_SEQUENCE_ITEMS:
        maxsplit = MAX_SEQUENCE_ITEMS  # one more part than allowed means too many
    _charge(len(owner))  # the parts together are as long as the text
    return (), {"sep": sep, "maxsplit": maxsplit}


_LINE_BREAKS = ("\n", "\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def _splitlines(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    if len(owner) > MAX_SEQUENCE_ITEMS:
        breaks = (b"\n", b"\r") if isinstance(owner, bytes) else _LINE_BREAKS
        lines = sum(owner.count(mark) for mark in breaks) + 1
        _check_length(lines, "splitlines()", MAX_SEQUENCE_ITEMS)
    _charge(len(owner))
    return args, kwargs


#: Codecs ``encode``/``decode`` accept (aliases to the name used), with the most bytes
#: one character may take; and error handlers, with the most characters one may write.
_CODECS = {
    **dict.fromkeys(("utf_8", "utf8", "u8", "utf"), "utf-8"),
    **dict.fromkeys(("utf_16", "utf16"), "utf-16"),
    **dict.fromkeys(("utf_16_le", "utf_16le"), "utf-16-le"),
    **dict.fromkeys(("utf_16_be", "utf_16be"), "utf-16-be"),
    **dict.fromkeys(("utf_32", "utf32"), "utf-32"),
    **dict.fromkeys(("utf_32_le", "utf_32le"), "utf-32-le"),
    **dict.fromkeys(("utf_32_be", "utf_32be"), "utf-32-be"),
    **dict.fromkeys(("ascii", "us_ascii"), "ascii"),
    **dict.fromkeys(("latin_1", "latin1", "iso_8859_1", "iso8859_1", "l1"), "latin-1"),
    **dict.fromkeys(("cp1252", "windows_1252"), "cp1252"),
}
_ERROR_HANDLERS = {
    "strict": 1,
    "ignore": 1,
    "replace": 1,
    "surrogateescape": 1,
    "surrogatepass": 1,
    "backslashreplace": 10,
    "xmlcharrefreplace": 10,
}


def _codec_args(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> dict[str, Any]:
    encoding = _first(args, kwargs, "encoding", "utf-8")
    errors = args[1] if len(args) > 1 else kwargs.get("errors", "strict")
    codec = (
        _CODECS.get(encoding.lower().replace("-", "_").replace(" ", "_"))
        if isinstance(encoding, str)
        else None
    )
    if codec is None:
        raise TemplateError(
            f"{name}(): use utf-8, utf-16, utf-32, ascii, latin-1 or cp1252 as the encoding"
        )
    if errors not in _ERROR_HANDLERS:
        raise TemplateError(f"{name}(): errors must be one of {', '.join(_ERROR_HANDLERS)}")
    return {"encoding": codec, "errors": errors}


def _codec(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    checked = _codec_args(args, kwargs, name)
    _input(owner, name)  # at most 10 bytes (characters) each, checked once built
    return (), checked


def _maketrans(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    size = sum(len(arg) for arg in args if isinstance(arg, str | bytes | Mapping))
    _check_length(size, "the translation table", MAX_SEQUENCE_ITEMS)
    return args, kwargs


def _escape(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    _check_length(_text_size(_first(args, kwargs, "s")), "the text given to escape()")
    return args, kwargs


def _hex(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    _check_length(len(owner) * (3 if args or kwargs else 2), "the result of hex()")
    return args, kwargs


def _to_bytes(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Args:
    _check_length(_first(args, kwargs, "length", 1), "the result of to_bytes()")
    return args, kwargs


_TEXT_RULES: dict[str, _Rule] = {
    **dict.fromkeys(("partition", "rpartition", "removeprefix", "removesuffix"), _plain),
    **dict.fromkeys(("strip", "lstrip", "rstrip"), _strip),
    **dict.fromkeys(("capitalize", "casefold", "lower", "swapcase", "title", "upper"), _case),
    **dict.fromkeys(("center", "ljust", "rjust", "zfill"), _pad),
    **dict.fromkeys(("split", "rsplit"), _split),
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "translate": _translate,
    "maketrans": _maketrans,
    "splitlines": _splitlines,
    "encode": _codec,
    "decode": _codec,
    "hex": _hex,
    "unescape": _case,
    "striptags": _plain,
    "escape": _escape,
}
_RULES: dict[type, dict[str, _Rule]] = {
    str: _TEXT_RULES,
    bytes: _TEXT_RULES,
    int: {"to_bytes": _to_bytes},
    list: {"copy": _plain},
    date: {"isoformat": _plain},
    time: {"isoformat": _plain},
}


def _rules_for(owner: Any) -> dict[str, _Rule] | None:
    cls = owner if isinstance(owner, type) else type(owner)
    for base in cls.__mro__:
        rules = _RULES.get(base)
        if rules is not None:
            return rules
    return None


_STATIC_METHODS = {"str.maketrans": str, "bytes.maketrans": bytes}


def _is_value_method(obj: Any) -> bool:
    """Is ``obj`` a method of one of the value types listed here (bound to a value, or
    a static method of ``str``/``bytes`` read from a value)?"""
    if not isinstance(obj, types.BuiltinMethodType | types.MethodType):
        return False
    owner = obj.__self__
    if owner is None:
        return getattr(obj, "__qualname__", None) in _STATIC_METHODS
    cls = owner if isinstance(owner, type) else type(owner)
    return _allowed_for(cls) is not None


def _method_call(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call a bound method of a value type through its rule; the result is checked."""
    owner = method.__self__
    name = method.__name__
    if owner is None:  # a static method read from an instance: ''.maketrans
        owner = _STATIC_METHODS.get(method.__qualname__)
        if owner is None:
            return method(*args, **kwargs)
    rules = _rules_for(owner)
    rule = rules.get(name) if rules is not None else None
    if rule is None:
        return method(*args, **kwargs)
    args, kwargs = rule(owner, name, args, kwargs)
    result = method(*args, **kwargs)
    what = f"the result of {name}()"
    if name in ("split", "rsplit", "splitlines"):
        if len(result) > MAX_SEQUENCE_ITEMS:
            raise _limit(f"{name}() would give more than {MAX_SEQUENCE_ITEMS:,} parts")
        _charge(50 * len(result))  # the parts' own overhead
    if result is owner:
        return result
    return _built(result, what)
