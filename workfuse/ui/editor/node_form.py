"""The side panel's form of one node, as the browser shows it.

:func:`build_form` walks the fields of the node's type (:mod:`form_schema`, derived
from its config model) and gives the browser a flat list of :class:`FieldView` rows,
each with its widget, texts, current value and validation message; the panel renders
them with one ``rx.foreach``. Nothing here names a node type. The fields every node
has (label, retry policy) are plain attributes of :class:`NodeForm`, edited with
:func:`apply_edit`; the config is edited through :mod:`form_edits`.

A field whose text is kept as typed (numbers, JSON: ``1.`` must not turn into
``1.0``) shows the text of ``texts`` (keyed :func:`typed_key`) while that text still
means the stored value, or cannot be stored at all (half-typed JSON, refused with
:class:`~workfuse.ui.editor.form_values.FormError`); otherwise the stored value.

A field whose ``show_if`` does not hold is left out of the rows; a top-level field
marked ``advanced`` goes to :attr:`NodeForm.advanced` ("More options") with the rows
it holds (an ``advanced`` hint inside a group or list row is not applied: nested rows
stay with their parent).

Structural rows besides the widgets of :data:`workfuse.nodes.hints.Widget`: ``row``
(a list row's caption and remove button), ``add`` (a list's add button), ``pair``
(one key/value row) and ``pair_add``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from workfuse.nodes.registry import REGISTRY
from workfuse.ui.editor.form_edits import pairs_of
from workfuse.ui.editor.form_schema import TYPED_WIDGETS, FieldSpec, field_at, fields_of
from workfuse.ui.editor.form_values import (
    NONE_OPTION,
    FormError,
    parse_number,
    parsed_text,
    plain_text,
    shown_text,
)

#: The fields every node has: form name -> (path inside the node's ``data``, number kind).
COMMON_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "label": (("label",), ""),
    "retry_max_attempts": (("retryPolicy", "maxAttempts"), "int"),
    "retry_initial_delay_ms": (("retryPolicy", "initialDelayMs"), "int"),
    "retry_backoff_multiplier": (("retryPolicy", "backoffMultiplier"), "float"),
}
DEFAULT_RETRY = {"maxAttempts": 3, "initialDelayMs": 1000, "backoffMultiplier": 2.0}
#: Placeholders of inputs that have none of their own.
CHOOSE = {"select": "Choose one", "credential": "Choose a credential"}
#: Lines of a text box without a ``rows`` hint (a ``loose`` field without one is a
#: one-line input).
DEFAULT_ROWS = {"multiline": 3, "json": 4, "code": 8}


@dataclass
class FieldView:
    """One row of the generated form.

    ``path`` is the config path the row edits (``auth.secretArn``,
    ``conditions.0.branch``; a ``row`` names its row, ``conditions.0``). ``text`` is
    the value of a text-like widget (a ``pair``'s value, its key in ``name``),
    ``checked`` that of a switch or group, ``chosen`` the ticked ``options`` of
    checkboxes. ``depth`` is the nesting under groups and list rows; ``index`` the
    row of a ``row`` or ``pair``, and a ``row``'s ``name`` is its list's path.
    """

    path: str = ""
    widget: str = "text"
    label: str = ""
    help: str = ""
    placeholder: str = ""
    unit: str = ""
    template: bool = False
    optional: bool = False
    language: str = ""
    rows: int = 0
    options: list[str] = field(default_factory=list)
    text: str = ""
    checked: bool = False
    chosen: list[str] = field(default_factory=list)
    name: str = ""
    index: int = -1
    depth: int = 0
    error: str = ""


@dataclass
class NodeForm:
    """The selected node's panel: identity, the common fields, the generated fields.

    ``fields`` and ``advanced`` (under "More options") are the config's rows;
    ``config_error`` holds problems of the config that no shown row owns;
    ``has_retries``: the node type has side effects, so a retry policy applies.
    """

    id: str = ""
    type: str = ""
    type_label: str = ""
    known: bool = False
    label: str = ""
    label_error: str = ""
    has_retries: bool = False
    retry_enabled: bool = False
    retry_max_attempts: str = ""
    retry_initial_delay_ms: str = ""
    retry_backoff_multiplier: str = ""
    retry_error: str = ""
    fields: list[FieldView] = field(default_factory=list)
    advanced: list[FieldView] = field(default_factory=list)
    advanced_problem: bool = False
    config_error: str = ""


def typed_key(node_id: str, name: str) -> str:
    """The ``texts`` key of a typed text: the node and a config path or common field."""
    return f"{node_id}:{name}"


def keeps_typed_text(node: Mapping[str, Any], path: str) -> bool:
    """Whether the form shows a common field (a retry number) or the config field at
    ``path`` as typed (see module doc)."""
    if path in COMMON_FIELDS:
        return bool(COMMON_FIELDS[path][1])
    spec = REGISTRY.spec_of(node)
    if spec is None:
        return False
    try:
        return field_at(fields_of(spec), path.split(".")).widget in TYPED_WIDGETS
    except KeyError:
        return False


def build_form(
    node: Mapping[str, Any], texts: Mapping[str, str], errors: Mapping[str, str] | None = None
) -> NodeForm:
    """The panel's view of ``node``; ``texts`` holds texts as typed (see module doc),
    ``errors`` validation messages by form path (``label``, ``retry``, ``config``,
    ``config.<path>``: :func:`workfuse.ui.editor.draft.form_path_of`)."""
    data = node.get("data")
    data = data if isinstance(data, dict) else {}
    config = data.get("config")
    config = config if isinstance(config, dict) else {}
    spec = REGISTRY.spec_of(node)
    node_id, node_type = str(node.get("id", "")), str(node.get("type", ""))
    form = NodeForm(
        id=node_id,
        type=node_type,
        type_label=spec.label if spec is not None else node_type,
        known=spec is not None,
        label=plain_text(data.get("label")),
        has_retries=spec is not None and spec.side_effects,
        retry_enabled=isinstance(data.get("retryPolicy"), dict),
    )
    for name, (path, kind) in COMMON_FIELDS.items():
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        typed = texts.get(typed_key(node_id, name))
        shown = plain_text(value)
        if kind and typed is not None and parse_number(typed, kind) == value:
            shown = typed
        setattr(form, name, shown)
    if spec is not None:
        views = _Views(texts, node_id)
        views.walk(fields_of(spec), config, "", 0, None)
        form.fields, form.advanced = views.main, views.advanced
    _attach(form, errors or {})
    return form


class _Views:
    """Collects the rows of one form (see :func:`build_form`)."""

    def __init__(self, texts: Mapping[str, str], node_id: str) -> None:
        self.texts, self.node_id = texts, node_id
        self.main: list[FieldView] = []
        self.advanced: list[FieldView] = []

    def walk(
        self,
        fields: Sequence[FieldSpec],
        values: Mapping[str, Any],
        prefix: str,
        depth: int,
        into: list[FieldView] | None,
    ) -> None:
        """Rows of ``fields`` holding ``values``; top-level rows go to ``main`` or
        ``advanced``, nested ones (``into``) follow their group or list row."""
        for spec in fields:
            if not _visible(spec, fields, values):
                continue
            target = into if into is not None else self.advanced if spec.advanced else self.main
            present = spec.name in values
            view = self.add(spec, values.get(spec.name), present, prefix + spec.name, depth, target)
            if spec.language_field:
                view.language = plain_text(_current(spec.language_field, fields, values))

    def add(
        self,
        spec: FieldSpec,
        value: Any,
        present: bool,
        path: str,
        depth: int,
        target: list[FieldView],
    ) -> FieldView:
        """Append the row of ``spec`` (and of what it holds) to ``target``; its row."""
        view = FieldView(
            path=path,
            widget=spec.widget,
            label=spec.label,
            help=spec.help,
            placeholder=_placeholder(spec),
            unit=spec.unit,
            template=spec.template,
            optional=spec.optional,
            rows=spec.rows or DEFAULT_ROWS.get(spec.widget, 0),
            depth=depth,
        )
        target.append(view)
        if spec.widget == "group":
            view.checked = isinstance(value, dict) or not spec.optional
            if view.checked:
                inner = value if isinstance(value, dict) else {}
                self.walk(spec.children, inner, f"{path}.", depth + 1, target)
        elif spec.widget == "list":
            self.rows(spec, value, path, depth, target)
        elif spec.widget == "keyvalue":
            for index, (key, text) in enumerate(pairs_of(value)):
                target.append(FieldView(path=path, widget="pair", name=key, text=text, index=index))
                target[-1].depth, target[-1].placeholder = depth, spec.item_label or "Name"
            noun = (spec.item_label or "row").lower()
            target.append(FieldView(path=path, widget="pair_add", label=f"Add {noun}"))
            target[-1].depth = depth
        elif spec.widget == "checkboxes":
            view.options = list(spec.options)
            current = value if present and isinstance(value, list) else spec.default
            view.chosen = [str(item) for item in current or []]
        elif spec.widget == "switch":
            view.checked = bool(value if present else spec.default)
        else:
            view.options = list(spec.options)
            if spec.widget == "select" and spec.optional and spec.default is None:
                view.options.insert(0, NONE_OPTION)
            view.text = self.typed(spec, path, value, present)
            view.language = spec.language
        return view

    def rows(
        self, spec: FieldSpec, value: Any, path: str, depth: int, target: list[FieldView]
    ) -> None:
        noun = spec.item_label or "Item"
        for index, row in enumerate(value if isinstance(value, list) else []):
            caption = FieldView(path=f"{path}.{index}", widget="row", label=f"{noun} {index + 1}")
            caption.name, caption.index, caption.depth = path, index, depth + 1
            target.append(caption)
            if isinstance(row, dict):
                self.walk(spec.children, row, f"{path}.{index}.", depth + 1, target)
        adding = FieldView(path=path, widget="add", label=f"Add {noun.lower()}")
        adding.depth = depth
        target.append(adding)

    def typed(self, spec: FieldSpec, path: str, value: Any, present: bool) -> str:
        """The field's text: as typed while that still means the stored value."""
        typed = self.texts.get(typed_key(self.node_id, path))
        if typed is not None and spec.widget in TYPED_WIDGETS:
            try:
                if parsed_text(spec, typed) == (value if present else None):
                    return typed
            except FormError:
                return typed
        return shown_text(spec, value, present)


def _visible(spec: FieldSpec, siblings: Sequence[FieldSpec], values: Mapping[str, Any]) -> bool:
    """``show_if``: each named sibling holds (or defaults to) one of its values."""
    return all(
        plain_text(_current(name, siblings, values)) in allowed for name, allowed in spec.show_if
    )


def _current(name: str, siblings: Sequence[FieldSpec], values: Mapping[str, Any]) -> Any:
    """A sibling's value, or its default while it is absent."""
    if name in values:
        return values[name]
    sibling = next((f for f in siblings if f.name == name), None)
    return sibling.default if sibling is not None else None


def _placeholder(spec: FieldSpec) -> str:
    if spec.placeholder:
        return spec.placeholder
    if spec.widget in CHOOSE:
        return CHOOSE[spec.widget]
    if isinstance(spec.default, str | int | float) and not isinstance(spec.default, bool):
        return plain_text(spec.default)
    return ""


def _attach(form: NodeForm, errors: Mapping[str, str]) -> None:
    """Put each validation message on the row of its path, or of the nearest shown
    parent (a hidden field's group, a list row); what no row owns goes to
    ``config_error``."""
    rows: dict[str, FieldView] = {}
    for view in [*form.fields, *form.advanced]:
        if view.widget not in ("add", "pair", "pair_add"):
            rows.setdefault(view.path, view)
    unowned: list[str] = []
    for where, message in errors.items():
        if where == "label":
            form.label_error = form.label_error or message
            continue
        if where == "retry":
            form.retry_error = form.retry_error or message
            continue
        parts = where.split(".")[1:] if where.startswith("config") else []
        while parts and ".".join(parts) not in rows:
            parts.pop()
        if parts:
            view = rows[".".join(parts)]
            view.error = view.error or message
        else:
            path = where.removeprefix("config").removeprefix(".")
            unowned.append(f"{path}: {message}" if path else message)
    form.config_error = "\n".join(unowned)
    form.advanced_problem = any(view.error for view in form.advanced)


def apply_edit(node: Mapping[str, Any], name: str, value: Any) -> dict[str, Any]:
    """A copy of ``node`` with common field ``name`` (label, retry) set to ``value``.

    ``retry_enabled`` adds the default policy or removes it; a retry number that does
    not parse is stored as typed. ``KeyError`` for a field that is not common.
    """
    updated = copy.deepcopy(dict(node))
    data = updated.get("data")
    if not isinstance(data, dict):
        data = updated["data"] = {}
    if name == "retry_enabled":
        if value:
            data["retryPolicy"] = dict(DEFAULT_RETRY)
        else:
            data.pop("retryPolicy", None)
        return updated
    path, kind = COMMON_FIELDS[name]
    stored = parse_number(str(value), kind) if kind else str(value)
    parent = data
    for key in path[:-1]:
        child = parent.get(key)
        if not isinstance(child, dict):
            child = parent[key] = {}
        parent = child
    if stored is None:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = stored
    return updated
