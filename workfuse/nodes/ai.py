"""AI: prompts a language model; the seed's ``AINodeConfig`` and ``AINodeOutput``.

Runs through pydantic-ai (:mod:`workfuse.ai.providers`). With ``stream`` on and a
token sink in the context, text is forwarded as it arrives. Provider failures map to
retryable (rate limits, overload, server errors, timeouts, connection errors) or
non-retryable (authentication, unknown model, rejected request, quota) errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator

from workfuse import net
from workfuse.ai import providers
from workfuse.ai.providers import AIProvider
from workfuse.nodes.base import (
    CredentialUse,
    NodeConfigModel,
    NodeExample,
    NodeOutputModel,
    NodeSpec,
)
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.hints import ui

if TYPE_CHECKING:  # pydantic-ai takes about 1.4 s to import: only when a node runs
    from pydantic_ai.messages import ModelResponse
    from pydantic_ai.settings import ModelSettings

MAX_PROMPT_LENGTH = 200_000  #: characters
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class AINodeConfig(NodeConfigModel):
    provider: AIProvider = Field(default="openai", json_schema_extra=ui(user_default="ai.provider"))
    model: str = Field(
        min_length=1,
        max_length=200,
        json_schema_extra=ui(placeholder="gpt-4o-mini", user_default="ai.model"),
    )
    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_LENGTH,
        description="Templates pull in earlier outputs.",
        json_schema_extra=ui(widget="multiline", template=True, rows=6),
    )
    system_prompt: str | None = Field(
        default=None,
        max_length=MAX_PROMPT_LENGTH,
        json_schema_extra=ui(widget="multiline", template=True, rows=3),
    )
    temperature: float | None = Field(
        default=None, ge=0, le=2, json_schema_extra=ui(placeholder="0 to 2", advanced=True)
    )
    max_tokens: int | None = Field(
        default=None, ge=1, le=1_000_000, json_schema_extra=ui(advanced=True)
    )
    stream: bool = Field(
        default=False, json_schema_extra=ui(label="Stream the response", advanced=True)
    )
    secret_arn: str | None = Field(
        default=None,
        max_length=2048,
        description="Credential with the provider's API key.",
        json_schema_extra=ui(widget="credential", label="API key credential (optional)"),
    )
    base_url: str | None = Field(
        default=None,
        max_length=2048,
        description="Endpoint of an OpenAI-compatible server or of the provider's API; "
        "the operator's API key only goes to the operator's endpoint.",
        json_schema_extra=ui(
            label="Base URL", placeholder="http://localhost:11434/v1", advanced=True
        ),
    )

    @model_validator(mode="after")
    def _compatible_needs_base_url(self) -> AINodeConfig:
        if self.provider == "openai-compatible" and not self.base_url:
            raise ValueError("the openai-compatible provider needs baseUrl")
        return self


class AIUsage(NodeOutputModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AINodeOutput(NodeOutputModel):
    response: str
    usage: AIUsage
    model: str
    finish_reason: str


def _model_settings(config: AINodeConfig) -> ModelSettings:
    from pydantic_ai.settings import ModelSettings

    settings = ModelSettings()
    if config.temperature is not None:
        settings["temperature"] = config.temperature
    if config.max_tokens is not None:
        settings["max_tokens"] = config.max_tokens
    return settings


def _output(
    config: AINodeConfig, text: str, response: ModelResponse | None, usage: Any
) -> AINodeOutput:
    prompt_tokens = int(getattr(usage, "input_tokens", 0) or 0)
    completion_tokens = int(getattr(usage, "output_tokens", 0) or 0)
    return AINodeOutput(
        response=text,
        usage=AIUsage(
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
        ),
        model=(response.model_name if response and response.model_name else config.model),
        finish_reason=(
            str(response.finish_reason) if response and response.finish_reason else "stop"
        ),
    )


async def generate(config: AINodeConfig, context: NodeContext) -> AINodeOutput:
    """One model call for the (already templated) config."""
    from pydantic_ai import Agent

    api_key = context.secret(config.secret_arn) if config.secret_arn else None
    model = providers.build_model(
        provider=config.provider, model=config.model, api_key=api_key, base_url=config.base_url
    )
    agent: Agent[None, str] = Agent(model, instructions=config.system_prompt or None)
    settings = _model_settings(config)
    if config.stream and context.on_token is not None:
        async with agent.run_stream(config.prompt, model_settings=settings) as result:
            async for delta in result.stream_text(delta=True, debounce_by=None):
                await context.on_token(delta)
            text = await result.get_output()
            return _output(config, text, result.response, result.usage)
    run = await agent.run(config.prompt, model_settings=settings)
    return _output(config, run.output, run.response, run.usage)


def _egress_refusal(error: BaseException) -> net.EgressDenied | None:
    """The egress guard's refusal behind ``error`` (its cause or context), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, net.EgressDenied):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


async def execute(config: AINodeConfig, context: NodeContext) -> AINodeOutput:
    from pydantic_ai import exceptions as ai_errors

    retryable_errors = (
        ai_errors.ModelRateLimitError,
        ai_errors.ModelUnavailableError,
        ai_errors.ModelServerError,
        ai_errors.ModelConnectionError,
        ai_errors.ModelRequestTimeout,
    )
    where = f"{config.provider} model {config.model!r}"
    try:
        return await generate(config, context)
    except providers.ProviderNotConfigured as error:  # and CredentialRequired
        raise ExecutionError(str(error), code=error.code) from None
    except net.InvalidURL as error:  # a kind of EgressDenied: before it
        raise ExecutionError(f"{where}: {error}", code="AI_INVALID_URL") from None
    except net.EgressDenied as error:
        raise ExecutionError(f"{where}: {error}", code="AI_EGRESS_DENIED") from None
    except ai_errors.ModelAPIError as error:
        refused = _egress_refusal(error)  # the Anthropic SDK wraps it as a connection error
        if refused is not None:
            raise ExecutionError(f"{where}: {refused}", code="AI_EGRESS_DENIED") from None
        status = getattr(error, "status_code", None)
        hint = ""
        if status == 401 and not config.secret_arn:
            hint = " (the node has no credential: choose one with this server's API key)"
        raise ExecutionError(
            f"{where} failed{f' ({status})' if status else ''}: {error.message}{hint}",
            code=f"AI_{type(error).__name__.removeprefix('Model').removesuffix('Error').upper()}",
            retryable=isinstance(error, retryable_errors) or status in RETRYABLE_STATUSES,
            retry_after=error.retry_after,
        ) from None
    except ai_errors.UnexpectedModelBehavior as error:
        raise ExecutionError(
            f"{where} answered unexpectedly: {error.message}", code="AI_UNEXPECTED"
        ) from None


DOCS = """\
Sends `prompt` (and `systemPrompt`) to a language model and passes on `response` (the
text), `usage` (`promptTokens`, `completionTokens`, `totalTokens`), `model` and
`finishReason`. Providers: `openai`, `anthropic`, `gemini`, and `openai-compatible`
(any server that speaks the OpenAI API, such as a local Ollama or vLLM, at `baseUrl`).

The API key comes from the node's credential (`secretArn`), else from the operator's
settings (`WORKFUSE_OPENAI_API_KEY` and friends); the operator's key is only sent to
the operator's endpoint, never to a `baseUrl` a user typed. With `stream` on, the
editor shows the answer as it arrives. Rate limits, overload, server errors and
timeouts are retryable; authentication errors, unknown models and rejected requests
are not.
"""

SPEC = NodeSpec(
    type="ai",
    label="AI",
    icon="sparkles",
    colour="#db2777",
    category="ai",
    description="Ask OpenAI, Anthropic, Gemini or a local model and use the answer.",
    docs=DOCS,
    config_model=AINodeConfig,
    output_model=AINodeOutput,
    execute=execute,
    template_fields=("prompt", "systemPrompt"),
    credentials=(CredentialUse("secretArn"),),
    side_effects=True,
    default_config={"provider": "openai", "model": "gpt-4o-mini", "prompt": "Summarise: "},
    examples=(
        NodeExample(
            request="Summarise the ticket text from the trigger in two sentences with gpt-4o-mini.",
            label="Summarise ticket",
            config={
                "provider": "openai",
                "model": "gpt-4o-mini",
                "prompt": "Summarise this support ticket in two sentences:\n\n"
                "{{ trigger.data.body }}",
                "temperature": 0.2,
            },
        ),
        NodeExample(
            request="Classify the email from the extract node as spam or not, answer one "
            "word, using Claude.",
            label="Spam check",
            config={
                "provider": "anthropic",
                "model": "claude-3-5-haiku-latest",
                "systemPrompt": "Answer with exactly one word: spam or ham.",
                "prompt": "{{ nodes.extract.result.email }}",
                "maxTokens": 5,
            },
        ),
    ),
)
