"""Magic input: plain English to a validated node configuration (the seed's
``generateConfig`` / ``validateGeneratedConfig`` / ``retryWithFeedback``).

The model is asked for the node's config model as structured output (pydantic-ai's
output tool, whose schema is the config model's JSON schema). Every answer is then
checked the way saving checks it (config model, template syntax and node references,
the node type's static checks, credential names); a problem goes back to the model
as feedback and it tries again, at most ``max_attempts`` answers in all. A request
that never yields a valid config ends in :class:`MagicInputFailed` with the last
problems, never with a half-valid config.

Credentials reach the prompt by name only: the model writes ``credential:<name>``
where a ``secretArn`` belongs, and the answer's names are swapped for the ARNs of the
user's credentials afterwards. Secret values never enter a prompt.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator
from pydantic.alias_generators import to_camel

from workfuse.ai.providers import AIProvider
from workfuse.graph_validation import check_graph_data
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.schema import fields

if TYPE_CHECKING:
    from pydantic_ai.models import Model

MAX_PROMPT_CHARS = 4000  #: characters of the plain-English request
MAX_SAMPLE_CHARS = 2000  #: characters of each upstream sample output put in the prompt
MAX_ATTEMPTS = 3  #: model answers per request (the first and two retries with feedback)
CREDENTIAL_PREFIX = "credential:"
FEEDBACK_INTRO = "The config has problems; fix them:\n- "

#: Called with a line of progress ("Asking openai gpt-4o-mini…", "Attempt 2: …").
Progress = Callable[[str], Awaitable[None]]


class MagicModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class UpstreamNode(MagicModel):
    """A node before the one being configured: its templates may reference it."""

    id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=64)
    label: str = Field(default="", max_length=200)
    sample_output: Any = None


class MagicContext(MagicModel):
    upstream: list[UpstreamNode] = Field(default_factory=list, max_length=200)
    trigger_sample: Any = None
    current_config: dict[str, Any] | None = None


class MagicInputRequest(MagicModel):
    """The seed's ``MagicInputRequest``; ``provider``/``model`` default to the user's."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    node_type: str = Field(min_length=1, max_length=64)
    provider: AIProvider | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=100_000)
    secret_arn: str | None = Field(
        default=None, max_length=2048, description="Credential holding the provider's API key."
    )
    base_url: str | None = Field(default=None, max_length=2048)
    context: MagicContext = Field(default_factory=MagicContext)

    @field_validator("node_type")
    @classmethod
    def _registered(cls, value: str) -> str:
        """An unknown type is invalid input (422), not a failure of the generator."""
        if value not in REGISTRY:
            raise ValueError(f"unknown node type; known: {', '.join(REGISTRY.types())}")
        return value


class MagicUsage(MagicModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class MagicInputResponse(MagicModel):
    """The seed's ``MagicInputResponse``: ``config`` is the node's ``{label, config}``."""

    config: dict[str, Any]
    confidence: float = Field(ge=0, le=1)
    reasoning: str = ""
    attempts: int = Field(ge=1)
    usage: MagicUsage = Field(default_factory=MagicUsage)


class MagicInputFailed(Exception):
    """No valid config came out of ``attempts`` answers; ``problems`` are the last
    answer's; ``usage`` is what the failed answers cost."""

    def __init__(self, message: str, problems: list[str], attempts: int, usage: MagicUsage) -> None:
        super().__init__(message)
        self.problems = problems
        self.attempts = attempts
        self.usage = usage


def proposal_model(node_type: str) -> type[BaseModel]:
    """The structured output asked of the model for ``node_type``."""
    spec = REGISTRY.get(node_type)
    name = f"{spec.type.title()}Proposal"
    model: type[BaseModel] = create_model(
        name,
        __config__=ConfigDict(alias_generator=to_camel, populate_by_name=True),
        label=(str, Field(min_length=1, max_length=200, description="A short node label.")),
        config=(spec.config_model, Field(description=f"The {spec.label} node's config.")),
        reasoning=(str, Field(default="", max_length=2000, description="One or two sentences.")),
        confidence=(float, Field(default=0.8, ge=0, le=1, description="Your confidence, 0-1.")),
    )
    return model


def system_prompt(node_type: str, credential_names: list[str]) -> str:
    """What the model is told: the node type, its schema, examples and the rules."""
    spec = REGISTRY.get(node_type)
    schema = json.dumps(spec.config_model.model_json_schema(by_alias=True), indent=1)
    examples = "\n\n".join(
        f"Request: {example.request}\nAnswer: {json.dumps(example.node())}"
        for example in spec.examples
    )
    credentials = (
        ", ".join(json.dumps(name) for name in credential_names)
        if credential_names
        else "(none: leave credential fields out)"
    )
    return (
        "You configure one node of a WorkFuse workflow from a plain-English request.\n"
        f"Node type: {spec.type} ({spec.label}): {spec.description}\n\n"
        f"The node's config must match this JSON schema (camelCase keys):\n{schema}\n\n"
        "Templates: strings may contain Jinja templates that read earlier data: "
        "{{ trigger.data.<field> }} for the trigger's payload and "
        "{{ nodes.<node id>.<field> }} for an earlier node's output. Reference only the "
        "node ids listed in the context, with fields their sample outputs show.\n"
        "Credentials: never write a secret. Where a secretArn belongs, write "
        f'"{CREDENTIAL_PREFIX}<name>" with one of these credential names: {credentials}.\n'
        "Answer with the node's label, config, a short reasoning and your confidence.\n\n"
        f"Examples:\n{examples}"
    )


def user_prompt(request: MagicInputRequest) -> str:
    context = request.context
    parts = [f"Request: {request.prompt}"]
    if context.upstream:
        lines = []
        for node in context.upstream:
            sample = _clipped(node.sample_output)
            lines.append(
                f"- {node.id} ({node.type}, {node.label!r}): output fields "
                f"{_output_fields(node.type)}; sample output {sample}"
            )
        parts.append("Earlier nodes:\n" + "\n".join(lines))
    if context.trigger_sample is not None:
        parts.append(f"Trigger payload sample (trigger.data): {_clipped(context.trigger_sample)}")
    if context.current_config:
        current = _clipped(context.current_config)
        parts.append(f"Current config (change what the request asks): {current}")
    return "\n\n".join(parts)


def _output_fields(node_type: str) -> str:
    """The output fields a node type declares (its output model), as dotted paths."""
    if node_type not in REGISTRY:
        return "unknown"
    return ", ".join(item.path for item in fields(REGISTRY.get(node_type).output_schema()))


def _clipped(value: Any) -> str:
    """``value`` as JSON, cut to :data:`MAX_SAMPLE_CHARS` with a marker."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_SAMPLE_CHARS else text[:MAX_SAMPLE_CHARS] + "…"


def resolve_credentials(value: Any, credentials: dict[str, str], problems: list[str]) -> Any:
    """``value`` with every ``credential:<name>`` string swapped for that credential's ARN;
    unknown names are added to ``problems``."""
    if isinstance(value, dict):
        return {
            key: resolve_credentials(item, credentials, problems) for key, item in value.items()
        }
    if isinstance(value, list):
        return [resolve_credentials(item, credentials, problems) for item in value]
    if isinstance(value, str) and value.startswith(CREDENTIAL_PREFIX):
        name = value.removeprefix(CREDENTIAL_PREFIX)
        if name in credentials:
            return credentials[name]
        known = ", ".join(sorted(credentials)) or "none"
        problems.append(f"there is no credential named {name!r} (known: {known})")
    return value


def check_proposal(
    node_type: str, label: str, config: dict[str, Any], context: MagicContext
) -> list[str]:
    """Problems of a proposed node as saving would report them (the seed's
    ``validateGeneratedConfig``): config model, templates and node references,
    the type's static checks. Branch wiring is the editor's business, not checked."""
    node_id = "__proposed__"
    nodes: list[dict[str, Any]] = [
        {"id": node_id, "type": node_type, "data": {"label": label, "config": config}}
    ]
    stand_in = REGISTRY.default_trigger()  # any type whose default config is valid
    for upstream in context.upstream:  # stand-ins, so references to them resolve
        nodes.append(stand_in.new_node(upstream.id))
    _, result = check_graph_data({"name": "magic input", "nodes": nodes, "edges": []})
    relevant = {"INVALID_CONFIG", "INVALID_TEMPLATE", "INVALID_FORMAT"}
    return [
        issue.message.replace(f"node {node_id!r} ", "this node ")
        for issue in result.errors
        if issue.node_id in (node_id, None) and issue.code.value in relevant
    ]


def _usage_of(messages: list[Any]) -> tuple[int, MagicUsage]:
    """How many answers the model gave and what they cost, from a run's messages."""
    from pydantic_ai.messages import ModelResponse

    responses = [message for message in messages if isinstance(message, ModelResponse)]
    prompt = sum(int(response.usage.input_tokens or 0) for response in responses)
    completion = sum(int(response.usage.output_tokens or 0) for response in responses)
    usage = MagicUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
    return len(responses), usage


def _last_feedback(messages: list[Any]) -> list[str]:
    """The problems sent back after the last answer (schema errors or our checks)."""
    from pydantic_ai.messages import RetryPromptPart, ToolReturnPart

    for message in reversed(messages):
        for part in reversed(getattr(message, "parts", [])):
            if isinstance(part, RetryPromptPart):
                return [part.model_response()]
            if isinstance(part, ToolReturnPart) and getattr(part, "outcome", None) == "retried":
                _, _, listed = str(part.content).partition(FEEDBACK_INTRO)
                return [line for line in listed.split("\n- ") if line.strip()] or [
                    str(part.content)
                ]
    return []


def confidence_of(model_says: float, attempts: int) -> float:
    """The model's own confidence, capped by how hard it was: 0.95 at the first
    answer, 0.75 at the second, 0.55 at the third (never above what the model says)."""
    ceiling = max(0.3, 0.95 - 0.2 * (attempts - 1))
    return round(min(max(model_says, 0.0), ceiling), 2)


async def generate_config(
    request: MagicInputRequest,
    model: Model,
    *,
    credentials: dict[str, str],
    max_attempts: int = MAX_ATTEMPTS,
    on_progress: Progress | None = None,
) -> MagicInputResponse:
    """Ask ``model`` for a config of ``request.node_type`` and return a valid one.

    ``credentials`` maps the user's credential names to ARNs (names go to the model,
    ARNs into the config). Raises :class:`MagicInputFailed` after ``max_attempts``
    answers without a valid config, and the provider's own errors (pydantic-ai's
    ``ModelAPIError`` and friends) as they come.
    """
    from pydantic_ai import Agent, ModelRetry, RunContext, capture_run_messages
    from pydantic_ai.exceptions import UnexpectedModelBehavior
    from pydantic_ai.settings import ModelSettings

    node_type = request.node_type
    output_type = proposal_model(node_type)
    agent: Agent[None, BaseModel] = Agent(
        model,
        output_type=output_type,
        instructions=system_prompt(node_type, sorted(credentials)),
        retries={"output": max_attempts - 1, "tools": max_attempts - 1},
    )
    accepted: dict[str, Any] = {}

    @agent.output_validator
    async def _validate(run_context: RunContext[None], proposal: BaseModel) -> BaseModel:
        answers = run_context.retry + 1  # schema failures count as answers too
        if on_progress is not None:
            await on_progress(f"Checking answer {answers}…")
        data = proposal.model_dump(mode="json", by_alias=True, exclude_unset=True)
        problems: list[str] = []
        config = resolve_credentials(data["config"], credentials, problems)
        problems += check_proposal(node_type, data["label"], config, request.context)
        if problems:
            if on_progress is not None and answers < max_attempts:
                await on_progress(f"Answer {answers} had problems; asking again: {problems[0]}")
            raise ModelRetry(FEEDBACK_INTRO + "\n- ".join(problems))
        accepted.update(data, config=config)
        return proposal

    settings = ModelSettings()
    if request.temperature is not None:
        settings["temperature"] = request.temperature
    if request.max_tokens is not None:
        settings["max_tokens"] = request.max_tokens
    if on_progress is not None:
        await on_progress("Asking the model…")
    with capture_run_messages() as messages:
        try:
            run = await agent.run(user_prompt(request), model_settings=settings)
        except UnexpectedModelBehavior:
            answers, usage = _usage_of(messages)
            problems = _last_feedback(messages) or ["the model did not answer with a config"]
            raise MagicInputFailed(
                f"no valid {node_type} config after {answers} answer(s); "
                "try describing it differently",
                problems,
                answers,
                usage,
            ) from None
    attempts, usage = _usage_of(run.all_messages())
    return MagicInputResponse(
        config={"label": accepted["label"], "config": accepted["config"]},
        confidence=confidence_of(float(accepted.get("confidence", 0.8)), attempts),
        reasoning=str(accepted.get("reasoning", "")),
        attempts=attempts,
        usage=usage,
    )
