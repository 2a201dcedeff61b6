"""Guarded building blocks: operators, ``range``, ``dict``, slices, captured blocks, and
the check every built value goes through (:func:`_built`), against the render's
limits of :mod:`.budget` (its clock and memory budget).

The environment routes ``*``, ``**``, ``+`` and ``%``, slices, ``range()``, ``~`` and
captured blocks (macros, ``{% set %}`` and ``{% filter %}`` blocks) through these
functions. Where the size of a result is known in advance it is checked *before* it is
allocated (``MAX_OUTPUT_CHARS``, ``MAX_SEQUENCE_ITEMS``, ``MAX_INT_BITS``,
``MAX_RANGE_ITEMS``); every value built is then checked and charged to the budget by
:func:`_built`. The clock is read only where a guard calls :func:`_check_time` (every
call, filter, operator, captured block, output chunk and loop iteration):
what runs between two reads is one allowed operation, whose cost is linear (or
``n log n``) in inputs that are themselves bounded.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from workfuse.templating.budget import _LIMITS, _charge, _check_time, _timed
from workfuse.templating.errors import (
    MAX_INT_BITS,
    MAX_OUTPUT_CHARS,
    MAX_RANGE_ITEMS,
    MAX_RENDER_BYTES,
    MAX_SEQUENCE_ITEMS,
    _limit,
)
from workfuse.templating.text import _check_length, _text_size

_PERCENT_SPEC = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]?")
_SPEC_NUMBER = re.compile(r"\d+")


def _built(value: Any, what: str) -> Any:
    """``value`` was just built by an operation: check its size, charge it, return it."""
    if isinstance(value, str | bytes):
        if len(value) > MAX_OUTPUT_CHARS:
            raise _limit(f"{what} would be longer than {MAX_OUTPUT_CHARS:,} characters")
    elif isinstance(value, list | tuple | dict | set | frozenset):
        if len(value) > MAX_SEQUENCE_ITEMS:
            raise _limit(f"{what} would have more than {MAX_SEQUENCE_ITEMS:,} items")
    elif isinstance(value, int) and not isinstance(value, bool):
        if value.bit_length() > MAX_INT_BITS:
            raise _limit(f"{what} would have more than {MAX_INT_BITS:,} bits")
        return value
    else:
        return value
    _charge(sys.getsizeof(value))
    return value


def _deep_size(value: Any) -> int:
    """Bytes of ``value`` and everything inside it, counted until past the budget left."""
    limits = _LIMITS.get()
    limit = limits.budget if limits is not None else MAX_RENDER_BYTES
    total, stack, seen = 0, [value], 0
    while stack and total <= limit:
        item = stack.pop()
        total += sys.getsizeof(item)
        seen += 1
        if not seen % 4096:
            _check_time()
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return total


def _check_percent(fmt: str | bytes, args: Any) -> None:
    """Refuse ``fmt % args`` if it could be longer than the output limit: the arguments
    count once, and each ``%(name)s`` counts its value again (it may repeat)."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    total = len(text) + _text_size(args)
    for match in _PERCENT_SPEC.finditer(text):
        key, width, precision = match.groups()
        if "*" in (width, precision):
            raise _limit("'*' widths are not allowed in % formatting")
        total += sum(int(n) for n in (width, precision) if n)
        if key is not None and isinstance(args, Mapping):
            total += _text_size(args.get(key))
        if total > MAX_OUTPUT_CHARS:
            break
    _check_length(total, "the formatted text")


def _check_format_spec(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse ``fmt.format(*args, **kwargs)`` if it could be longer than the output
    limit: every replacement field counts the argument it names and its width."""
    total, auto = len(fmt), 0
    for _, field, spec, _ in string.Formatter().parse(fmt):
        if spec and "{" in spec:
            raise _limit("nested fields are not allowed in format specs")
        total += sum(int(n) for n in _SPEC_NUMBER.findall(spec or ""))
        if field is None:
            continue
        head = re.split(r"[.\[]", field, maxsplit=1)[0]
        if head == "":
            head, auto = str(auto), auto + 1
        if head.isdigit():
            index = int(head)
            total += _text_size(args[index]) if index < len(args) else 0
        else:
            total += _text_size(kwargs.get(head))
        if total > MAX_OUTPUT_CHARS:
            break
    _check_length(total, "the formatted text")


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


_OPERATOR_RESULTS = {
    "*": "the product",
    "+": "the sum",
    "**": "the power",
    "%": "the formatted text",
    "//": "the quotient",
}


def _binop(table: Mapping[str, Any], operator: str, left: Any, right: Any) -> Any:
    _check_time()
    return _built(table[operator](left, right), _OPERATOR_RESULTS.get(operator, "the result"))


def _slice_value(value: Any, start: Any, stop: Any, step: Any) -> Any:
    """``value[start:stop:step]``, its size checked before the copy is made."""
    part = slice(start, stop, step)
    if isinstance(value, str | bytes | list | tuple | range):
        size = len(range(*part.indices(len(value))))
        if isinstance(value, str | bytes):
            _check_length(size, "the slice")
        elif not isinstance(value, range):
            _check_length(size, "the slice", MAX_SEQUENCE_ITEMS)
    return _built(value[part], "the slice")


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_RANGE_ITEMS + 1
    if size > MAX_RANGE_ITEMS:
        raise _limit(f"range() is limited to {MAX_RANGE_ITEMS:,} items")
    return numbers


def _bounded_dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    """The ``dict()`` global."""
    _check_time()
    if args and not isinstance(args[0], Mapping):
        args = (_timed(args[0], MAX_SEQUENCE_ITEMS, "dict()"), *args[1:])
    return _built(dict(*args, **kwargs), "the dict")  # type: ignore[no-any-return]


def _concat_parts(parts: Iterable[str]) -> str:
    """Join a captured block (macro, ``{% set %}`` block, ``{% filter %}``)."""
    _check_time()
    chunks = list(parts)
    _check_length(sum(map(len, chunks)), "the captured text")
    return _built("".join(chunks), "the captured text")  # type: ignore[no-any-return]
