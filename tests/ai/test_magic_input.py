"""Magic input with pydantic-ai's function model: validation, feedback, confidence."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from workfuse.ai.magic_input import (
    MagicContext,
    MagicInputFailed,
    MagicInputRequest,
    check_proposal,
    confidence_of,
    generate_config,
    system_prompt,
    user_prompt,
)
from workfuse.nodes.base import NodeExample, NodeSpec
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.schema import fields


def scripted(answers: list[dict[str, Any]]) -> tuple[FunctionModel, list[list[ModelMessage]]]:
    """A model answering each call with the next proposal (the last one repeats)."""
    seen: list[list[ModelMessage]] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.append(messages)
        proposal = answers[min(len(seen), len(answers)) - 1]
        return ModelResponse(
            parts=[ToolCallPart(tool_name=info.output_tools[0].name, args=proposal)]
        )

    return FunctionModel(answer), seen


def request(node_type: str, **context: Any) -> MagicInputRequest:
    return MagicInputRequest(
        prompt="make it so", node_type=node_type, context=MagicContext.model_validate(context)
    )


@pytest.mark.parametrize(
    ("node_type", "example"),
    [(spec.type, example) for spec in REGISTRY.specs() for example in spec.examples],
)
def test_every_worked_example_is_a_valid_config(node_type: str, example: NodeExample) -> None:
    config = json.loads(
        json.dumps(example.config).replace("credential:", "arn:aws:secretsmanager:x:")
    )
    context = {
        "upstream": [{"id": id_, "type": "http"} for id_ in ("fetch", "summarise", "extract")]
    }
    assert (
        check_proposal(node_type, example.label, config, MagicContext.model_validate(context)) == []
    )


@pytest.mark.parametrize("spec", REGISTRY.specs(), ids=lambda spec: spec.type)
def test_every_node_type_has_its_examples_in_its_prompt(spec: NodeSpec) -> None:
    prompt = system_prompt(spec.type, ["Stripe"])

    assert len(spec.examples) >= 2
    assert spec.label in prompt and '"Stripe"' in prompt
    for example in spec.examples:
        assert example.request in prompt
        assert json.dumps(example.node()) in prompt


def test_a_valid_first_answer() -> None:
    model, seen = scripted(
        [{"label": "Double", "config": {"code": "trigger.data.n * 2"}, "confidence": 0.99}]
    )

    response = asyncio.run(generate_config(request("transform"), model, credentials={}))

    assert response.config == {"label": "Double", "config": {"code": "trigger.data.n * 2"}}
    assert response.attempts == 1 and len(seen) == 1
    assert response.confidence == 0.95  # never above the first-answer ceiling
    assert response.usage.total_tokens > 0


def test_problems_go_back_as_feedback_until_an_answer_is_valid() -> None:
    bad = {"label": "Fetch", "config": {"url": "https://x.test/{{ nodes.ghost.id }}"}}
    good = {"label": "Fetch", "config": {"url": "https://x.test/{{ nodes.up.id }}"}}
    model, seen = scripted([bad, good])
    progress: list[str] = []

    async def record(line: str) -> None:
        progress.append(line)

    response = asyncio.run(
        generate_config(
            request("http", upstream=[{"id": "up", "type": "http"}]),
            model,
            credentials={},
            on_progress=record,
        )
    )

    assert response.attempts == 2
    assert response.config["config"]["url"].endswith("{{ nodes.up.id }}")
    assert "ghost" in str(seen[1][-1])  # the second call saw the first answer's problem
    assert any("Answer 1 had problems" in line for line in progress)


def test_never_valid_raises_with_the_last_problems() -> None:
    model, seen = scripted([{"label": "Branch", "config": {"conditions": [{"field": "{{ x"}]}}])

    with pytest.raises(MagicInputFailed) as failure:
        asyncio.run(generate_config(request("condition"), model, credentials={}))

    assert failure.value.attempts == 3 and len(seen) == 3
    assert failure.value.problems


def test_credential_names_become_arns_and_unknown_names_are_problems() -> None:
    answer = {
        "label": "Charge",
        "config": {
            "method": "POST",
            "url": "https://pay.test/charges",
            "auth": {"type": "bearer", "secretArn": "credential:Stripe"},
        },
    }
    model, _ = scripted([answer])
    response = asyncio.run(
        generate_config(request("http"), model, credentials={"Stripe": "local:stripe-1"})
    )
    assert response.config["config"]["auth"]["secretArn"] == "local:stripe-1"

    model, _ = scripted([answer])
    with pytest.raises(MagicInputFailed) as failure:
        asyncio.run(generate_config(request("http"), model, credentials={"Other": "local:o"}))
    assert "no credential named 'Stripe'" in failure.value.problems[0]


@pytest.mark.parametrize(
    ("says", "attempts", "confidence"),
    [(0.9, 1, 0.9), (1.0, 1, 0.95), (1.0, 2, 0.75), (0.6, 2, 0.6), (1.0, 3, 0.55), (1.0, 9, 0.3)],
)
def test_confidence_reflects_attempts_not_only_the_models_say_so(
    says: float, attempts: int, confidence: float
) -> None:
    assert confidence_of(says, attempts) == confidence


def test_a_failure_reports_the_last_answers_problems_and_what_it_cost() -> None:
    ghost = {"label": "Fetch", "config": {"url": "https://x.test/{{ nodes.ghost.id }}"}}
    wrong_method = {"label": "Fetch", "config": {"method": "FETCH", "url": "https://x.test"}}
    model, _ = scripted([ghost, wrong_method, wrong_method])
    progress: list[str] = []

    async def record(line: str) -> None:
        progress.append(line)

    with pytest.raises(MagicInputFailed) as failure:
        asyncio.run(generate_config(request("http"), model, credentials={}, on_progress=record))

    problems = " ".join(failure.value.problems)
    assert "method" in problems and "ghost" not in problems
    assert failure.value.usage.total_tokens > 0
    assert "Checking answer 1…" in progress  # the ghost answer passed the schema


def test_earlier_nodes_are_described_by_their_declared_output_fields() -> None:
    # Given a request with two earlier nodes, one of a type this server does not know
    context = MagicContext.model_validate(
        {
            "upstream": [
                {"id": "fetch", "type": "http", "label": "Fetch", "sampleOutput": {"status": 200}},
                {"id": "old", "type": "gone", "label": "Old"},
            ]
        }
    )
    asked = MagicInputRequest(prompt="use them", node_type="transform", context=context)

    # When the user prompt is built
    prompt = user_prompt(asked)

    # Then each names the fields its output model declares (nested ones dotted)
    assert "- fetch (http, 'Fetch'): output fields status, headers, body, duration;" in prompt
    assert 'sample output {"status": 200}' in prompt
    assert "- old (gone, 'Old'): output fields unknown;" in prompt
    ai_fields = ", ".join(item.path for item in fields(REGISTRY.get("ai").output_schema()))
    assert "usage.totalTokens" in ai_fields
