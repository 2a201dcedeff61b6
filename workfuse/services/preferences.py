"""A user's preferences: the default AI provider and model.

The defaults are what the editor preselects on a new AI node; a node that names its
own provider and model is not affected, and nothing here reaches a run that is
already configured. They are plain text columns on ``users`` (no secret: an API key
is a credential, chosen on the node). The model name is not checked against the
provider's catalogue (providers add models often, and an OpenAI-compatible server
serves whatever it has loaded); only its length and characters are.

Functions flush but do not commit: the caller's session scope decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlmodel import Session

from workfuse.ai.providers import DEFAULT_MODELS, PROVIDERS, AIProvider
from workfuse.models import MAX_MODEL_LENGTH, User
from workfuse.services.errors import InvalidInput, reject_unstorable_text


@dataclass(frozen=True)
class AiDefaults:
    """The default provider and model; ``None`` where the user chose none."""

    provider: AIProvider | None
    model: str | None


def get_ai_defaults(*, user: User) -> AiDefaults:
    """The user's defaults (a provider no longer known reads as none)."""
    provider = user.default_ai_provider
    known = cast(AIProvider, provider) if provider in PROVIDERS else None
    return AiDefaults(provider=known, model=user.default_ai_model if known else None)


def user_defaults(*, user: User) -> dict[str, str]:
    """The user's defaults by the name config fields use in their ``userDefault`` hint
    (``ai.provider``, ``ai.model``); a model without a provider's default is that
    provider's default model."""
    defaults = get_ai_defaults(user=user)
    if defaults.provider is None:
        return {}
    return {
        "ai.provider": defaults.provider,
        "ai.model": defaults.model or DEFAULT_MODELS[defaults.provider],
    }


def set_ai_defaults(
    *, session: Session, user: User, provider: str | None, model: str | None
) -> AiDefaults:
    """Replace the user's defaults; ``None`` (or blank) clears one.

    A model needs a provider; blank text is none; surrounding spaces are dropped.
    """
    if provider is not None and provider not in PROVIDERS:
        raise InvalidInput(
            f"the AI provider must be one of {', '.join(PROVIDERS)} (got {provider[:40]!r})"
        )
    if model is not None:
        if not isinstance(model, str):
            raise InvalidInput("the AI model must be text")
        reject_unstorable_text(model, "the AI model")
        model = model.strip() or None
    if model is not None and len(model) > MAX_MODEL_LENGTH:
        raise InvalidInput(f"the AI model must have at most {MAX_MODEL_LENGTH} characters")
    if model is not None and provider is None:
        raise InvalidInput("choose the AI provider of the default model")
    user.default_ai_provider = provider
    user.default_ai_model = model
    session.add(user)
    session.flush()
    return get_ai_defaults(user=user)
