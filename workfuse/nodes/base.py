"""What every node type declares about itself (n8n-style self-describing nodes)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class NodeConfigModel(BaseModel):
    """Base of every node's ``config``: camelCase JSON names, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        serialize_by_alias=True,
    )


@dataclass(frozen=True)
class NodeSpec:
    """A node type: its config model plus the metadata the editor needs.

    ``outputs`` lists the output handles; a condition node's handles come from its
    config (one per branch) and are declared with ``dynamic_outputs``.
    """

    type: str
    label: str
    icon: str
    description: str
    config_model: builtins.type[NodeConfigModel]
    inputs: int = 1
    outputs: tuple[str, ...] = ("out",)
    dynamic_outputs: bool = False
    template_fields: tuple[str, ...] = ()
    credential_fields: tuple[str, ...] = ()
    side_effects: bool = False
    default_config: dict[str, object] = field(default_factory=dict)
