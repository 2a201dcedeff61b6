"""The AI node against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic_ai.models.test import TestModel

from tests.support.local_server import LocalServer, serve
from tests.support.openai_server import ROUTES
from workfuse.ai import providers
from workfuse.nodes.ai import AINodeConfig, AINodeOutput, execute
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.runner import run_node
from workfuse.settings import get_settings

API_KEY = "sk-canary-4f1d2b9e"


@pytest.fixture
def openai_server(allow_loopback: None) -> Iterator[LocalServer]:
    with serve(ROUTES) as server:
        yield server


def config(server: LocalServer, **overrides: Any) -> AINodeConfig:
    fields = {
        "provider": "openai-compatible",
        "baseUrl": f"{server.url}/v1",
        "model": "echo",
        "prompt": "Hello Ada",
        "secretArn": "arn:key",
    } | overrides
    return AINodeConfig.model_validate(fields)


def context(**overrides: Any) -> NodeContext:
    return NodeContext(
        execution_id="exec1", node_id="ask", secrets={"arn:key": API_KEY}, **overrides
    )


def test_answer_usage_model_and_finish_reason(openai_server: LocalServer) -> None:
    # Given a node with a system prompt, When it runs against the local server
    output = asyncio.run(execute(config(openai_server, systemPrompt="Be brief."), context()))
    # Then the output has the seed's shape, with token usage
    assert output.response == "You said: Hello Ada"
    assert output.model == "echo"
    assert output.finish_reason == "stop"
    assert output.usage.prompt_tokens > 0 and output.usage.completion_tokens == 4
    assert output.usage.total_tokens == output.usage.prompt_tokens + output.usage.completion_tokens
    dumped = output.model_dump(by_alias=True)
    assert set(dumped) == {"response", "usage", "model", "finishReason"}
    assert set(dumped["usage"]) == {"promptTokens", "completionTokens", "totalTokens"}
    # And the request carried the credential and the system prompt
    request = openai_server.requests[-1]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json()["messages"][0] == {"role": "system", "content": "Be brief."}


def test_streaming_forwards_tokens_as_they_arrive(openai_server: LocalServer) -> None:
    tokens: list[str] = []

    async def sink(token: str) -> None:
        tokens.append(token)

    output = asyncio.run(
        execute(config(openai_server, stream=True, prompt="one two three"), context(on_token=sink))
    )
    assert len(tokens) > 3
    assert "".join(tokens) == output.response == "You said: one two three"
    assert openai_server.requests[-1].json()["stream"] is True


@pytest.mark.parametrize(
    ("model", "retryable", "retry_after"),
    [("rate-limited", True, 7.0), ("broken", True, None), ("bad-key", False, None)],
)
def test_provider_errors_map_to_retryable_or_not(
    openai_server: LocalServer, model: str, retryable: bool, retry_after: float | None
) -> None:
    with pytest.raises(ExecutionError) as caught:
        asyncio.run(execute(config(openai_server, model=model), context()))
    assert caught.value.retryable is retryable
    if retry_after is not None:
        assert caught.value.retry_after == retry_after
    assert API_KEY not in caught.value.message
    assert model in caught.value.message


def test_missing_api_key_says_how_to_configure() -> None:
    node = AINodeConfig(provider="openai", model="gpt-4o-mini", prompt="hi")
    with pytest.raises(ExecutionError) as caught:
        asyncio.run(execute(node, context()))
    assert caught.value.code == "AI_NOT_CONFIGURED"
    assert "WORKFUSE_OPENAI_API_KEY" in caught.value.message


def test_settings_default_key_is_used_when_the_node_has_no_credential(
    openai_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKFUSE_OPENAI_API_KEY", "sk-from-settings")
    monkeypatch.setenv("WORKFUSE_OPENAI_BASE_URL", f"{openai_server.url}/v1")
    get_settings.cache_clear()
    node = AINodeConfig(provider="openai", model="echo", prompt="hi")
    output = asyncio.run(execute(node, context()))
    assert output.response == "You said: hi"
    assert openai_server.requests[-1].headers["authorization"] == "Bearer sk-from-settings"


def test_local_model_endpoints_are_refused_unless_allowlisted() -> None:
    with serve(ROUTES) as server:
        with pytest.raises(ExecutionError) as caught:
            asyncio.run(execute(config(server), context()))
        assert caught.value.code == "AI_EGRESS_DENIED"
        assert server.requests == []


def test_prompt_templates_are_rendered_before_the_call(openai_server: LocalServer) -> None:
    raw = config(openai_server, prompt="Summarise: {{ trigger.data.subject }}").model_dump(
        by_alias=True
    )
    output = asyncio.run(
        run_node(
            "ai", raw, context(trigger={"source": "webhook", "data": {"subject": "Checkout down"}})
        )
    )
    assert output["response"] == "You said: Summarise: Checkout down"


def test_output_mapping_with_pydantic_ai_test_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the provider factory returns pydantic-ai's offline TestModel
    monkeypatch.setattr(providers, "build_model", lambda **_: TestModel(custom_output_text="ok"))
    node = AINodeConfig(provider="anthropic", model="claude-test", prompt="hi")
    # When the node runs, Then the answer and usage come from the model run
    output = asyncio.run(execute(node, context()))
    assert isinstance(output, AINodeOutput)
    assert output.response == "ok"
    assert output.usage.total_tokens == output.usage.prompt_tokens + output.usage.completion_tokens
    assert output.usage.total_tokens > 0
