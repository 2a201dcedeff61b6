"""The built-in helpers: ``formatDate``, ``jsonParse``, ``jsonStringify``, ``uppercase``,
``lowercase`` and ``get``.

Each is a plain function of plain values. :data:`BUILTIN_HELPERS` names them for the
environment, which installs each one, wrapped by :func:`_strict` (undefined arguments
raise, the render's clock is read first), as both a filter and a global (as
:func:`~workfuse.templating.environment.register_helper` does for added helpers).
What they build is bounded like any built value: JSON text is size-checked before it
is built, ``uppercase``/``lowercase`` and ``jsonParse`` take at most
``MAX_OUTPUT_CHARS`` of input (the parsed value is charged to the render's budget),
and ``formatDate`` accepts formats of at most ``MAX_FORMAT_CHARS`` and keeps up to 256
parsed formats.
"""

from __future__ import annotations

import functools
import json
import re
import types
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from jinja2.runtime import Undefined

from workfuse.templating.budget import _charge, _check_time
from workfuse.templating.errors import (
    _JSON_MAX_INDENT,
    MAX_FORMAT_CHARS,
    MAX_PATH_PARTS,
    TemplateError,
)
from workfuse.templating.guards import _built, _deep_size
from workfuse.templating.text import _check_length, _dumps, _text

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
    fmt = str(fmt)
    _check_length(len(fmt), "the format of formatDate", MAX_FORMAT_CHARS)
    moment = _as_datetime(value)
    text = "".join(part if isinstance(part, str) else part(moment) for part in _date_format(fmt))
    return _built(text, "the result of formatDate")  # type: ignore[no-any-return]


def json_parse(value: Any) -> Any:
    """``jsonParse``: a JSON string to data; other values are returned unchanged."""
    if not isinstance(value, str | bytes):
        return value
    _check_length(len(value), "the text given to jsonParse")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as error:
        raise TemplateError(
            f"jsonParse: invalid JSON ({error.msg} at line {error.lineno} column {error.colno})"
        ) from None
    _charge(_deep_size(parsed))
    return parsed


def json_stringify(value: Any, indent: int | None = None) -> str:
    """``jsonStringify``: compact JSON, or indented by ``indent`` spaces (at most 16)."""
    if indent is not None and not 0 <= indent <= _JSON_MAX_INDENT:
        raise TemplateError(f"jsonStringify: indent must be between 0 and {_JSON_MAX_INDENT}")
    return _built(_dumps(value, indent), "the JSON text")  # type: ignore[no-any-return]


def _case(value: Any, name: str, change: Any) -> str:
    text = _text(value)
    _check_length(len(text), f"the text given to {name}")  # 'ß'.upper() == 'SS'
    return _built(change(text), f"the result of {name}")  # type: ignore[no-any-return]


def uppercase(value: Any) -> str:
    """``uppercase``."""
    return _case(value, "uppercase", str.upper)


def lowercase(value: Any) -> str:
    """``lowercase``."""
    return _case(value, "lowercase", str.lower)


def get_path(obj: Any, path: Any, default: Any = None) -> Any:
    """``get(obj, "a.b.0.c")``: keys of mappings and indexes of lists; missing → default."""
    segments = path if isinstance(path, list | tuple) else str(path).split(".", MAX_PATH_PARTS)
    if len(segments) > MAX_PATH_PARTS:
        raise TemplateError(f"get: the path has more than {MAX_PATH_PARTS:,} parts")
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
    """Undefined arguments raise instead of reaching the helper; the clock is read first."""

    @functools.wraps(fn)
    def helper(*args: Any, **kwargs: Any) -> Any:
        _check_time()
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
