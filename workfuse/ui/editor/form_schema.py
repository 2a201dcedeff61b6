"""A node type's form, described once per (type, version) from its config's JSON Schema.

:func:`fields_of` turns ``NodeSpec.config_schema()`` (with the ``ui`` hints of
:func:`workfuse.nodes.hints.ui`) into a tree of :class:`FieldSpec`: one per property,
with its widget, label, help, options and default; a ``group`` or ``list`` field holds
the fields of its nested object. Nothing here knows a node type by name, so a type
registered at run time (``WORKFUSE_NODE_MODULES``) gets its form like the built-in
ones. :mod:`workfuse.ui.editor.node_form` fills the tree with a node's values.

Limits: a property whose schema is a union of several non-null types (other than
``X | None``) is edited as JSON; nested objects are followed through ``$ref`` into
``$defs`` only (the way pydantic writes them). Defaults come from the model's
``default`` or ``default_factory`` (a factory that needs the other fields' data is
not called).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from workfuse.nodes.base import NodeSpec
from workfuse.nodes.hints import Widget

WIDGETS: frozenset[str] = frozenset(get_args(Widget))
#: Widgets whose text is kept as typed while it is being edited (``1.`` stays ``1.``).
TYPED_WIDGETS: frozenset[str] = frozenset({"number", "json", "loose"})
#: Words shown in capitals when a label is made from a property name.
ACRONYMS = {"url": "URL", "arn": "ARN", "id": "ID", "json": "JSON", "api": "API"}
NumberKind = Literal["int", "float"]


@dataclass(frozen=True)
class FieldSpec:
    """How one config property is edited.

    - ``name``: the camelCase property name (one step of a config path).
    - ``optional``: the property is ``X | None`` (an empty value removes it);
      ``required``: the schema requires it; ``default``: its JSON default
      (``None``: none, or null).
    - ``number``: ``int`` or ``float`` for the ``number`` widget; ``json_type``: the
      schema's ``type`` (``""`` for any JSON); ``min_length``: its ``minLength``.
    - ``options``: the enum of a ``select``, or of the items of ``checkboxes``.
    - ``show_if``: (sibling, values) pairs; the field shows only while each sibling
      holds one of its values.
    - ``children``: the fields of a ``group``'s object or of a ``list``'s items.
    """

    name: str
    widget: Widget
    label: str
    help: str = ""
    placeholder: str = ""
    unit: str = ""
    template: bool = False
    advanced: bool = False
    optional: bool = False
    required: bool = False
    default: Any = None
    number: NumberKind = "float"
    json_type: str = ""
    min_length: int = 0
    options: tuple[str, ...] = ()
    rows: int = 0
    language: str = ""
    language_field: str = ""
    show_if: tuple[tuple[str, tuple[str, ...]], ...] = ()
    item_label: str = ""
    credential_type: str = ""
    children: tuple[FieldSpec, ...] = ()

    def child(self, name: str) -> FieldSpec:
        """The nested field ``name`` (``KeyError`` if there is none)."""
        for field in self.children:
            if field.name == name:
                return field
        raise KeyError(name)


class _WithFactoryDefaults(GenerateJsonSchema):
    """Pydantic's JSON Schema, with the defaults of ``default_factory`` fields too
    (``methods: ["POST"]``), which the form shows like any other default."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        factory = schema.get("default_factory")
        if factory is not None and not schema.get("default_factory_takes_data"):
            return factory()  # type: ignore[call-arg]
        return schema.get("default", NoDefault)


_CACHE: dict[tuple[str, int], tuple[NodeSpec, tuple[FieldSpec, ...]]] = {}


def fields_of(spec: NodeSpec) -> tuple[FieldSpec, ...]:
    """The form of ``spec``'s config, top-level fields in the model's order.

    Cached per (type, version); a spec registered again under the same name and
    version (tests do) is described again.
    """
    key = (spec.type, spec.version)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] is spec:
        return cached[1]
    schema = spec.config_model.model_json_schema(
        by_alias=True, schema_generator=_WithFactoryDefaults
    )
    fields = _object_fields(schema, schema.get("$defs", {}))
    _CACHE[key] = (spec, fields)
    return fields


def field_at(fields: Sequence[FieldSpec], path: Sequence[str]) -> FieldSpec:
    """The field a config path names: ``("auth", "secretArn")``, or through a list's
    row index ``("conditions", "0", "branch")``. ``KeyError`` if it names none."""
    if not path:
        raise KeyError("")
    field = next((f for f in fields if f.name == path[0]), None)
    if field is None:
        raise KeyError(path[0])
    rest = list(path[1:])
    while rest:
        if field.widget == "list":
            if not rest.pop(0).isdigit():
                raise KeyError(".".join(path))
            if not rest:
                break
        field = field.child(rest.pop(0))
    return field


def humanize(name: str) -> str:
    """A label from a camelCase property name: ``secretArn`` -> ``Secret ARN``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name).replace("_", " ").lower().split()
    shown = [ACRONYMS.get(word, word) for word in words]
    if shown and shown[0] == words[0]:
        shown[0] = shown[0].capitalize()
    return " ".join(shown)


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    reference = schema.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/$defs/"):
        resolved: Mapping[str, Any] = defs.get(reference.removeprefix("#/$defs/"), {})
        return resolved
    return schema


def _without_null(schema: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The schema of ``X | None`` without its null member, and whether it had one."""
    members = schema.get("anyOf")
    if not isinstance(members, list) or {"type": "null"} not in members:
        return schema, False
    rest = [member for member in members if member != {"type": "null"}]
    return (rest[0] if len(rest) == 1 else {"anyOf": rest}), True


def _inferred_widget(inner: Mapping[str, Any], defs: Mapping[str, Any]) -> Widget:
    """The widget a field without a ``widget`` hint gets from its type."""
    kind = inner.get("type")
    if "enum" in inner:
        return "select"
    if kind == "string":
        return "text"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "switch"
    if kind == "array":
        items = _resolve(inner.get("items", {}), defs)
        if "enum" in items:
            return "checkboxes"
        if "properties" in items:
            return "list"
    if kind == "object":
        if "properties" in inner:
            return "group"
        if inner.get("additionalProperties") == {"type": "string"}:
            return "keyvalue"
    return "json"


def _options(widget: Widget, inner: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[str, ...]:
    source = _resolve(inner.get("items", {}), defs) if widget == "checkboxes" else inner
    return tuple(str(option) for option in source.get("enum", ()))


def _children(
    widget: Widget, inner: Mapping[str, Any], defs: Mapping[str, Any]
) -> tuple[FieldSpec, ...]:
    if widget == "group":
        return _object_fields(inner, defs)
    if widget == "list":
        return _object_fields(_resolve(inner.get("items", {}), defs), defs)
    return ()


def _object_fields(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> tuple[FieldSpec, ...]:
    required = set(schema.get("required", ()))
    return tuple(
        _field(name, prop, defs, name in required)
        for name, prop in schema.get("properties", {}).items()
    )


def _help(prop: Mapping[str, Any], hints: Mapping[str, Any]) -> str:
    parts: Iterable[Any] = (prop.get("description"), hints.get("help"))
    return " ".join(str(part) for part in parts if part)


def _field(
    name: str, prop: Mapping[str, Any], defs: Mapping[str, Any], required: bool
) -> FieldSpec:
    hints: Mapping[str, Any] = prop.get("ui", {})
    unwrapped, optional = _without_null(prop)
    inner = _resolve(unwrapped, defs)
    hinted = hints.get("widget")
    widget: Widget = hinted if hinted in WIDGETS else _inferred_widget(inner, defs)
    show_if = hints.get("showIf") or {}
    return FieldSpec(
        name=name,
        widget=widget,
        label=str(hints.get("label") or humanize(name)),
        help=_help(prop, hints),
        placeholder=str(hints.get("placeholder") or ""),
        unit=str(hints.get("unit") or ""),
        template=bool(hints.get("template")),
        advanced=bool(hints.get("advanced")),
        optional=optional,
        required=required,
        default=prop.get("default"),
        number="int" if inner.get("type") == "integer" else "float",
        json_type=str(inner.get("type") or ""),
        min_length=int(inner.get("minLength", 0)),
        options=_options(widget, inner, defs),
        rows=int(hints.get("rows") or 0),
        language=str(hints.get("language") or ""),
        language_field=str(hints.get("languageField") or ""),
        show_if=tuple((key, tuple(str(v) for v in values)) for key, values in show_if.items()),
        item_label=str(hints.get("itemLabel") or ""),
        credential_type=str(hints.get("credentialType") or ""),
        children=_children(widget, inner, defs),
    )
