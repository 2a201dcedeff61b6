"""AI helpers for the editor: ``POST /api/ai/generate-config`` (magic input) and
``POST /api/ai/test-prompt``, both rate limited per user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from workfuse.ai.magic_input import MagicInputRequest, MagicInputResponse
from workfuse.api.deps import CurrentUser, DbSession, rate_limited
from workfuse.models import ApiSchema
from workfuse.ratelimit import Limit
from workfuse.secrets import process_secret_store
from workfuse.services import ai as service

router = APIRouter(prefix="/api/ai", tags=["ai"])

AI_LIMIT = Limit(count=20, window=60)  #: AI calls per user per minute


class TestPrompt(ApiSchema):
    config: dict[str, Any]
    sample: service.SampleData = service.SampleData()


@router.post("/test-prompt", dependencies=[Depends(rate_limited("AI", AI_LIMIT))])
async def test_prompt(data: TestPrompt, user: CurrentUser, session: DbSession) -> dict[str, Any]:
    """Run an AI node config once with sample data and return its output. A provider
    failure is 422 with the node's error code (``AI_NOT_CONFIGURED``, ``AI_429``...)."""
    return await service.test_prompt(
        session=session,
        store=process_secret_store(),
        user_id=user.id,
        config=data.config,
        sample=data.sample,
    )


@router.post("/generate-config", dependencies=[Depends(rate_limited("AI", AI_LIMIT))])
async def generate_config(
    data: MagicInputRequest, user: CurrentUser, session: DbSession
) -> MagicInputResponse:
    """Magic input: a plain-English request to a validated node config (``{label,
    config}``) with confidence, reasoning, attempts and token usage. No valid config
    after the retries: 422 ``MAGIC_INPUT_FAILED`` with the last problems as details."""
    return await service.generate_config(
        session=session, store=process_secret_store(), user=user, request=data
    )
