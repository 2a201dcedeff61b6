"""``POST /api/ai/test-prompt``: an AI node config run once with sample data, against
a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.local_server import LocalServer, serve
from tests.support.openai_server import ROUTES
from workfuse.api.routes.ai import AI_LIMIT
from workfuse.settings import get_settings

API_KEY = "sk-canary-0a9b8c7d"


@pytest.fixture
def openai_server(allow_loopback: None) -> Iterator[LocalServer]:
    with serve(ROUTES) as server:
        yield server


def _config(server: LocalServer, arn: str, **overrides: Any) -> dict[str, Any]:
    return {
        "provider": "openai-compatible",
        "baseUrl": f"{server.url}/v1",
        "model": "echo",
        "prompt": "Hello {{ trigger.data.name }}",
        "secretArn": arn,
    } | overrides


@pytest.fixture
def key_arn(ada: httpx.Client) -> str:
    created = ada.post("/api/secrets", json={"name": "LLM key", "value": API_KEY})
    assert created.status_code == 201
    arn: str = created.json()["arn"]
    return arn


def test_a_prompt_runs_with_sample_data_and_the_users_credential(
    ada: httpx.Client, openai_server: LocalServer, key_arn: str
) -> None:
    # When: the editor tests a prompt with a sample trigger payload
    response = ada.post(
        "/api/ai/test-prompt",
        json={
            "config": _config(openai_server, key_arn),
            "sample": {"trigger": {"data": {"name": "Ada"}}},
        },
    )

    # Then: the model's answer with usage; the key went to the provider, not to the page
    assert response.status_code == 200, response.text
    body = response.json()
    assert "Hello Ada" in body["response"]
    assert body["usage"]["totalTokens"] > 0
    assert openai_server.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in response.text


def test_another_users_credential_is_not_available(
    ada: httpx.Client, grace: httpx.Client, openai_server: LocalServer, key_arn: str
) -> None:
    config = _config(openai_server, key_arn, prompt="Hello")
    response = grace.post("/api/ai/test-prompt", json={"config": config})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "CREDENTIAL_MISSING"
    assert openai_server.requests == []


def test_a_provider_error_is_a_clear_failure_with_its_code(
    ada: httpx.Client, openai_server: LocalServer, key_arn: str
) -> None:
    config = _config(openai_server, key_arn, model="bad-key", prompt="Hello")
    response = ada.post("/api/ai/test-prompt", json={"config": config})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"].startswith("AI_")
    assert API_KEY not in response.text


def test_an_unconfigured_provider_says_how_to_configure_it(ada: httpx.Client) -> None:
    response = ada.post(
        "/api/ai/test-prompt",
        json={"config": {"provider": "anthropic", "model": "claude-haiku", "prompt": "Hi"}},
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "AI_NOT_CONFIGURED"
    assert "WORKFUSE_ANTHROPIC_API_KEY" in error["message"]


def test_ai_calls_are_rate_limited_per_user(
    ada: httpx.Client, grace: httpx.Client, openai_server: LocalServer, key_arn: str
) -> None:
    payload = {"config": _config(openai_server, key_arn, prompt="Hello")}
    for _ in range(AI_LIMIT.count):
        assert ada.post("/api/ai/test-prompt", json=payload).status_code == 200

    limited = ada.post("/api/ai/test-prompt", json=payload)

    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    # Another user is not affected by Ada's count
    other = grace.post(
        "/api/ai/test-prompt",
        json={"config": {"provider": "anthropic", "model": "m", "prompt": "p"}},
    )
    assert other.status_code == 422


OPERATOR_KEY = "sk-operator-canary-3e9a"


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_the_operators_key_never_goes_to_a_base_url_of_the_users(
    ada: httpx.Client, allow_loopback: None, monkeypatch: pytest.MonkeyPatch, provider: str
) -> None:
    # Given the operator's key and endpoint for the provider, and another server
    with serve(dict(ROUTES)) as operator, serve(dict(ROUTES)) as attacker:
        prefix = f"WORKFUSE_{provider.upper()}"
        monkeypatch.setenv(f"{prefix}_API_KEY", OPERATOR_KEY)
        monkeypatch.setenv(f"{prefix}_BASE_URL", f"{operator.url}/v1")
        get_settings.cache_clear()
        config = {"provider": provider, "model": "echo", "prompt": "Hi"}

        # When a prompt without a credential is tested against the other server
        refused = ada.post(
            "/api/ai/test-prompt", json={"config": {**config, "baseUrl": f"{attacker.url}/v1"}}
        )

        # Then 422 saying what to do, and the other server heard nothing
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "AI_CREDENTIAL_REQUIRED"
        assert "credential" in error["message"] and "baseUrl" in error["message"]
        assert attacker.requests == []
        assert OPERATOR_KEY not in refused.text

        # And the operator's endpoint still gets the operator's key
        if provider == "openai":
            answered = ada.post("/api/ai/test-prompt", json={"config": config})
            assert answered.status_code == 200, answered.text
            assert operator.requests[-1].headers["authorization"] == f"Bearer {OPERATOR_KEY}"
