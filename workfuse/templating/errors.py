"""Errors and limits of templates: :class:`TemplateError`, :class:`TemplateProblem` and
the size, time and cache limits that the other modules of the package enforce.

The limits are module constants (units in their comments). The modules that enforce
them import them once, at import time: changing one here later has no effect.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_TEMPLATE_CHARS = 100_000  #: characters in one template source
MAX_TEMPLATE_TOKENS = 10_000  #: tokens (names, numbers, operators...) in one template source
MAX_NESTING = 20  #: levels of brackets, blocks, ``not``/``-`` and inline ``if … else``
MAX_EXPRESSION_DEPTH = 100  #: operations nested inside one another (``a + b + …``, filters)
MAX_RENDER_SECONDS = 1.0  #: s of wall time for one render (one node's templates together)
MAX_OUTPUT_CHARS = 1_000_000  #: characters (bytes) of any text (bytes) a template builds
MAX_VALUE_CHARS = 10_000_000  #: characters (as JSON) of a list or dict a template builds
MAX_RANGE_ITEMS = 10_000  #: items in one range()
MAX_SEQUENCE_ITEMS = 100_000  #: items in a list or dict a template builds or a filter collects
MAX_INT_BITS = 10_000  #: bits in an integer a template builds (about 3,000 digits)
MAX_RENDER_BYTES = 32_000_000  #: bytes of all strings, bytes and lists one render builds
MAX_WORDWRAP_CHARS = 100_000  #: characters the wordwrap filter accepts (it is quadratic)
MAX_WORDWRAP_LINE_CHARS = 5_000  #: characters of one paragraph wordwrap accepts
MAX_STRIP_CHARS = 1_000  #: characters in the set given to strip()/trim (cost is text x set)
MAX_ROUND_DIGITS = 100  #: precision the round filter accepts (either sign)
MAX_FORMAT_CHARS = 1_000  #: characters of a formatDate format
MAX_PATH_PARTS = 1_000  #: keys and indexes in one get() path
MAX_ATTRIBUTE_PARTS = 16  #: dotted parts of a filter's attribute (one lookup per item each)
CACHE_SIZE = 4_096  #: compiled templates kept (least recently used dropped first)
_LOOP_CHECK_EVERY = 16  #: items between two clock reads in sort keys and filter outputs
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
