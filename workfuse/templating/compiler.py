"""Compiling and rendering: :class:`CompiledTemplate`, :func:`compile_template`,
:func:`render` and :func:`render_value`.

Compiling parses the source, turns a source that is one ``{{ expression }}`` into an
assignment so that its native value can be read back, routes loops, slices and ``~``
through the environment's guards (:class:`_Guard`, which also refuses ``include``,
``import``, ``extends``, ``self`` and the filters of :data:`.filters.REFUSED`), and
keeps the last ``CACHE_SIZE`` compiled templates. A source too large or too deeply
nested to compile is a :class:`TemplateError` (kind ``syntax`` or ``limit``), never a
``RecursionError``.

Rendering runs within the render's limits (:func:`~.guards.render_limits`: one clock
and one memory budget, shared by every template rendered inside one scope), bounds the
output (``MAX_OUTPUT_CHARS`` of text, ``MAX_VALUE_CHARS`` for a computed native value),
checks the clock at every output chunk, and turns every failure into a
:class:`TemplateError` with the template's line, quoting only what the template
itself wrote.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any, cast

from jinja2 import Template, nodes
from jinja2.exceptions import (
    SecurityError,
    TemplateRuntimeError,
    TemplateSyntaxError,
    UndefinedError,
)
from jinja2.runtime import Undefined
from jinja2.utils import missing
from jinja2.visitor import NodeTransformer

from workfuse.templating.budget import _LIMITS, _check_time, _Limits, _timed
from workfuse.templating.environment import _ENV, _UndefinedValue
from workfuse.templating.errors import (
    CACHE_SIZE,
    MAX_OUTPUT_CHARS,
    MAX_SEQUENCE_ITEMS,
    MAX_VALUE_CHARS,
    TemplateError,
    _limit,
)
from workfuse.templating.filters import REFUSED
from workfuse.templating.parsing import (
    _has_tags,
    _is_lookup,
    _literals,
    _parse,
    _single_expression,
    _too_deep,
)
from workfuse.templating.text import _check_callable, _text_size

_RESULT = "wf_result"  #: variable that holds a native expression's value


class _Guard(NodeTransformer):
    """Routes loops, slices and ``~`` through the environment's guards; refuses loader
    tags, ``self`` and the refused filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        node = cast(nodes.For, self.generic_visit(node))
        iterable = cast(nodes.Expr, node.iter)
        node.iter = _env_call("guard_loop", [nodes.ContextReference(), iterable], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        node = cast(nodes.Concat, self.generic_visit(node))
        return _env_call("concat_values", list(node.nodes), node.lineno)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        node = cast(nodes.Getitem, self.generic_visit(node))
        if not isinstance(node.arg, nodes.Slice):
            return node
        bounds = [node.arg.start, node.arg.stop, node.arg.step]
        parts = [part if part is not None else nodes.Const(None) for part in bounds]
        return _env_call("slice_value", [node.node, *parts], node.lineno)

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        if node.name in REFUSED:
            raise TemplateError(
                f"the {node.name} filter is not available in templates: {REFUSED[node.name]}",
                line=node.lineno,
                kind="limit",
            )
        return self.generic_visit(node)

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
        try:
            tree = cast(nodes.Template, _Guard().visit(tree))
            code = _ENV.compile(tree)
        except TemplateSyntaxError as error:
            raise TemplateError(
                error.message or "syntax error", line=error.lineno, kind="syntax"
            ) from None
        except (RecursionError, SyntaxError, MemoryError):  # Python's own nesting limits
            raise _too_deep(None) from None
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
        token = _LIMITS.set(_Limits()) if _LIMITS.get() is None else None
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
                _check_time()
                chunks.append(chunk)
            return "".join(chunks)
        except Exception as error:  # every failure becomes a TemplateError with a line
            raise self._translate(error) from None
        finally:
            if token is not None:
                _LIMITS.reset(token)

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
        return list(_timed(value, MAX_SEQUENCE_ITEMS, "the value"))
    if not isinstance(value, str | int | float | Mapping | list | tuple):
        _check_callable(value)
    return value


def _describe(error: Exception, literals: frozenset[Any]) -> tuple[str, str]:
    """A message for ``error`` that quotes only what the template itself wrote."""
    if isinstance(error, _UndefinedValue):
        return _describe_undefined(error, literals), "undefined"
    if isinstance(error, SecurityError):
        return str(error), "security"
    if isinstance(error, TemplateSyntaxError | UndefinedError | TemplateRuntimeError):
        return str(error.message), "runtime"  # Jinja's own words: names, not data
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
    """A copy of ``value`` with every string inside dicts and lists rendered (not keys);
    all of them within one render's limits (one clock, one memory budget)."""
    if isinstance(value, str):
        return render(value, context)
    token = _LIMITS.set(_Limits()) if _LIMITS.get() is None else None
    try:
        return _render_value(value, context)
    finally:
        if token is not None:
            _LIMITS.reset(token)


def _render_value(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, Mapping):
        return {key: _render_value(item, context) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [_render_value(item, context) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value
