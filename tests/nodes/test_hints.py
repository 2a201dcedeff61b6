"""UI hints on config fields: the vocabulary, and every registered type using it right."""

from __future__ import annotations

import typing

import pytest

from workfuse.nodes.base import NodeSpec
from workfuse.nodes.hints import Widget, ui
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.schema import fields

WIDGETS = set(typing.get_args(Widget))
HINT_KEYS = set(ui(
    widget="text", label="l", placeholder="p", help="h", template=True, advanced=True,
    language="js", language_field="language", credential_type="any", unit="ms", rows=3,
    show_if={"a": ["b"]}, item_label="Row", user_default="ai.model",
)["ui"])  # fmt: skip


def test_ui_leaves_out_what_was_not_given_and_uses_json_names() -> None:
    assert ui() == {"ui": {}}
    assert ui(widget="code", language_field="language", advanced=False) == {
        "ui": {"widget": "code", "languageField": "language"}
    }
    assert "showIf" in HINT_KEYS and "userDefault" in HINT_KEYS


@pytest.mark.parametrize("spec", REGISTRY.specs(), ids=lambda spec: spec.type)
def test_every_hint_of_every_type_is_in_the_vocabulary(spec: NodeSpec) -> None:
    found = fields(spec.config_schema())
    siblings = {item.path for item in found}
    for item in found:
        assert set(item.hints) <= HINT_KEYS, f"{spec.type}.{item.path}: {item.hints}"
        assert item.hints.get("widget", "text") in WIDGETS
        # a field shown conditionally names siblings that exist
        parent = item.path.rpartition(".")[0]
        for other in item.hints.get("showIf", {}):
            assert f"{parent}.{other}".lstrip(".") in siblings, f"{spec.type}.{item.path}"
        language_field = item.hints.get("languageField")
        if language_field is not None:
            assert f"{parent}.{language_field}".lstrip(".") in siblings


@pytest.mark.parametrize("spec", REGISTRY.specs(), ids=lambda spec: spec.type)
def test_credential_widgets_are_exactly_the_declared_credential_fields(spec: NodeSpec) -> None:
    pickers = {
        item.path.replace("[]", "")
        for item in fields(spec.config_schema())
        if item.hints.get("widget") == "credential"
    }

    assert pickers == {use.path for use in spec.credentials}
