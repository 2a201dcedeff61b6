"""The signed-in user's settings: the default AI provider and model."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from workfuse.ai.providers import AIProvider
from workfuse.api.deps import CurrentUser, DbSession
from workfuse.models import MAX_MODEL_LENGTH, ApiSchema
from workfuse.services import preferences

router = APIRouter(prefix="/api/settings", tags=["settings"])


class UserSettings(ApiSchema):
    """``null`` clears a default; a model needs a provider."""

    default_ai_provider: AIProvider | None = None
    default_ai_model: str | None = Field(default=None, max_length=MAX_MODEL_LENGTH)


def _public(defaults: preferences.AiDefaults) -> UserSettings:
    return UserSettings(default_ai_provider=defaults.provider, default_ai_model=defaults.model)


@router.get("")
def get_settings(user: CurrentUser) -> UserSettings:
    return _public(preferences.get_ai_defaults(user=user))


@router.put("")
def put_settings(data: UserSettings, user: CurrentUser, session: DbSession) -> UserSettings:
    """Replace the settings (fields left out are cleared)."""
    defaults = preferences.set_ai_defaults(
        session=session,
        user=user,
        provider=data.default_ai_provider,
        model=data.default_ai_model,
    )
    return _public(defaults)
