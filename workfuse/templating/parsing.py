"""Source to Jinja syntax tree, and the facts about a tree that the compiler needs.

:func:`_parse` refuses sources longer than ``MAX_TEMPLATE_CHARS`` or
``MAX_TEMPLATE_TOKENS`` (compiling costs about 15 µs per token), parses with
:class:`_Parser`, which refuses more than ``MAX_NESTING`` levels of brackets, blocks,
``not``/``-`` and inline ``if … else`` (Jinja's parser recurses about 17 Python frames
per level), then refuses a tree deeper than ``MAX_EXPRESSION_DEPTH`` (long chains such
as ``a + b + …`` parse in a loop but compile recursively). So a hostile source is a
:class:`TemplateError`, never a ``RecursionError``; one that gets past these checks
and still hits Python's recursion limit is refused the same way.

Jinja's syntax errors become :class:`TemplateError` with the line *and* the column of
the token the lexer or parser stopped at (Jinja gives the line only). Finding the
column lexes the source a second time, on the error path only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.lexer import newline_re
from jinja2.parser import Parser

from workfuse.templating.environment import _ENV, _IndexedStream
from workfuse.templating.errors import (
    MAX_EXPRESSION_DEPTH,
    MAX_NESTING,
    MAX_TEMPLATE_CHARS,
    TemplateError,
    _limit,
)

_NESTING_MESSAGE = (
    f"the template nests too deeply: at most {MAX_NESTING} levels of brackets, blocks,"
    " 'not', '-' and inline 'if … else'"
)


class _Parser(Parser):
    """Jinja's parser, refusing more than ``MAX_NESTING`` levels before it recurses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._depth = -2  # the template's body and the outermost expression are free

    def _nested(self, parse: Any, *args: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                self.fail(_NESTING_MESSAGE, self.stream.current.lineno)
            return parse(*args)
        finally:
            self._depth -= 1

    def subparse(self, end_tokens: tuple[str, ...] | None = None) -> list[nodes.Node]:
        return self._nested(super().subparse, end_tokens)  # type: ignore[no-any-return]

    def parse_expression(self, with_condexpr: bool = True) -> nodes.Expr:
        if with_condexpr:  # counted by parse_condexpr
            return super().parse_expression(with_condexpr)
        return self._nested(super().parse_expression, with_condexpr)  # type: ignore[no-any-return]

    def parse_condexpr(self) -> nodes.Expr:
        return self._nested(super().parse_condexpr)  # type: ignore[no-any-return]

    def parse_not(self) -> nodes.Expr:
        if self.stream.current.test("name:not"):
            return self._nested(super().parse_not)  # type: ignore[no-any-return]
        return super().parse_not()

    def parse_unary(self, with_filter: bool = True) -> nodes.Expr:
        if self.stream.current.type in ("sub", "add"):
            return self._nested(super().parse_unary, with_filter)  # type: ignore[no-any-return]
        return super().parse_unary(with_filter)


def _too_deep(line: int | None) -> TemplateError:
    return TemplateError(_NESTING_MESSAGE, line=line, kind="syntax")


def _check_depth(tree: nodes.Template) -> None:
    """Refuse a tree deeper than ``MAX_EXPRESSION_DEPTH`` (walked without recursion)."""
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            raise TemplateError(
                f"the expression nests too deeply: at most {MAX_EXPRESSION_DEPTH} operations"
                " inside one another (split it with {% set %})",
                line=getattr(node, "lineno", None),
                kind="syntax",
            )
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


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
        parser = _Parser(_ENV, source)
        tree = parser.parse()
    except TemplateSyntaxError as error:
        raise _syntax_error(source, error, parser) from None
    except RecursionError:  # a construct the nesting count missed: still a clear error
        raise _too_deep(parser.stream.current.lineno if parser else None) from None
    _check_depth(tree)
    return tree


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
