"""How values appear in text, and how large they would be: the size checks every guard uses.

:func:`_to_text` is the environment's ``finalize``: ``None`` renders as ``""``,
booleans as ``true``/``false``, lists, dicts and iterators as compact JSON.
:func:`_text_size` estimates the characters a value would take as text without
building it and stops counting once past its limit, so a check costs at most about
``limit`` steps whatever the value (and reads the render's clock as it goes).
Nothing here quotes a value in an error message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

from jinja2.runtime import Undefined

from workfuse.templating.budget import _check_time
from workfuse.templating.errors import (
    MAX_OUTPUT_CHARS,
    MAX_SEQUENCE_ITEMS,
    TemplateError,
    _limit,
)


def _text_size(value: Any, limit: int = MAX_OUTPUT_CHARS) -> int:
    """Characters ``value`` takes as text, counted until ``limit`` is passed (the
    render's clock is read every few thousand items)."""
    if isinstance(value, str | bytes):
        return len(value) + 2
    total, stack, steps = 0, [value], 0
    while stack and total <= limit:
        steps += 1
        if not steps % 4096:
            _check_time()
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


def _check_length(
    length: Any, what: str, limit: int = MAX_OUTPUT_CHARS, unit: str | None = None
) -> None:
    """Refuse a text of more than ``limit`` characters (or a list of more items)."""
    if isinstance(length, int) and length > limit:
        unit = unit or ("items" if limit == MAX_SEQUENCE_ITEMS else "characters")
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
