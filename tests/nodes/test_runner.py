"""Running nodes through the registry: templates, config checks, outputs (trigger, condition)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from workfuse.nodes.condition import SPEC as CONDITION
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.runner import resolve_templates, run_node

TRIGGER = {"source": "webhook", "data": {"priority": "high", "n": 4}, "headers": {"x-a": "1"}}


def run(node_type: str, config: dict[str, Any], **context: Any) -> dict[str, Any]:
    ctx = NodeContext(execution_id="e1", node_id="n1", trigger=TRIGGER, **context)
    return asyncio.run(run_node(node_type, config, ctx))


def test_every_registered_type_has_an_executor_and_output_model() -> None:
    for spec in REGISTRY.specs():
        assert callable(spec.execute), spec.type
        assert spec.output_model is not None, spec.type


def test_trigger_passes_the_payload_through() -> None:
    assert run("trigger", {"source": "webhook"}) == TRIGGER


def test_condition_fields_in_a_list_of_rules_are_templated() -> None:
    # Given rules whose fields are templates over the trigger and an earlier node
    config = {
        "conditions": [
            {"field": "{{ nodes.score.result }}", "operator": "gt", "value": 10, "branch": "big"},
            {
                "field": "{{ trigger.data.priority }}",
                "operator": "eq",
                "value": "high",
                "branch": "urgent",
            },
        ],
        "defaultBranch": "normal",
    }
    # When the condition runs, Then the second rule matches on the rendered values
    output = run("condition", config, nodes={"score": {"result": 3}})
    assert output == {"branch": "urgent", "matchedRule": 1}


def test_resolve_templates_leaves_the_stored_config_untouched() -> None:
    config = {
        "conditions": [{"field": "{{ trigger.n }}", "operator": "eq", "value": 1, "branch": "a"}]
    }
    resolved = resolve_templates(CONDITION, config, {"trigger": {"n": 1}, "nodes": {}, "env": {}})
    assert resolved["conditions"][0]["field"] == 1
    assert config["conditions"][0]["field"] == "{{ trigger.n }}"


def test_an_undefined_reference_is_a_template_error() -> None:
    config = {
        "conditions": [
            {"field": "{{ nodes.ghost.value }}", "operator": "eq", "value": 1, "branch": "a"}
        ]
    }
    with pytest.raises(ExecutionError) as caught:
        run("condition", config)
    assert caught.value.code == "TEMPLATE_ERROR"
    assert "conditions.field" in caught.value.message
    assert not caught.value.retryable


def test_a_config_that_breaks_after_templating_is_reported() -> None:
    with pytest.raises(ExecutionError) as caught:
        run("http", {"method": "GET", "url": "{{ trigger.data.missing_url | default('') }}"})
    assert caught.value.code == "CONFIG_INVALID"
    assert "url" in caught.value.message


def test_a_template_error_keeps_its_line_for_the_person_reading_the_run() -> None:
    # Given: a prompt whose second line refers to a missing key
    config = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "prompt": "Hello\n{{ trigger.data.missing.deeper }}",
    }

    # When: it runs
    with pytest.raises(ExecutionError) as caught:
        run("ai", config)

    # Then: the error says which field and which line
    assert caught.value.code == "TEMPLATE_ERROR"
    assert "config.prompt: line 2" in caught.value.message
