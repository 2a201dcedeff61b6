"""The node reference generated from the registry: docs/nodes.md and `workfuse nodes`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workfuse.nodes.base import NodeSpec
from workfuse.nodes.reference import describe, markdown
from workfuse.nodes.registry import BUILT_IN, REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "nodes.md"


def test_the_committed_reference_is_what_the_registry_generates() -> None:
    # Given the built-in node types
    # When their reference is generated
    generated = markdown(BUILT_IN)

    # Then docs/nodes.md is exactly that (regenerate: workfuse nodes docs > docs/nodes.md)
    assert DOCS.read_text(encoding="utf-8") == generated, (
        "docs/nodes.md is out of date: run `workfuse nodes docs > docs/nodes.md`"
    )


@pytest.mark.parametrize("spec", REGISTRY.specs(), ids=lambda spec: spec.type)
def test_each_section_has_every_field_output_and_example(spec: NodeSpec) -> None:
    section = markdown([spec]).split(f'<a id="{spec.type}"></a>', 1)[1]

    assert f"## {spec.label} (`{spec.type}`)" in section
    for name in spec.config_schema()["properties"]:
        assert f"| `{name}` |" in section
    for name in spec.output_schema()["properties"]:
        assert f"| `{name}` |" in section
    for example in spec.examples:
        assert f"> {example.request}" in section
        assert json.dumps(example.node(), indent=2, ensure_ascii=False) in section
    for use in spec.credentials:
        assert f"`{use.path}`" in section


@pytest.mark.parametrize("spec", REGISTRY.specs(), ids=lambda spec: spec.type)
def test_describe_is_json_with_both_schemas(spec: NodeSpec) -> None:
    described = json.loads(json.dumps(describe(spec)))

    assert described["type"] == spec.type and described["version"] == spec.version
    assert described["configSchema"] == spec.config_schema()
    assert described["outputSchema"] == spec.output_schema()
    assert described["sideEffects"] is spec.side_effects
    assert described["docsLink"] == f"docs/nodes.md#{spec.type}"
    assert len(described["examples"]) == len(spec.examples) >= 2


def test_derived_outputs_are_described_as_such() -> None:
    condition = REGISTRY.get("condition")

    assert describe(condition)["outputs"] == "derived from the config"
    assert "one per branch, from the config" in markdown([condition])
    assert describe(REGISTRY.get("http"))["outputs"] == ["out"]
