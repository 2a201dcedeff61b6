"""AI: prompts a language model; the seed's ``AINodeConfig``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workfuse.nodes.base import NodeConfigModel, NodeSpec

AIProvider = Literal["openai", "anthropic", "gemini"]
MAX_PROMPT_LENGTH = 200_000  #: characters


class AINodeConfig(NodeConfigModel):
    provider: AIProvider = "openai"
    model: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_LENGTH)
    system_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_LENGTH)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    stream: bool = False
    secret_arn: str | None = Field(
        default=None, max_length=2048, description="Credential with the provider's API key."
    )


SPEC = NodeSpec(
    type="ai",
    label="AI",
    icon="sparkles",
    description="Ask OpenAI, Anthropic or Gemini and use the answer.",
    config_model=AINodeConfig,
    template_fields=("prompt", "systemPrompt"),
    credential_fields=("secretArn",),
    side_effects=True,
    default_config={"provider": "openai", "model": "gpt-4o-mini", "prompt": "Summarise: "},
)
