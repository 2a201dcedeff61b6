"""Trigger: where a run starts (a webhook call or "Run now"); exactly one per workflow.

It passes the seed's ``TriggerPayload`` through: ``source``, ``data``, ``headers``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workfuse.nodes.base import NodeConfigModel, NodeOutputModel, NodeSpec
from workfuse.nodes.execution import NodeContext


class TriggerNodeConfig(NodeConfigModel):
    source: Literal["webhook", "manual"] = "webhook"
    sample_payload: dict[str, Any] = Field(
        default_factory=dict, description="Test payload for 'Run now' in the editor."
    )


class TriggerNodeOutput(NodeOutputModel):
    source: str
    data: Any = None
    headers: dict[str, str] = Field(default_factory=dict)


async def execute(config: TriggerNodeConfig, context: NodeContext) -> TriggerNodeOutput:
    trigger = context.trigger
    return TriggerNodeOutput(
        source=str(trigger.get("source") or config.source),
        data=trigger.get("data"),
        headers=dict(trigger.get("headers") or {}),
    )


SPEC = NodeSpec(
    type="trigger",
    label="Trigger",
    icon="zap",
    description="Starts the workflow from a webhook call or by hand.",
    config_model=TriggerNodeConfig,
    output_model=TriggerNodeOutput,
    execute=execute,
    inputs=0,
    default_config={"source": "webhook"},
)
