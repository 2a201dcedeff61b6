"""Errors and limits of templates: :class:`TemplateError`, :class:`TemplateProblem` and
the size, time and cache limits that the other modules of the package enforce.

The limits are module constants (units in their comments). The modules that enforce
them import them once, at import time: changing one here later has no effect.
"""

from __future__ import annotations

from dataclasses import dataclass

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
