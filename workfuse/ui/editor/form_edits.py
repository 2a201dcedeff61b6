"""Edits of a node's config through its generated form, as pure functions.

Each function takes a stored node and a config path (``"url"``, ``"auth.secretArn"``,
``"conditions.0.branch"``: camelCase names, a list row by its index) and returns a
new node; the argument is never changed. The path is checked against the node type's
fields (:mod:`workfuse.ui.editor.form_schema`): one the type does not have, or one
of the wrong widget for the edit, raises ``KeyError``; a row index that is not there
changes nothing.

An edit that would only write what an absent property already means (its default,
or nothing) leaves the node as it is, so showing a form and applying its values back
is no change at all.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workfuse.nodes.registry import REGISTRY
from workfuse.ui.editor.form_schema import FieldSpec, fields_of
from workfuse.ui.editor.form_values import TEXT_WIDGETS, FormError, parsed_text, plain_text

Node = dict[str, Any]
#: Widgets :func:`set_value` edits; the others have their own edits below.
SCALAR_WIDGETS = TEXT_WIDGETS | {"number", "switch", "json", "loose"}
#: Widgets that show an absent property's default as their value (the text fields
#: show it as a placeholder).
DEFAULT_SHOWN = frozenset({"select", "switch", "checkboxes"})


@dataclass
class _Spot:
    """Where a path's value lives in a (copied) config: ``parent[field.name]``;
    ``siblings`` are the fields of ``parent``."""

    parent: dict[str, Any]
    field: FieldSpec
    siblings: Sequence[FieldSpec]


def _config(node: Node) -> dict[str, Any]:
    """The node's config (created if missing), in a node the caller owns."""
    data = node.get("data")
    if not isinstance(data, dict):
        data = node["data"] = {}
    config = data.get("config")
    if not isinstance(config, dict):
        config = data["config"] = {}
    return config


def _find(fields: Sequence[FieldSpec], name: str) -> FieldSpec:
    for field in fields:
        if field.name == name:
            return field
    raise KeyError(name)


def _spot(node: Node, path: str, widgets: frozenset[str]) -> _Spot | None:
    """Where ``path`` lives in ``node`` (a copy the caller owns), creating the objects
    of groups on the way; ``None`` if it goes through a list row that is not there.
    ``KeyError`` if the type has no such field or its widget is not in ``widgets``."""
    spec = REGISTRY.spec_of(node)
    if spec is None:
        raise KeyError(path)
    parts = path.split(".")
    parent, siblings = _config(node), fields_of(spec)
    while True:
        field = _find(siblings, parts.pop(0))
        if not parts:
            if field.widget not in widgets:
                raise KeyError(path)
            return _Spot(parent, field, siblings)
        if field.widget == "group":
            child = parent.get(field.name)
            if not isinstance(child, dict):
                child = parent[field.name] = {}
            parent = child
        elif field.widget == "list" and len(parts) > 1 and parts[0].isdigit():
            rows = parent.get(field.name)
            index = int(parts.pop(0))
            if not isinstance(rows, list) or index >= len(rows):
                return None
            if not isinstance(rows[index], dict):
                return None
            parent = rows[index]
        else:
            raise KeyError(path)
        siblings = field.children


def _store(spot: _Spot, value: Any) -> bool:
    """Set the property (``None`` removes it); an absent one whose new value is what the
    form shows for it anyway (nothing, ``""``, or the default a select, switch or
    checkboxes show) stays absent. Whether anything was written."""
    name = spot.field.name
    if name not in spot.parent:
        shows_default = spot.field.widget in DEFAULT_SHOWN
        if value is None or value == "" or (shows_default and value == spot.field.default):
            return False
    if value is None:
        spot.parent.pop(name, None)
    else:
        spot.parent[name] = value
    return True


def set_value(node: Node, path: str, value: Any) -> Node:
    """A copy of ``node`` with the scalar field at ``path`` set from what the form sent
    (text, or a bool for a switch); see :func:`form_values.parsed_text`."""
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, SCALAR_WIDGETS)
    if spot is None:
        return node
    if spot.field.widget == "switch":
        stored = bool(value)
    else:
        try:
            stored = parsed_text(spot.field, str(value))
        except FormError as problem:
            raise FormError(f"{spot.field.label}: {problem}") from None
    return updated if _store(spot, stored) else node


def toggle_choice(node: Node, path: str, option: str, on: bool) -> Node:
    """A copy with ``option`` ticked or not in the ``checkboxes`` field at ``path``
    (kept in the order of the field's options)."""
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, frozenset({"checkboxes"}))
    if spot is None or option not in spot.field.options:
        return node
    current = spot.parent.get(spot.field.name, spot.field.default)
    chosen = {str(item) for item in current} if isinstance(current, list) else set()
    chosen = chosen | {option} if on else chosen - {option}
    ordered = [item for item in spot.field.options if item in chosen]
    return updated if _store(spot, ordered) else node


def toggle_group(node: Node, path: str, on: bool) -> Node:
    """A copy with the optional object at ``path`` switched on (with its defaults, see
    :func:`new_object`) or off (removed)."""
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, frozenset({"group"}))
    if spot is None:
        return node
    present = isinstance(spot.parent.get(spot.field.name), dict)
    if on == present:
        return node
    if on:
        spot.parent[spot.field.name] = new_object(spot.field.children)
    else:
        spot.parent.pop(spot.field.name)
    return updated


# --- lists of objects ---------------------------------------------------------------


def add_row(node: Node, path: str) -> Node:
    """A copy with a new row at the end of the ``list`` at ``path`` (see
    :func:`new_object` for what it holds)."""
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, frozenset({"list"}))
    if spot is None:
        return node
    rows = spot.parent.get(spot.field.name)
    if not isinstance(rows, list):
        rows = spot.parent[spot.field.name] = []
    taken = _names_in_use(spot)
    rows.append(new_object(spot.field.children, rows=rows, taken=taken))
    return updated


def remove_row(node: Node, path: str, index: int) -> Node:
    """A copy without row ``index`` of the ``list`` at ``path``."""
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, frozenset({"list"}))
    rows = spot.parent.get(spot.field.name) if spot is not None else None
    if not isinstance(rows, list) or not 0 <= index < len(rows):
        return node
    del rows[index]
    return updated


def _names_in_use(spot: _Spot) -> set[str]:
    """Text the list's parent object holds or means (its properties and their
    defaults): a new row's name must differ from them (a condition's default branch)."""
    taken = {value for value in spot.parent.values() if isinstance(value, str)}
    taken |= {
        field.default
        for field in spot.siblings
        if isinstance(field.default, str) and field.name not in spot.parent
    }
    return taken


def _fresh_name(base: str, rows: list[Any], taken: set[str]) -> str:
    """``<base><n>``, n from the row count up, not used by a row nor in ``taken``."""
    used = taken | {str(row.get(base)) for row in rows if isinstance(row, dict)}
    number = len(rows) + 1
    while f"{base}{number}" in used:
        number += 1
    return f"{base}{number}"


def new_object(
    fields: Sequence[FieldSpec], rows: list[Any] | None = None, taken: set[str] | None = None
) -> dict[str, Any]:
    """A new object of ``fields``: every default that is not null, and a blank value
    for each required field without one (an enum's first option, ``""`` for text, an
    empty list or object). In a new list row (``rows``: the rows already there), a
    required one-line text field that may not be empty gets a name no other row (nor
    ``taken``) has, ``<field><n>``: a new condition rule gets its own branch."""
    made: dict[str, Any] = {}
    for field in fields:
        if field.default is not None:
            made[field.name] = copy.deepcopy(field.default)
        elif field.required and not field.optional:
            blank = _blank(field)
            unique = field.widget == "text" and field.json_type == "string" and field.min_length
            if rows is not None and unique:
                blank = _fresh_name(field.name, rows, taken or set())
            if blank is not None:
                made[field.name] = blank
    return made


def _blank(field: FieldSpec) -> Any:
    if field.widget == "select":
        return field.options[0] if field.options else None
    if field.widget in TEXT_WIDGETS:
        return ""
    if field.widget == "switch":
        return False
    if field.widget in ("checkboxes", "list"):
        return []
    if field.widget == "group":
        return new_object(field.children)
    if field.widget == "keyvalue" or field.json_type == "object":
        return {}
    return None  # a number or free JSON: left out, validation asks for it


# --- key/value rows -----------------------------------------------------------------


def pairs_of(value: Any) -> list[tuple[str, str]]:
    """The rows of a ``keyvalue`` field's stored mapping."""
    if not isinstance(value, dict):
        return []
    return [(str(key), plain_text(item)) for key, item in value.items()]


def _with_pairs(node: Node, spot: _Spot, pairs: list[tuple[str, str]]) -> Node:
    spot.parent[spot.field.name] = dict(pairs)
    if not pairs:
        spot.parent.pop(spot.field.name)
    return node


def edit_pair(node: Node, path: str, index: int, part: str, text: str) -> Node:
    """A copy with row ``index`` of the ``keyvalue`` field at ``path`` renamed
    (``part="key"``) or given a value (``part="value"``).

    Renaming a row to a name another row has (ignoring case, as HTTP header names)
    raises :class:`FormError`: the rows would merge and one value would be lost.
    """
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, frozenset({"keyvalue"}))
    pairs = pairs_of(spot.parent.get(spot.field.name)) if spot is not None else []
    if spot is None or not 0 <= index < len(pairs) or part not in ("key", "value"):
        return node
    key, value = pairs[index]
    if part == "key":
        if any(i != index and name.lower() == text.lower() for i, (name, _) in enumerate(pairs)):
            what = (spot.field.item_label or "name").lower()
            raise FormError(f"{spot.field.label}: the {what} {text!r} is already set above")
        pairs[index] = (text, value)
    else:
        pairs[index] = (key, text)
    return _with_pairs(updated, spot, pairs)


def add_pair(node: Node, path: str) -> Node:
    """A copy with an empty row in the ``keyvalue`` field at ``path``; one empty row at
    a time (fill it in first)."""
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, frozenset({"keyvalue"}))
    if spot is None:
        return node
    pairs = pairs_of(spot.parent.get(spot.field.name))
    if any(not key for key, _ in pairs):
        return node
    return _with_pairs(updated, spot, [*pairs, ("", "")])


def remove_pair(node: Node, path: str, index: int) -> Node:
    """A copy without row ``index`` of the ``keyvalue`` field at ``path`` (the whole
    property once no row is left)."""
    updated = copy.deepcopy(node)
    spot = _spot(updated, path, frozenset({"keyvalue"}))
    if spot is None:
        return node
    pairs = pairs_of(spot.parent.get(spot.field.name))
    if not 0 <= index < len(pairs):
        return node
    return _with_pairs(updated, spot, [pair for i, pair in enumerate(pairs) if i != index])
