"""``POST /api/ai/generate-config`` (magic input) against a scripted model served over
real HTTP on 127.0.0.1, through pydantic-ai's real OpenAI and Anthropic clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.support.local_server import Response, serve
from tests.support.magic_llm import Script, Slow, prompt_text, routes
from workfuse.settings import get_settings

CANARY = "sk-canary-magic-5e6f"

VALID_HTTP = {
    "label": "Fetch order",
    "config": {"method": "GET", "url": "https://shop.test/orders/{{ trigger.data.orderId }}"},
    "reasoning": "The order id comes from the trigger.",
    "confidence": 0.9,
}
BROKEN_TEMPLATE = {
    "label": "Fetch order",
    "config": {"method": "GET", "url": "https://shop.test/orders/{{ nodes.missing.id }}"},
    "reasoning": "guess",
    "confidence": 0.99,
}


@contextmanager
def scripted(script: Script) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    handlers, calls = routes(script)
    with serve(handlers) as server:
        yield server.url, calls


def _request(base_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "prompt": "Fetch the order whose id the webhook sends",
        "nodeType": "http",
        "provider": "openai-compatible",
        "model": "scripted",
        "baseUrl": f"{base_url}/v1",
        "context": {"triggerSample": {"orderId": "A-1"}},
    } | overrides


def test_a_valid_answer_becomes_the_config(ada: httpx.Client, allow_loopback: None) -> None:
    with scripted([VALID_HTTP]) as (url, calls):
        response = ada.post("/api/ai/generate-config", json=_request(url))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["config"] == {"label": "Fetch order", "config": VALID_HTTP["config"]}
    assert body["attempts"] == 1
    assert body["confidence"] == 0.9
    assert body["reasoning"] == "The order id comes from the trigger."
    assert body["usage"] == {"promptTokens": 120, "completionTokens": 40, "totalTokens": 160}
    # The model was shown the node's schema and the trigger sample
    shown = prompt_text(calls[0])
    assert "samplePayload" not in shown  # the http schema, not the trigger's
    assert "headers" in shown and "A-1" in shown


def test_an_invalid_answer_is_sent_back_and_the_second_is_used(
    ada: httpx.Client, allow_loopback: None
) -> None:
    with scripted([BROKEN_TEMPLATE, VALID_HTTP]) as (url, calls):
        response = ada.post("/api/ai/generate-config", json=_request(url))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attempts"] == 2
    assert body["confidence"] == 0.75  # capped: it took a retry
    assert len(calls) == 2
    assert "missing" in prompt_text(calls[1])  # the problem went back as feedback


def test_never_valid_ends_with_the_last_problems_and_no_config(
    ada: httpx.Client, allow_loopback: None
) -> None:
    with scripted([BROKEN_TEMPLATE]) as (url, calls):
        response = ada.post("/api/ai/generate-config", json=_request(url))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "MAGIC_INPUT_FAILED"
    assert "after 3 answer" in error["message"]
    assert any("missing" in detail["message"] for detail in error["details"])
    assert len(calls) == 3


def test_an_answer_that_ignores_the_schema_is_retried(
    ada: httpx.Client, allow_loopback: None
) -> None:
    wrong_shape = {"label": "x", "config": {"method": "FETCH", "url": ""}}
    with scripted([wrong_shape, VALID_HTTP]) as (url, calls):
        response = ada.post("/api/ai/generate-config", json=_request(url))

    assert response.status_code == 200, response.text
    assert response.json()["attempts"] == 2
    assert "method" in prompt_text(calls[1])


def test_a_provider_error_is_a_clear_422(ada: httpx.Client, allow_loopback: None) -> None:
    failure = Response.json({"error": {"message": "server exploded", "type": "server"}}, 500)
    with scripted([failure]) as (url, _calls):
        response = ada.post("/api/ai/generate-config", json=_request(url))

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "AI_PROVIDER_ERROR"
    assert "server exploded" in error["message"]


def test_a_slow_model_is_waited_for(ada: httpx.Client, allow_loopback: None) -> None:
    with scripted([Slow(1.0, VALID_HTTP)]) as (url, _calls):
        response = ada.post("/api/ai/generate-config", json=_request(url), timeout=30)

    assert response.status_code == 200, response.text


def test_an_unconfigured_provider_says_how_to_configure_it(ada: httpx.Client) -> None:
    response = ada.post(
        "/api/ai/generate-config",
        json={"prompt": "anything", "nodeType": "transform", "provider": "anthropic"},
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "AI_NOT_CONFIGURED"
    assert "WORKFUSE_ANTHROPIC_API_KEY" in error["message"]


def test_the_anthropic_api_works_too(ada: httpx.Client, allow_loopback: None) -> None:
    key = ada.post("/api/secrets", json={"name": "Claude", "value": CANARY}).json()
    transform = {
        "label": "Double",
        "config": {"language": "jsonata", "code": "trigger.data.n * 2"},
        "reasoning": "JSONata arithmetic.",
        "confidence": 0.8,
    }
    with scripted([transform]) as (url, _calls):
        response = ada.post(
            "/api/ai/generate-config",
            json=_request(
                url,
                nodeType="transform",
                provider="anthropic",
                model="claude-scripted",
                baseUrl=url,
                secretArn=key["arn"],
                prompt="double n",
            ),
        )

    assert response.status_code == 200, response.text
    assert response.json()["config"]["config"] == transform["config"]


def test_credentials_go_to_the_model_by_name_and_come_back_as_arns(
    ada: httpx.Client, allow_loopback: None
) -> None:
    stripe = ada.post("/api/secrets", json={"name": "Stripe", "value": CANARY}).json()
    answer = {
        "label": "Charge",
        "config": {
            "method": "POST",
            "url": "https://api.stripe.test/v1/charges",
            "auth": {"type": "bearer", "secretArn": "credential:Stripe"},
        },
        "reasoning": "Uses the Stripe credential.",
        "confidence": 0.9,
    }
    with scripted([answer]) as (url, calls):
        response = ada.post("/api/ai/generate-config", json=_request(url, prompt="charge it"))

    assert response.status_code == 200, response.text
    assert response.json()["config"]["config"]["auth"]["secretArn"] == stripe["arn"]
    shown = prompt_text(calls[0])
    assert '\\"Stripe\\"' in shown or '"Stripe"' in shown
    assert CANARY not in shown and stripe["arn"] not in shown


@pytest.mark.parametrize(
    ("node_type", "answer"),
    [
        (
            "trigger",
            {"label": "Order", "config": {"source": "webhook", "methods": ["POST"]}},
        ),
        (
            "condition",
            {
                "label": "Big?",
                "config": {
                    "conditions": [
                        {
                            "field": "{{ trigger.data.total }}",
                            "operator": "gt",
                            "value": 100,
                            "branch": "big",
                        }
                    ],
                    "defaultBranch": "small",
                },
            },
        ),
        (
            "ai",
            {
                "label": "Summarise",
                "config": {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Sum up"},
            },
        ),
    ],
)
def test_every_node_type_can_be_generated(
    ada: httpx.Client, allow_loopback: None, node_type: str, answer: dict[str, Any]
) -> None:
    with scripted([answer]) as (url, _calls):
        response = ada.post(
            "/api/ai/generate-config", json=_request(url, nodeType=node_type, prompt="do it")
        )

    assert response.status_code == 200, response.text
    assert response.json()["config"]["config"] == answer["config"]


def test_magic_input_shares_the_ai_rate_limit(ada: httpx.Client) -> None:
    """Each call counts against the user's AI budget, even one that fails fast."""
    from workfuse.api.routes.ai import AI_LIMIT

    unconfigured = {"prompt": "anything", "nodeType": "transform", "provider": "anthropic"}
    for _ in range(AI_LIMIT.count):
        assert ada.post("/api/ai/generate-config", json=unconfigured).status_code == 422

    limited = ada.post("/api/ai/generate-config", json=unconfigured)

    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "RATE_LIMITED"


def test_another_users_credential_is_refused(
    ada: httpx.Client, grace: httpx.Client, allow_loopback: None
) -> None:
    adas = ada.post("/api/secrets", json={"name": "Ada's key", "value": CANARY}).json()
    with scripted([VALID_HTTP]) as (url, calls):
        response = grace.post("/api/ai/generate-config", json=_request(url, secretArn=adas["arn"]))

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "CREDENTIAL_MISSING"
    assert calls == []  # nothing was sent to the model


def test_an_unknown_node_type_is_invalid_input(ada: httpx.Client) -> None:
    """Found by tests/fuzz: an unregistered ``nodeType`` was a 500 (UnknownNodeType)."""
    response = ada.post(
        "/api/ai/generate-config",
        json={"prompt": "anything", "nodeType": "no-such-type", "provider": "openai-compatible"},
    )

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "INVALID_INPUT"
    assert "unknown node type" in error["message"]
    assert "transform" in error["message"]


OPERATOR_KEY = "sk-operator-canary-77d2"


def test_the_operators_key_never_goes_to_a_base_url_of_the_users(
    ada: httpx.Client, allow_loopback: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the operator's OpenAI key and endpoint (a scripted model), and another server
    handlers, _calls = routes([VALID_HTTP])
    with serve(handlers) as operator:
        monkeypatch.setenv("WORKFUSE_OPENAI_API_KEY", OPERATOR_KEY)
        monkeypatch.setenv("WORKFUSE_OPENAI_BASE_URL", f"{operator.url}/v1")
        get_settings.cache_clear()
        with serve({}) as attacker:
            # When magic input without a credential is pointed at the other server
            refused = ada.post(
                "/api/ai/generate-config", json=_request(attacker.url, provider="openai")
            )

            # Then 422 saying what to do, and the other server heard nothing
            assert refused.status_code == 422, refused.text
            error = refused.json()["error"]
            assert error["code"] == "AI_CREDENTIAL_REQUIRED"
            assert "credential" in error["message"]
            assert attacker.requests == []

        # And the operator's endpoint (no baseUrl) still gets the operator's key
        answered = ada.post(
            "/api/ai/generate-config", json=_request(operator.url, provider="openai", baseUrl=None)
        )
        assert answered.status_code == 200, answered.text
        (call,) = operator.requests
        assert call.headers["authorization"] == f"Bearer {OPERATOR_KEY}"
