"""AI use cases for the editor: ``test_prompt`` (the seed's ``ai.testPrompt``).

Generating a node config from plain English (magic input) comes with its own issue.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from workfuse.engine.plan import secret_arns
from workfuse.logs import REDACTOR
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.runner import prepare_config
from workfuse.secrets import SecretStore
from workfuse.secrets.redaction import Redactor
from workfuse.services.errors import ServiceError
from workfuse.services.secrets import values_for_run
from workfuse.settings import get_settings


class SampleData(BaseModel):
    """What the prompt's templates see: a trigger payload and earlier nodes' outputs."""

    trigger: dict[str, Any] = Field(default_factory=dict)
    nodes: dict[str, Any] = Field(default_factory=dict)


class NodeFailed(ServiceError):
    """The node ran and failed (the provider refused, timed out, ...); ``code`` says how."""

    status_code = 422

    def __init__(self, error: ExecutionError) -> None:
        super().__init__(error.message)
        self.code = error.code
        self.retryable = error.retryable


async def test_prompt(
    *,
    session: Session,
    store: SecretStore,
    user_id: str,
    config: dict[str, Any],
    sample: SampleData,
) -> dict[str, Any]:
    """Run an AI node config once with sample data; its output (``{response, usage,
    model, finishReason}``), with any credential value in it redacted."""
    spec = REGISTRY.get("ai")
    redactor = Redactor()
    secrets = values_for_run(
        session=session,
        store=store,
        user_id=user_id,
        arns=secret_arns("ai", config),
        redactors=(redactor, REDACTOR),
    )
    context = NodeContext(
        execution_id="test-prompt",
        node_id="test-prompt",
        trigger=sample.trigger,
        nodes=sample.nodes,
        env=get_settings().template_env(),
        secrets=secrets,
    )
    try:
        output = await spec.execute(prepare_config(spec, config, context), context)
    except ExecutionError as error:
        raise NodeFailed(error) from None
    result: dict[str, Any] = redactor.redact(output.model_dump(mode="json", by_alias=True))
    return result
