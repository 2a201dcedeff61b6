"""Trigger: where a run starts (a webhook call or "Run now"); exactly one per workflow."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workfuse.nodes.base import NodeConfigModel, NodeSpec


class TriggerNodeConfig(NodeConfigModel):
    source: Literal["webhook", "manual"] = "webhook"
    sample_payload: dict[str, Any] = Field(
        default_factory=dict, description="Test payload for 'Run now' in the editor."
    )


SPEC = NodeSpec(
    type="trigger",
    label="Trigger",
    icon="zap",
    description="Starts the workflow from a webhook call or by hand.",
    config_model=TriggerNodeConfig,
    inputs=0,
    default_config={"source": "webhook"},
)
