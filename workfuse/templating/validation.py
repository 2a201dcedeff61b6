"""Checking a template before it is saved: :func:`validate_template`.

It reports what an editor can show without rendering anything: syntax errors with line
and column (including sources too long or too deeply nested to compile, and refused
filters), unknown filters, unknown names and, given the workflow's node ids,
references to missing nodes written as ``nodes.X``, ``nodes['X']`` or
``get(nodes, 'X.…')``. A node id computed at run time (``nodes[name]``) is not checked.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator

from jinja2 import nodes
from jinja2.meta import find_undeclared_variables

from workfuse.templating.compiler import compile_template
from workfuse.templating.environment import _ENV, KNOWN_NAMES
from workfuse.templating.errors import TemplateError, TemplateProblem
from workfuse.templating.parsing import _has_tags, _parse, _too_deep


def _node_references(tree: nodes.Template) -> Iterator[tuple[str, int]]:
    """Node ids named as ``nodes.X``, ``nodes['X']`` and ``get(nodes, 'X.…')``."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Call, nodes.Filter)):
        if isinstance(node, nodes.Getattr) and _is_nodes(node.node):
            yield node.attr, node.lineno
        elif isinstance(node, nodes.Getitem) and _is_nodes(node.node):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                yield node.arg.value, node.lineno
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            if node.node.name == "get" and len(node.args) >= 2 and _is_nodes(node.args[0]):
                yield from _path_head(node.args[1], node.lineno)
        elif (
            isinstance(node, nodes.Filter)
            and node.name == "get"
            and _is_nodes(node.node)
            and node.args
        ):
            yield from _path_head(node.args[0], node.lineno)


def _is_nodes(node: nodes.Node | None) -> bool:
    return isinstance(node, nodes.Name) and node.name == "nodes"


def _path_head(arg: nodes.Node, lineno: int) -> Iterator[tuple[str, int]]:
    if isinstance(arg, nodes.Const) and isinstance(arg.value, str) and arg.value:
        yield arg.value.split(".")[0], lineno


#: Templates analysed so far (syntax and names do not depend on the workflow): the
#: editor revalidates its whole draft on every change, with the same ~hundreds of
#: templates each time.
MAX_ANALYSED = 4096


@functools.lru_cache(maxsize=MAX_ANALYSED)
def _analyse(source: str) -> tuple[tuple[TemplateProblem, ...], tuple[tuple[str, int], ...]]:
    """The workflow-independent problems of ``source`` and the node ids it names."""
    try:
        tree = _parse(source)
        compile_template(source)
        unknown = find_undeclared_variables(tree) - KNOWN_NAMES - set(_ENV.globals)
    except TemplateError as error:
        return (TemplateProblem(error.message, error.line, error.column),), ()
    except RecursionError:  # only when the caller's own stack is already very deep
        return (TemplateProblem(_too_deep(None).message),), ()
    problems: dict[tuple[str, int], TemplateProblem] = {}
    for node in tree.find_all(nodes.Name):
        if node.name in unknown and node.ctx == "load":
            message = (
                f"unknown name {node.name!r}: templates can use nodes, trigger, env and the helpers"
            )
            problems.setdefault((message, node.lineno), TemplateProblem(message, node.lineno))
    return tuple(problems.values()), tuple(_node_references(tree))


def validate_template(
    source: str, known_nodes: Collection[str] | None = None
) -> list[TemplateProblem]:
    """Problems an editor can show before saving: syntax errors (line and column),
    unknown filters, unknown names and, when ``known_nodes`` is given, references to
    node ids not in it. An empty list means the template compiles."""
    if not _has_tags(source):
        return []
    found, references = _analyse(source)
    problems = {(problem.message, problem.line or 0): problem for problem in found}
    if known_nodes is not None:
        for node_id, lineno in references:
            if node_id not in known_nodes:
                message = f"unknown node {node_id!r}: no node with this id in the workflow"
                problems.setdefault((message, lineno), TemplateProblem(message, lineno))
    return sorted(problems.values(), key=lambda problem: (problem.line or 0, problem.message))
