"""Helpers of the form tests: nodes with every field shown, the form as the panel builds
it (with the node's validation messages), the rows by path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workfuse.nodes.base import NodeSpec
from workfuse.ui.editor import draft as drafts
from workfuse.ui.editor import form_edits
from workfuse.ui.editor.form_schema import FieldSpec, fields_of
from workfuse.ui.editor.node_form import FieldView, NodeForm, build_form

#: Rows that edit nothing themselves (captions, buttons, key/value rows).
STRUCTURAL = frozenset({"row", "add", "pair", "pair_add"})


def full_node(spec: NodeSpec, node_id: str = "n") -> dict[str, Any]:
    """A new node of ``spec`` with every field shown: groups on, one row in each list,
    each ``show_if`` satisfied (by the first value it names)."""
    return _filled(spec.new_node(node_id), fields_of(spec), "")


def _filled(node: dict[str, Any], fields: Sequence[FieldSpec], prefix: str) -> dict[str, Any]:
    for field in fields:
        path = f"{prefix}{field.name}"
        for sibling, allowed in field.show_if:
            node = form_edits.set_value(node, f"{prefix}{sibling}", allowed[0])
        if field.widget == "group":
            node = _filled(form_edits.toggle_group(node, path, True), field.children, f"{path}.")
        elif field.widget == "list":
            node = _filled(form_edits.add_row(node, path), field.children, f"{path}.0.")
    return node


def form_of(node: dict[str, Any], texts: dict[str, str] | None = None) -> NodeForm:
    """The form as the panel shows it, with ``node``'s validation messages placed."""
    result = drafts.validate("test", {"nodes": [node], "edges": []})
    mine = [issue for issue in result.issues() if issue.node_id == node["id"]]
    return build_form(node, texts or {}, drafts.form_errors(mine))


def rows(form: NodeForm) -> list[FieldView]:
    return [*form.fields, *form.advanced]


def by_path(form: NodeForm) -> dict[str, FieldView]:
    """The rows that edit a field, by config path."""
    return {view.path: view for view in rows(form) if view.widget not in STRUCTURAL}


def stored(node: dict[str, Any], path: str) -> Any:
    """The config value at ``path`` (``KeyError`` when absent)."""
    current: Any = node["data"]["config"]
    for part in path.split("."):
        current = current[int(part)] if isinstance(current, list) else current[part]
    return current


def has(node: dict[str, Any], path: str) -> bool:
    try:
        stored(node, path)
    except (KeyError, IndexError):
        return False
    return True
