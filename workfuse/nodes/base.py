"""What every node type declares about itself (n8n-style self-describing nodes)."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from workfuse.nodes.execution import NodeContext


class NodeConfigModel(BaseModel):
    """Base of every node's ``config``: camelCase JSON names, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        serialize_by_alias=True,
    )


class NodeOutputModel(BaseModel):
    """Base of every node's output: what later nodes see as ``nodes.<id>`` (camelCase)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )


#: ``async def execute(config, context) -> output``; raises ``ExecutionError`` on failure.
Executor = Callable[[Any, NodeContext], Awaitable[NodeOutputModel]]


@dataclass(frozen=True)
class ConfigProblem:
    """A problem in a parsed config that its model cannot see (code that does not compile).

    ``field`` is the camelCase config path (``code``, ``conditions.0.value``).
    """

    field: str
    message: str


#: ``check_config(config) -> problems``: static checks beyond the config model, run on
#: save by graph validation (fast: no network, no user code executed).
ConfigCheck = Callable[[Any], list[ConfigProblem]]


@dataclass(frozen=True)
class NodeSpec:
    """A node type: config model, output model, executor and the editor's metadata.

    ``outputs`` lists the output handles; a condition node's handles come from its
    config (one per branch) and are declared with ``dynamic_outputs``.
    ``template_fields`` are dotted config paths rendered before ``execute`` (a list
    on the way is walked item by item: ``conditions.field``); graph validation checks
    their syntax and node references before a workflow is saved. ``check_config`` adds
    the type's own static checks.
    """

    type: str
    label: str
    icon: str
    description: str
    config_model: builtins.type[NodeConfigModel]
    output_model: builtins.type[NodeOutputModel]
    execute: Executor
    inputs: int = 1
    outputs: tuple[str, ...] = ("out",)
    dynamic_outputs: bool = False
    template_fields: tuple[str, ...] = ()
    credential_fields: tuple[str, ...] = ()
    side_effects: bool = False
    default_config: dict[str, object] = field(default_factory=dict)
    check_config: ConfigCheck | None = None
