"""Building a pydantic-ai model for the seed's ``AIProviderConfig``.

Providers: OpenAI, Anthropic, Gemini, and any OpenAI-compatible endpoint (Ollama,
vLLM, LM Studio) at a base URL. :func:`resolve_endpoint` is the one place that decides
which key goes to which URL (nodes, test-prompt and magic input all build their model
through :func:`build_model`):

* the user's own key (a credential) goes to the user's ``baseUrl``, or to the
  operator's endpoint when there is none;
* the operator's key (``WORKFUSE_<PROVIDER>_API_KEY``) goes only to the operator's
  endpoint: ``WORKFUSE_<PROVIDER>_BASE_URL``, or the provider's official URL
  (:data:`OFFICIAL_BASE_URLS`). A ``baseUrl`` that differs from it (compared
  normalised, :func:`normalise_url`) without a credential is
  :class:`CredentialRequired` for ``openai``, ``anthropic`` and ``gemini``, and a
  request *without any key* for ``openai-compatible`` (local servers need none);
  never a request carrying the operator's key.

Every client gets an explicit key and base URL, so provider libraries never read
the process environment (``OPENAI_API_KEY``, ``ANTHROPIC_BASE_URL``...). All traffic
goes through :mod:`workfuse.net` (the Anthropic and Google SDKs, built on httpx2,
through its bridge): the egress guard, and no credential header on a redirect to
another origin. The provider SDKs' own retries are off: the node's retry policy
decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from workfuse import net
from workfuse.net.bridge import httpx2_async_client
from workfuse.net.policy import DEFAULT_PORTS
from workfuse.settings import Settings, get_settings

if TYPE_CHECKING:  # pydantic-ai takes about 1.4 s to import: only when a model is built
    from pydantic_ai.models import Model

AIProvider = Literal["openai", "anthropic", "gemini", "openai-compatible"]
PROVIDERS: tuple[AIProvider, ...] = ("openai", "anthropic", "gemini", "openai-compatible")
#: The model a provider is used with when nobody named one.
DEFAULT_MODELS: dict[str, str] = {
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
    "gemini": "gemini-2.0-flash",
    "openai-compatible": "llama3.1",
}
DEFAULT_TIMEOUT = 120.0  #: seconds for one model call
NO_KEY_PLACEHOLDER = "not-needed"  #: local OpenAI-compatible servers often take no key
#: The provider's own endpoint: where the operator's key goes unless
#: ``WORKFUSE_<PROVIDER>_BASE_URL`` names another (openai-compatible shares OpenAI's).
OFFICIAL_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com/",
}


class ProviderNotConfigured(Exception):
    """No API key or base URL for the provider; the message says how to configure it."""

    code = "AI_NOT_CONFIGURED"


class CredentialRequired(ProviderNotConfigured):
    """A ``baseUrl`` other than the operator's endpoint, and no credential: the
    operator's key does not go there."""

    code = "AI_CREDENTIAL_REQUIRED"


@dataclass(frozen=True)
class Endpoint:
    """Where a model call goes and with which key (``None``: no key at all)."""

    base_url: str
    api_key: str | None
    operator_key: bool = False  #: the key is the operator's (``WORKFUSE_*_API_KEY``)

    def __repr__(self) -> str:  # never the key
        return f"Endpoint({self.base_url!r}, operator_key={self.operator_key})"


def _setting_prefix(provider: AIProvider) -> str:
    return "openai" if provider == "openai-compatible" else provider


def _variable(provider: AIProvider, what: str) -> str:
    return f"WORKFUSE_{_setting_prefix(provider).upper()}_{what}"


def default_api_key(provider: AIProvider, settings: Settings | None = None) -> str | None:
    secret = getattr(settings or get_settings(), f"{_setting_prefix(provider)}_api_key")
    return secret.get_secret_value() if secret is not None else None


def default_base_url(provider: AIProvider, settings: Settings | None = None) -> str | None:
    value: str | None = getattr(settings or get_settings(), f"{_setting_prefix(provider)}_base_url")
    return value


def operator_base_url(provider: AIProvider, settings: Settings | None = None) -> str:
    """The operator's endpoint: ``WORKFUSE_<PROVIDER>_BASE_URL`` or the official URL."""
    return default_base_url(provider, settings) or OFFICIAL_BASE_URLS[_setting_prefix(provider)]


def normalise_url(url: str) -> str:
    """``url`` for comparison: scheme and host lowercase, the scheme's default port
    and trailing slashes dropped (``HTTPS://API.openai.com:443/v1/`` is
    ``https://api.openai.com/v1``). Anything else (user info, path, query) must be
    equal as written; a URL that cannot be read compares unequal to every other."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return f"invalid:{url}"
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username is not None or parts.password is not None:
        netloc = f"{parts.netloc.rpartition('@')[0]}@{netloc}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}{query}"


def resolve_endpoint(
    provider: AIProvider,
    *,
    api_key: str | None,
    base_url: str | None,
    settings: Settings | None = None,
) -> Endpoint:
    """Which URL a call goes to and which key it carries.

    ``api_key`` is the value of the user's credential (None: the node has none) and
    ``base_url`` the user's ``baseUrl`` (None or empty: not set). Raises
    :class:`ProviderNotConfigured` (nothing to call, or no key) and
    :class:`CredentialRequired` (a ``baseUrl`` of the user's, the operator's key).
    """
    settings = settings or get_settings()
    base_url = (base_url or "").strip() or None
    if (
        provider == "openai-compatible"
        and not base_url
        and not default_base_url(provider, settings)
    ):
        raise ProviderNotConfigured(
            "the openai-compatible provider needs a base URL (the node's baseUrl or "
            f"{_variable(provider, 'BASE_URL')}), e.g. http://127.0.0.1:11434/v1 for Ollama"
        )
    operator_url = operator_base_url(provider, settings)
    if api_key:  # the user's own key goes wherever the user says
        return Endpoint(base_url or operator_url, api_key)
    if base_url is not None and normalise_url(base_url) != normalise_url(operator_url):
        if provider == "openai-compatible":
            return Endpoint(base_url, None)  # a local server: no key, never the operator's
        raise CredentialRequired(
            f"{provider} at {base_url} needs your own API key: choose a credential with it "
            f"on the node, or leave baseUrl empty to use the endpoint the operator set up "
            f"({_variable(provider, 'API_KEY')} is only sent to that endpoint)"
        )
    operator_key = default_api_key(provider, settings)
    if not operator_key and provider != "openai-compatible":
        raise ProviderNotConfigured(
            f"{provider} is not configured: choose a credential with its API key on the node, "
            f"or set {_variable(provider, 'API_KEY')}"
        )
    return Endpoint(base_url or operator_url, operator_key or None, operator_key=bool(operator_key))


def build_model(
    *,
    provider: AIProvider,
    model: str,
    api_key: str | None,
    base_url: str | None = None,
) -> Model:
    """A pydantic-ai model; ``api_key`` is the user's credential (or None) and
    ``base_url`` the user's ``baseUrl`` (or None): :func:`resolve_endpoint` decides."""
    endpoint = resolve_endpoint(provider, api_key=api_key, base_url=base_url)
    if endpoint.base_url:  # before an SDK parses it: a malformed URL is net.InvalidURL
        net.EgressPolicy.from_settings().check_url(endpoint.base_url)
    if provider in ("openai", "openai-compatible"):
        from openai import AsyncOpenAI
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        openai_client = AsyncOpenAI(
            api_key=endpoint.api_key or NO_KEY_PLACEHOLDER,
            base_url=endpoint.base_url,
            http_client=net.async_client(timeout=DEFAULT_TIMEOUT),  # type: ignore[arg-type]
            max_retries=0,
        )
        return OpenAIChatModel(model, provider=OpenAIProvider(openai_client=openai_client))
    assert endpoint.api_key is not None  # resolve_endpoint refuses a keyless call here
    if provider == "anthropic":
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        anthropic_client = AsyncAnthropic(
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            http_client=httpx2_async_client(timeout=DEFAULT_TIMEOUT),
            max_retries=0,
        )
        return AnthropicModel(model, provider=AnthropicProvider(anthropic_client=anthropic_client))
    from pydantic_ai.models.google import GoogleModel
    from pydantic_ai.providers.google import GoogleProvider

    google = GoogleProvider(
        api_key=endpoint.api_key,
        base_url=endpoint.base_url,
        http_client=httpx2_async_client(timeout=DEFAULT_TIMEOUT),
    )
    return GoogleModel(model, provider=google)
