"""Which key goes where (workfuse.ai.providers.resolve_endpoint): the operator's API keys
only ever reach the operator's endpoint. Real servers on 127.0.0.1 play the operator's
endpoint and a user-chosen ("attacker") base URL; every request either one receives is
recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_server import LocalServer, Request, Response, serve
from tests.support.openai_server import ROUTES as OPENAI_ROUTES
from workfuse.ai.providers import (
    CredentialRequired,
    ProviderNotConfigured,
    normalise_url,
    resolve_endpoint,
)
from workfuse.nodes.ai import AINodeConfig, execute
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.settings import Settings, get_settings

OPERATOR_KEY = "sk-operator-canary-61f0"
USER_KEY = "sk-user-key-2b7d"


def _anthropic_message(request: Request) -> Response:
    return Response.json(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": request.json()["model"],
            "content": [{"type": "text", "text": "hello from claude"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }
    )


ROUTES = {**OPENAI_ROUTES, "POST /v1/messages": _anthropic_message}


@pytest.fixture
def operator(allow_loopback: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """The operator's endpoint, configured with the operator's keys for every provider."""
    with serve(dict(ROUTES)) as server:
        for prefix, url in (
            ("OPENAI", f"{server.url}/v1"),
            ("ANTHROPIC", server.url),
            ("GEMINI", server.url),
        ):
            monkeypatch.setenv(f"WORKFUSE_{prefix}_API_KEY", OPERATOR_KEY)
            monkeypatch.setenv(f"WORKFUSE_{prefix}_BASE_URL", url)
        get_settings.cache_clear()
        yield server


@pytest.fixture
def attacker(allow_loopback: None) -> Iterator[LocalServer]:
    """A server at a base URL a user typed into a node."""
    with serve(dict(ROUTES)) as server:
        yield server


def run(secrets: dict[str, str] | None = None, **config: Any) -> Any:
    node = AINodeConfig.model_validate({"model": "echo", "prompt": "hi", **config})
    context = NodeContext(execution_id="e1", node_id="ask", secrets=secrets or {})
    return asyncio.run(execute(node, context))


def failure(**config: Any) -> ExecutionError:
    with pytest.raises(ExecutionError) as caught:
        run(**config)
    return caught.value


def _seen(server: LocalServer) -> str:
    return str([request.headers for request in server.requests])


@pytest.mark.parametrize(
    ("provider", "path"), [("openai", "/v1"), ("anthropic", ""), ("gemini", "")]
)
def test_the_operator_key_never_goes_to_a_base_url_the_user_chose(
    operator: LocalServer, attacker: LocalServer, provider: str, path: str
) -> None:
    # Given the operator's key and endpoint, and a node with no credential whose
    # baseUrl is another server
    # When it runs
    error = failure(provider=provider, baseUrl=f"{attacker.url}{path}")

    # Then it is refused, saying what to do, and no request went anywhere
    assert error.code == "AI_CREDENTIAL_REQUIRED" and not error.retryable
    assert "credential" in error.message and "baseUrl" in error.message
    assert f"WORKFUSE_{provider.upper()}_API_KEY" in error.message
    assert OPERATOR_KEY not in error.message
    assert attacker.requests == [] and operator.requests == []


def test_an_openai_compatible_server_of_the_users_is_called_without_any_key(
    operator: LocalServer, attacker: LocalServer
) -> None:
    # Given an OpenAI-compatible node without a credential at the user's own server
    output = run(provider="openai-compatible", baseUrl=f"{attacker.url}/v1")

    # Then it is called (local models need no key), without the operator's key
    assert output.response == "You said: hi"
    assert attacker.requests[-1].headers["authorization"] == "Bearer not-needed"
    assert OPERATOR_KEY not in _seen(attacker)
    assert operator.requests == []


def test_a_server_that_wants_a_key_says_the_node_needs_a_credential(
    operator: LocalServer, attacker: LocalServer
) -> None:
    error = failure(provider="openai-compatible", baseUrl=f"{attacker.url}/v1", model="bad-key")
    assert error.code == "AI_AUTHENTICATION" or "401" in error.message
    assert "no credential" in error.message
    assert OPERATOR_KEY not in _seen(attacker)


@pytest.mark.parametrize("provider", ["openai", "openai-compatible"])
def test_the_operator_key_still_goes_to_the_operators_endpoint(
    operator: LocalServer, provider: str
) -> None:
    # Given a node without a credential whose baseUrl is the operator's endpoint,
    # spelled differently (trailing slash), or none at all
    base_urls = [f"{operator.url}/v1/"] + ([None] if provider == "openai" else [])
    for base_url in base_urls:
        output = run(provider=provider, baseUrl=base_url)

        # Then the operator's key goes there
        assert output.response == "You said: hi"
        assert operator.requests[-1].headers["authorization"] == f"Bearer {OPERATOR_KEY}"
    assert len(operator.requests) == len(base_urls)


@pytest.mark.parametrize("base_url", [None, "{url}/"])
def test_the_anthropic_operator_key_goes_to_the_operators_endpoint(
    operator: LocalServer, base_url: str | None
) -> None:
    config = {"baseUrl": base_url.format(url=operator.url)} if base_url else {}
    output = run(provider="anthropic", model="claude-test", **config)
    assert output.response == "hello from claude"
    assert operator.requests[-1].headers["authorization"] == f"Bearer {OPERATOR_KEY}"


@pytest.mark.parametrize(("provider", "path"), [("openai", "/v1"), ("openai-compatible", "/v1")])
def test_a_users_credential_goes_to_the_users_base_url(
    operator: LocalServer, attacker: LocalServer, provider: str, path: str
) -> None:
    # Given a node with the user's own credential and their own base URL
    output = run(
        secrets={"arn:mine": USER_KEY},
        provider=provider,
        baseUrl=f"{attacker.url}{path}",
        secretArn="arn:mine",
    )

    # Then the user's key goes there, and the operator's goes nowhere
    assert output.response == "You said: hi"
    assert attacker.requests[-1].headers["authorization"] == f"Bearer {USER_KEY}"
    assert OPERATOR_KEY not in _seen(attacker) and operator.requests == []


def test_an_operator_endpoint_that_redirects_elsewhere_does_not_pass_the_key_on(
    operator: LocalServer, attacker: LocalServer
) -> None:
    # Given the operator's Anthropic endpoint redirects (307) to another server
    operator.routes["POST /v1/messages"] = lambda _request: Response(
        307, b"", {"Location": f"{attacker.url}/v1/messages"}
    )

    # When a node without a credential uses the operator's endpoint
    output = run(provider="anthropic", model="claude-test")

    # Then the call is answered by the other server, which never saw the key
    assert output.response == "hello from claude"
    assert operator.requests[-1].headers["authorization"] == f"Bearer {OPERATOR_KEY}"
    assert attacker.requests and OPERATOR_KEY not in _seen(attacker)


@pytest.mark.parametrize(
    ("provider", "path"), [("openai-compatible", "/v1"), ("anthropic", ""), ("gemini", "")]
)
def test_every_provider_goes_through_the_egress_guard(provider: str, path: str) -> None:
    # Given a server on loopback, which is not allowlisted, and the user's credential
    with serve(ROUTES) as server:
        error = failure(
            provider=provider,
            baseUrl=f"{server.url}{path}",
            secretArn="arn:mine",
            secrets={"arn:mine": USER_KEY},
        )
        # Then the call is refused before any connection
        assert error.code == "AI_EGRESS_DENIED", error.message
        assert server.requests == []


# --- the rule, without the network --------------------------------------------------


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


def test_without_a_base_url_setting_the_official_endpoint_is_the_operators() -> None:
    config = settings(openai_api_key=OPERATOR_KEY)
    for spelled in (None, "https://api.openai.com/v1", "HTTPS://API.OpenAI.com:443/v1/"):
        endpoint = resolve_endpoint("openai", api_key=None, base_url=spelled, settings=config)
        assert endpoint.api_key == OPERATOR_KEY and endpoint.operator_key
    for elsewhere in (
        "http://api.openai.com/v1",  # another scheme
        "https://api.openai.com:8443/v1",  # another port
        "https://api.openai.com.evil.test/v1",
        "https://user@api.openai.com/v1",
        "https://api.openai.com/v2",
        "not a url",
    ):
        with pytest.raises(CredentialRequired):
            resolve_endpoint("openai", api_key=None, base_url=elsewhere, settings=config)
    official = resolve_endpoint(
        "anthropic", api_key=None, base_url=None, settings=settings(anthropic_api_key=OPERATOR_KEY)
    )
    assert official.base_url == "https://api.anthropic.com"
    assert OPERATOR_KEY not in repr(official)


def test_a_users_key_goes_where_the_user_says() -> None:
    config = settings(openai_api_key=OPERATOR_KEY, openai_base_url="https://gw.corp/v1")
    mine = resolve_endpoint(
        "openai", api_key=USER_KEY, base_url="https://x.test/v1", settings=config
    )
    assert (mine.base_url, mine.api_key, mine.operator_key) == (
        "https://x.test/v1",
        USER_KEY,
        False,
    )
    default = resolve_endpoint("openai", api_key=USER_KEY, base_url=None, settings=config)
    assert default.base_url == "https://gw.corp/v1"


def test_nothing_configured_says_how_to_configure_it() -> None:
    with pytest.raises(ProviderNotConfigured, match="WORKFUSE_GEMINI_API_KEY"):
        resolve_endpoint("gemini", api_key=None, base_url=None, settings=settings())
    with pytest.raises(ProviderNotConfigured, match="needs a base URL"):
        resolve_endpoint("openai-compatible", api_key=None, base_url="", settings=settings())


def test_normalised_urls() -> None:
    assert normalise_url("HTTPS://Api.Example.com:443/v1/") == "https://api.example.com/v1"
    assert normalise_url("http://127.0.0.1:80") == "http://127.0.0.1"
    assert normalise_url("http://[::1]:8080/v1") == "http://[::1]:8080/v1"
    assert normalise_url("https://a.test/v1?x=1") != normalise_url("https://a.test/v1")
    assert normalise_url("https://k@a.test/v1") != normalise_url("https://a.test/v1")
