"""Transform: reshapes data with JavaScript or JSONata; the seed's ``TransformNodeConfig``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workfuse.nodes.base import NodeConfigModel, NodeSpec

MAX_TIMEOUT_MS = 60_000  #: ms
MAX_CODE_LENGTH = 100_000  #: characters


class TransformNodeConfig(NodeConfigModel):
    language: Literal["javascript", "jsonata"] = "jsonata"
    code: str = Field(min_length=1, max_length=MAX_CODE_LENGTH)
    timeout: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_MS, description="milliseconds")


SPEC = NodeSpec(
    type="transform",
    label="Transform",
    icon="shuffle",
    description="Reshape data with a JSONata expression or JavaScript.",
    config_model=TransformNodeConfig,
    default_config={"language": "jsonata", "code": "trigger"},
)
