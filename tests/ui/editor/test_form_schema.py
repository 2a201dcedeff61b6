"""A node type's config schema -> the fields of its form (no browser, no app)."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from pydantic import BaseModel, Field

from workfuse.nodes.base import NodeConfigModel, NodeOutputModel, NodeSpec
from workfuse.nodes.hints import Widget, ui
from workfuse.nodes.registry import REGISTRY
from workfuse.ui.editor.form_schema import FieldSpec, field_at, fields_of, humanize


class Inner(NodeConfigModel):
    name: str = Field(min_length=1)
    on: bool = True


def _first_pick() -> list[Literal["p", "q"]]:
    return ["p"]


class Everything(NodeConfigModel):
    """Every kind of field, none with a widget hint: each gets the widget of its type."""

    text: str
    count: int = 3
    ratio: float | None = None
    flag: bool = False
    mode: Literal["a", "b"] = "a"
    maybe: Literal["x", "y"] | None = None
    picks: list[Literal["p", "q"]] = Field(default_factory=_first_pick)
    inner: Inner | None = None
    items: list[Inner] = Field(default_factory=list)
    pairs: dict[str, str] | None = None
    blob: dict[str, Any] = Field(default_factory=dict)
    anything: Any = None
    either: int | str = 1
    hinted: str = Field(default="", json_schema_extra=ui(widget="multiline", advanced=True))


class Nothing(NodeOutputModel):
    pass


async def _execute(config: Any, context: Any) -> Nothing:
    return Nothing()


EVERYTHING = NodeSpec(
    type="everything",
    label="Everything",
    icon="box",
    description="Every kind of field.",
    config_model=Everything,
    output_model=Nothing,
    execute=_execute,
)

INFERRED: dict[str, Widget] = {
    "text": "text",
    "count": "number",
    "ratio": "number",
    "flag": "switch",
    "mode": "select",
    "maybe": "select",
    "picks": "checkboxes",
    "inner": "group",
    "items": "list",
    "pairs": "keyvalue",
    "blob": "json",
    "anything": "json",
    "either": "json",
    "hinted": "multiline",
}


def _paths(fields: tuple[FieldSpec, ...], prefix: str = "") -> set[str]:
    """Every field's config path; a list's items as row 0."""
    found: set[str] = set()
    for field in fields:
        path = f"{prefix}{field.name}"
        found.add(path)
        found |= _paths(field.children, f"{path}.0." if field.widget == "list" else f"{path}.")
    return found


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


def _is_list(annotation: Any) -> bool:
    if get_origin(annotation) is list:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return any(_is_list(arg) for arg in get_args(annotation))
    return False


def _model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every property of ``model`` and of the models nested in it, by config path."""
    found: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}{info.alias or name}"
        found.add(path)
        nested = _nested_model(info.annotation)
        if nested is not None:
            inner = f"{path}.0." if _is_list(info.annotation) else f"{path}."
            found |= _model_paths(nested, inner)
    return found


def test_every_property_of_every_config_model_gets_a_field(node_spec: NodeSpec) -> None:
    fields = fields_of(node_spec)
    assert _paths(fields) == _model_paths(node_spec.config_model)
    assert all(field.label for field in fields)


def test_the_fields_follow_the_schema_and_its_hints(node_spec: NodeSpec) -> None:
    """Labels, help, placeholders and widgets come from the schema's ``ui`` hints."""
    schema = node_spec.config_schema()
    for field in fields_of(node_spec):
        prop = schema["properties"][field.name]
        hints = prop.get("ui", {})
        assert field.label == hints.get("label", humanize(field.name))
        if "widget" in hints:
            assert field.widget == hints["widget"]
        assert field.placeholder == hints.get("placeholder", "")
        assert field.advanced is bool(hints.get("advanced"))
        assert field.template is bool(hints.get("template"))
        if prop.get("description"):
            assert prop["description"] in field.help
        assert field.required is (field.name in schema.get("required", []))


def test_the_registered_types_use_every_widget() -> None:
    """So that every widget is shown by the browser tests and screenshots."""

    def widgets(fields: tuple[FieldSpec, ...]) -> set[str]:
        return {field.widget for field in fields} | {
            widget for field in fields for widget in widgets(field.children)
        }

    used = set().union(*(widgets(fields_of(spec)) for spec in REGISTRY.specs()))
    assert used == set(get_args(Widget))


def test_a_field_without_hints_gets_the_widget_of_its_type() -> None:
    fields = {field.name: field for field in fields_of(EVERYTHING)}

    assert {name: field.widget for name, field in fields.items()} == INFERRED
    assert (fields["count"].number, fields["ratio"].number) == ("int", "float")
    assert fields["ratio"].optional and not fields["count"].optional
    assert fields["mode"].options == ("a", "b")
    assert fields["maybe"].options == ("x", "y") and fields["maybe"].optional
    assert fields["picks"].options == ("p", "q")
    assert fields["blob"].json_type == "object"
    assert [child.name for child in fields["inner"].children] == ["name", "on"]
    assert [child.name for child in fields["items"].children] == ["name", "on"]
    assert fields["hinted"].advanced
    assert fields["text"].required and not fields["count"].required


def test_defaults_come_from_defaults_and_factories() -> None:
    fields = {field.name: field for field in fields_of(EVERYTHING)}
    assert (fields["count"].default, fields["mode"].default) == (3, "a")
    assert fields["picks"].default == ["p"]
    assert fields["blob"].default == {}
    assert fields["inner"].default is None
    assert fields_of(REGISTRY.get("trigger"))[1].default == ["POST"]


def test_the_fields_of_a_type_are_cached_per_spec() -> None:
    first = fields_of(EVERYTHING)
    assert fields_of(EVERYTHING) is first
    again = dataclasses.replace(EVERYTHING, label="Everything, again")
    assert fields_of(again) is not first
    assert fields_of(again) == first


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("text", "text"),
        ("inner.name", "name"),
        ("items", "items"),
        ("items.0", "items"),
        ("items.3.on", "on"),
    ],
)
def test_field_at(path: str, name: str) -> None:
    assert field_at(fields_of(EVERYTHING), path.split(".")).name == name


@pytest.mark.parametrize("path", ["", "nope", "text.more", "inner.nope", "items.x.on", "items.on"])
def test_field_at_refuses_what_the_type_does_not_have(path: str) -> None:
    with pytest.raises(KeyError):
        field_at(fields_of(EVERYTHING), path.split(".") if path else [])


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("url", "URL"),
        ("secretArn", "Secret ARN"),
        ("maxTokens", "Max tokens"),
        ("idempotencyHeader", "Idempotency header"),
        ("baseUrl", "Base URL"),
        ("source", "Source"),
    ],
)
def test_humanize(name: str, label: str) -> None:
    assert humanize(name) == label
