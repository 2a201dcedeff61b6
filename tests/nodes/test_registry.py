"""The node registry: the five node types, looked up by name, each registered once."""

from __future__ import annotations

import dataclasses
import re

import pytest

from workfuse.nodes import ai, condition, http, transform, trigger
from workfuse.nodes.base import CATEGORIES, FALLBACK_COLOUR, NodeConfigModel, NodeSpec
from workfuse.nodes.registry import REGISTRY, NodeRegistry, UnknownNodeType

SEED_NODE_TYPES = ["trigger", "http", "transform", "condition", "ai"]


def test_the_five_seed_node_types_are_registered_in_order() -> None:
    # Given the application's registry
    # When its types are listed
    types = REGISTRY.types()

    # Then they are the seed's five, in the registry's declared order
    assert types == SEED_NODE_TYPES
    assert [spec.type for spec in REGISTRY.specs()] == SEED_NODE_TYPES


@pytest.mark.parametrize(
    ("node_type", "spec"),
    [
        ("trigger", trigger.SPEC),
        ("http", http.SPEC),
        ("transform", transform.SPEC),
        ("condition", condition.SPEC),
        ("ai", ai.SPEC),
    ],
)
def test_get_returns_the_modules_spec(node_type: str, spec: NodeSpec) -> None:
    # Given a registered type name
    # When it is looked up
    found = REGISTRY.get(node_type)

    # Then it is that module's spec, and the registry contains the name
    assert found is spec
    assert node_type in REGISTRY
    assert issubclass(found.config_model, NodeConfigModel)


@pytest.mark.parametrize("name", ["email", "HTTP", "", "trigger ", "condition\n"])
def test_an_unknown_type_raises_unknown_node_type(name: str) -> None:
    # Given a name nobody registered (case and whitespace matter)
    # When it is looked up
    with pytest.raises(UnknownNodeType) as caught:
        REGISTRY.get(name)

    # Then the error carries the name, and it is also a KeyError
    assert caught.value.args == (name,)
    assert isinstance(caught.value, KeyError)
    assert name not in REGISTRY


def test_contains_is_false_for_non_strings() -> None:
    # Given values that are not type names
    # When membership is asked
    # Then the answer is no, without an error
    assert 5 not in REGISTRY
    assert None not in REGISTRY


def test_registering_a_type_twice_fails_and_keeps_the_first() -> None:
    # Given a registry holding the http type
    registry = NodeRegistry([http.SPEC])
    impostor = dataclasses.replace(http.SPEC, label="Other HTTP")

    # When a second spec with the same type name is registered
    with pytest.raises(ValueError, match="'http' version 1 is registered twice"):
        registry.register(impostor)

    # Then the first registration stands
    assert registry.get("http") is http.SPEC
    assert registry.types() == ["http"]


def test_a_duplicate_in_the_constructor_list_fails() -> None:
    # Given a list naming the same spec twice
    # When a registry is built from it
    # Then it is refused
    with pytest.raises(ValueError, match="registered twice"):
        NodeRegistry([trigger.SPEC, ai.SPEC, trigger.SPEC])


def test_a_new_registry_is_independent_of_the_application_one() -> None:
    # Given an empty registry
    registry = NodeRegistry()

    # When a type is registered in it
    registry.register(transform.SPEC)

    # Then only it knows the type; the application registry is unchanged
    assert registry.types() == ["transform"]
    assert REGISTRY.types() == SEED_NODE_TYPES
    with pytest.raises(UnknownNodeType):
        NodeRegistry().get("transform")


def test_the_listed_specs_are_a_copy() -> None:
    # Given the registry's lists of specs and types
    specs = REGISTRY.specs()
    types = REGISTRY.types()

    # When the caller changes them
    specs.clear()
    types.append("email")

    # Then the registry is unchanged
    assert REGISTRY.types() == SEED_NODE_TYPES
    assert "email" not in REGISTRY


@pytest.mark.parametrize("node_type", SEED_NODE_TYPES)
def test_every_default_config_is_a_valid_config(node_type: str) -> None:
    # Given a node type's default config (what a new node starts with in the editor)
    spec = REGISTRY.get(node_type)

    # When it is validated against the type's config model
    config = spec.config_model.model_validate(spec.default_config)

    # Then it is accepted and dumps back to the same keys (camelCase)
    assert set(spec.default_config) <= set(config.model_dump())


def test_specs_describe_inputs_outputs_and_side_effects() -> None:
    # Given the five specs
    specs = {spec.type: spec for spec in REGISTRY.specs()}

    # When their metadata is read
    # Then the trigger takes no input, condition outputs come from its config,
    # and only http and ai have side effects
    assert specs["trigger"].inputs == 0
    assert all(specs[name].inputs == 1 for name in SEED_NODE_TYPES if name != "trigger")
    assert specs["condition"].handles_of is not None
    assert specs["condition"].outputs == ()
    assert {name for name, spec in specs.items() if spec.side_effects} == {"http", "ai"}
    assert all(spec.label and spec.icon and spec.description for spec in specs.values())


def test_specs_are_frozen() -> None:
    # Given a registered spec
    spec = REGISTRY.get("http")

    # When someone tries to change it
    # Then it refuses
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.label = "Changed"  # type: ignore[misc]


def test_versions_resolve_by_number_and_the_newest_is_the_default() -> None:
    # Given a registry with version 1 of http and a version 2 that behaves differently
    registry = NodeRegistry([http.SPEC])
    second = registry.register(dataclasses.replace(http.SPEC, version=2, label="HTTP v2"))

    # When it is asked with and without a version
    # Then a version gives that version, none gives the newest
    assert registry.get("http", 1) is http.SPEC
    assert registry.get("http", 2) is second
    assert registry.get("http") is second
    assert registry.specs() == [second]
    assert registry.versions("http") == [1, 2]
    # and a version nobody registered is unknown, like an unknown type
    with pytest.raises(UnknownNodeType):
        registry.get("http", 3)


def test_a_node_keeps_the_version_it_was_saved_with() -> None:
    # Given a registry whose newest http is version 2
    registry = NodeRegistry([trigger.SPEC, http.SPEC])
    newer = registry.register(dataclasses.replace(http.SPEC, version=2))

    # When new nodes are made, and stored nodes are read back
    fresh = newer.new_node("fetch")
    old = http.SPEC.new_node("old")

    # Then a new node says it is version 2; a version-1 node writes no version at all
    # (as every node saved before versions existed), which reads as 1
    assert fresh["typeVersion"] == 2
    assert "typeVersion" not in old
    assert registry.get(old["type"], old.get("typeVersion", 1)) is http.SPEC


def test_triggers_are_found_by_what_their_type_declares() -> None:
    # Given the application's registry
    # When its trigger types are asked for
    # Then only the trigger type is one, and it is what a new workflow starts with
    assert REGISTRY.trigger_types() == {"trigger"}
    assert REGISTRY.default_trigger() is trigger.SPEC
    nodes = [http.SPEC.new_node("a"), trigger.SPEC.new_node("start"), "junk"]
    assert REGISTRY.trigger_node(nodes) == nodes[1]
    assert REGISTRY.trigger_node([http.SPEC.new_node("a")]) is None


def test_unregister_forgets_a_version_or_the_whole_type() -> None:
    registry = NodeRegistry([http.SPEC])
    registry.register(dataclasses.replace(http.SPEC, version=2))

    registry.unregister("http", 2)
    assert registry.get("http") is http.SPEC

    registry.unregister("http", 1)
    assert "http" not in registry and registry.types() == []


@pytest.mark.parametrize("spec", REGISTRY.specs(), ids=lambda spec: spec.type)
def test_every_type_describes_itself_fully(spec: NodeSpec) -> None:
    # Given a registered type
    # Then it has what the palette, the docs and magic input need
    assert spec.category in CATEGORIES
    assert re.fullmatch(r"#[0-9a-f]{6}", spec.colour) and spec.colour != FALLBACK_COLOUR
    assert len(spec.docs) > 200
    assert len(spec.examples) >= 2
    assert spec.docs_link == f"docs/nodes.md#{spec.type}"
    # and every example is a config its model accepts (credential names stand in)
    for example in spec.examples:
        spec.config_model.model_validate(example.config)
