"""Source to Jinja syntax tree, and the facts about a tree that the compiler needs.

:func:`_parse` refuses sources longer than ``MAX_TEMPLATE_CHARS`` and turns Jinja's
syntax errors into :class:`TemplateError` with the line *and* the column of the token
the lexer or parser stopped at (Jinja gives the line only). Finding the column lexes
the source a second time, on the error path only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import newline_re
from jinja2.parser import Parser

from workfuse.templating.environment import _ENV, _IndexedStream
from workfuse.templating.errors import MAX_TEMPLATE_CHARS, TemplateError, _limit


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
