"""Guarded building blocks: operators, builtin string methods, ``range``, captured
blocks, and the render clock.

The environment routes ``*``, ``**``, ``+`` and ``%``, calls of builtin
``str``/``bytes``/``int`` methods, ``range()`` and captured blocks (macros,
``{% set %}`` and ``{% filter %}`` blocks) through these functions, which check the
size of what would be built *before* it is allocated (``MAX_OUTPUT_CHARS``,
``MAX_SEQUENCE_ITEMS``, ``MAX_INT_BITS``, ``MAX_RANGE_ITEMS``). :class:`_RenderContext`
carries each render's deadline (``MAX_RENDER_SECONDS``) and :func:`_check_time`
enforces it; the clock is read only where a guard calls it, so one builtin operation
on large data is not interrupted.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

from jinja2.runtime import Context

from workfuse.templating.errors import (
    MAX_INT_BITS,
    MAX_RANGE_ITEMS,
    MAX_RENDER_SECONDS,
    MAX_SEQUENCE_ITEMS,
    _limit,
)
from workfuse.templating.text import _check_length, _check_text, _text_size

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


class _RenderContext(Context):
    """A Jinja context that knows when its render must stop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS


def _check_time(context: Context) -> None:
    if time.monotonic() > cast(_RenderContext, context).deadline:
        raise _limit(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")
