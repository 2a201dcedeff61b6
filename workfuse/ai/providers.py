"""Building a pydantic-ai model for the seed's ``AIProviderConfig``.

Providers: OpenAI, Anthropic, Gemini, and any OpenAI-compatible endpoint (Ollama,
vLLM, LM Studio) at a base URL. The API key comes from a stored credential or the
settings default (``WORKFUSE_<PROVIDER>_API_KEY``); provider libraries never read
the process environment. All traffic goes through :mod:`workfuse.net` (the Anthropic
and Google SDKs, built on httpx2, through its bridge), and the provider SDKs' own
retries are off: the node's retry policy decides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from workfuse import net
from workfuse.net.bridge import httpx2_async_client
from workfuse.settings import Settings, get_settings

if TYPE_CHECKING:  # pydantic-ai takes about 1.4 s to import: only when a model is built
    from pydantic_ai.models import Model

AIProvider = Literal["openai", "anthropic", "gemini", "openai-compatible"]
PROVIDERS: tuple[AIProvider, ...] = ("openai", "anthropic", "gemini", "openai-compatible")
DEFAULT_TIMEOUT = 120.0  #: seconds for one model call
NO_KEY_PLACEHOLDER = "not-needed"  #: local OpenAI-compatible servers often take no key


class ProviderNotConfigured(Exception):
    """No API key or base URL for the provider; the message says how to configure it."""


def _setting_prefix(provider: AIProvider) -> str:
    return "openai" if provider == "openai-compatible" else provider


def default_api_key(provider: AIProvider, settings: Settings | None = None) -> str | None:
    secret = getattr(settings or get_settings(), f"{_setting_prefix(provider)}_api_key")
    return secret.get_secret_value() if secret is not None else None


def default_base_url(provider: AIProvider, settings: Settings | None = None) -> str | None:
    value: str | None = getattr(settings or get_settings(), f"{_setting_prefix(provider)}_base_url")
    return value


def build_model(
    *,
    provider: AIProvider,
    model: str,
    api_key: str | None,
    base_url: str | None = None,
) -> Model:
    """A pydantic-ai model; ``api_key``/``base_url`` fall back to the settings defaults."""
    api_key = api_key or default_api_key(provider)
    base_url = base_url or default_base_url(provider)
    if provider == "openai-compatible" and not base_url:
        raise ProviderNotConfigured(
            "the openai-compatible provider needs a base URL (the node's baseUrl or "
            "WORKFUSE_OPENAI_BASE_URL), e.g. http://127.0.0.1:11434/v1 for Ollama"
        )
    if not api_key and provider != "openai-compatible":
        variable = f"WORKFUSE_{_setting_prefix(provider).upper()}_API_KEY"
        raise ProviderNotConfigured(
            f"{provider} is not configured: choose a credential with its API key on the node, "
            f"or set {variable}"
        )
    if provider in ("openai", "openai-compatible"):
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        openai_client = AsyncOpenAI(
            api_key=api_key or NO_KEY_PLACEHOLDER,
            base_url=base_url,
            http_client=net.async_client(timeout=DEFAULT_TIMEOUT),  # type: ignore[arg-type]
            max_retries=0,
        )
        return OpenAIChatModel(model, provider=OpenAIProvider(openai_client=openai_client))
    if provider == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        anthropic_client = AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            http_client=httpx2_async_client(timeout=DEFAULT_TIMEOUT),
            max_retries=0,
        )
        return AnthropicModel(model, provider=AnthropicProvider(anthropic_client=anthropic_client))
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    google = GoogleProvider(
        api_key=api_key, base_url=base_url, http_client=httpx2_async_client(timeout=DEFAULT_TIMEOUT)
    )
    return GoogleModel(model, provider=google)
