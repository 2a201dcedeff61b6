"""What every node type declares about itself (n8n-style self-describing nodes).

A node type is one :class:`NodeSpec` in one module under ``workfuse/nodes/`` plus one
line in :mod:`workfuse.nodes.registry`. Everything else (the editor's palette, form
and handles, graph validation, the engine's plan, magic input, ``docs/nodes.md``,
``workfuse nodes``) is derived from the spec; no other module names a node type.

UI hints ride on the config model's fields, ``Field(json_schema_extra=ui(...))``:
see :func:`workfuse.nodes.hints.ui`.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from workfuse.nodes.execution import NodeContext
from workfuse.nodes.paths import config_values

#: Where the palette lists a node type.
Category = Literal["trigger", "action", "flow", "ai", "data"]
CATEGORIES: tuple[Category, ...] = ("trigger", "action", "data", "flow", "ai")
CATEGORY_LABELS: dict[Category, str] = {
    "trigger": "Triggers",
    "action": "Actions",
    "data": "Data",
    "flow": "Flow",
    "ai": "AI",
}
FALLBACK_COLOUR = "#64748b"  #: colour of a node whose type is not registered
DOCS_PAGE = "docs/nodes.md"  #: the generated node reference, relative to the repository


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

#: ``handles(raw config) -> output handle names``, for a node whose outputs depend on
#: its config. It gets the stored JSON, which may not be a valid config (a draft being
#: edited): it must not raise, and should name what it can.
HandlesOf = Callable[[Mapping[str, Any]], list[str]]

#: ``chosen(output) -> handle``: the one output handle a finished run continues
#: through (its JSON output as stored), or ``None`` for all of them.
ChosenOutput = Callable[[Mapping[str, Any]], "str | None"]


@dataclass(frozen=True)
class CredentialUse:
    """A config field that holds a credential reference (an ARN or local id).

    ``path`` is the camelCase dotted config path; a list on the way is walked item by
    item. ``credential_type`` is the kind of credential the field expects (``"any"``:
    any single secret value). ``at_run`` is false for a credential read where the run
    starts (a webhook's signing key, checked by the webhook route), which the engine
    does not fetch for the run.
    """

    path: str
    credential_type: str = "any"
    at_run: bool = True


@dataclass(frozen=True)
class NodeExample:
    """A plain-English request and the node it should produce (magic input, docs)."""

    request: str
    label: str
    config: Mapping[str, Any]

    def node(self) -> dict[str, Any]:
        """The ``{label, config}`` answer magic input expects."""
        return {"label": self.label, "config": dict(self.config)}


@dataclass(frozen=True)
class NodeSpec:
    """A node type: identity, presentation, config and output models, behaviour.

    - ``type`` and ``version``: a behaviour change registers a new version; a stored
      node keeps the version it was saved with (``typeVersion``, 1 when absent).
    - ``label``, ``icon`` (a Lucide icon name), ``colour`` (``#rrggbb``),
      ``category``, ``description`` (one line) and ``docs`` (Markdown paragraphs for
      ``docs/nodes.md``): presentation.
    - ``outputs``: the fixed output handles; ``handles_of`` derives them from the
      config instead (a condition's branches), ``chosen_output`` says which one a run
      took (``None``: every edge out of the node carries the run).
    - ``template_fields``: dotted config paths rendered before ``execute`` (a list
      on the way is walked item by item: ``conditions.field``); graph validation
      checks their syntax and node references before a workflow is saved.
    - ``credentials``: the fields that hold credential references.
    - ``side_effects``: the engine checkpoints the node before and after it runs, and
      the editor offers a retry policy. ``trigger``: the node starts a run (a
      workflow has exactly one), has no input, and the engine passes the trigger
      payload to it.
    - ``examples``: at least two, each a valid config (a test checks them).
    - ``check_config``: the type's own static checks beyond the config model.
    """

    type: str
    label: str
    icon: str
    description: str
    config_model: builtins.type[NodeConfigModel]
    output_model: builtins.type[NodeOutputModel]
    execute: Executor
    version: int = 1
    colour: str = FALLBACK_COLOUR
    category: Category = "action"
    docs: str = ""
    outputs: tuple[str, ...] = ("out",)
    handles_of: HandlesOf | None = None
    chosen_output: ChosenOutput | None = None
    template_fields: tuple[str, ...] = ()
    credentials: tuple[CredentialUse, ...] = ()
    side_effects: bool = False
    trigger: bool = False
    default_config: Mapping[str, object] = field(default_factory=dict)
    check_config: ConfigCheck | None = None
    examples: tuple[NodeExample, ...] = ()

    @property
    def inputs(self) -> int:
        """How many input handles the node has: none for a trigger, else one."""
        return 0 if self.trigger else 1

    @property
    def docs_link(self) -> str:
        """Where the node's section of the generated reference is."""
        return f"{DOCS_PAGE}#{self.type}"

    def handles(self, config: Mapping[str, Any]) -> list[str]:
        """The output handles of a node of this type with ``config`` (raw JSON)."""
        if self.handles_of is None:
            return list(self.outputs)
        return self.handles_of(config)

    def credential_references(
        self, config: Mapping[str, Any], *, run_only: bool = False
    ) -> set[str]:
        """The credential references (ARNs) a raw config names in the fields this type
        declares; ``run_only``: only those the run reads (not a webhook's signing key)."""
        return {
            reference
            for use in self.credentials
            if use.at_run or not run_only
            for reference in config_values(config, use.path)
            if isinstance(reference, str) and reference
        }

    def new_node(self, node_id: str, x: float = 0.0, y: float = 0.0) -> dict[str, Any]:
        """A stored node of this type at (x, y): its label and default config.

        ``typeVersion`` is written from version 2 on (an absent one means 1).
        """
        node: dict[str, Any] = {
            "id": node_id,
            "type": self.type,
            "position": {"x": x, "y": y},
            "data": {"label": self.label, "config": copy.deepcopy(dict(self.default_config))},
        }
        if self.version != 1:
            node["typeVersion"] = self.version
        return node

    def config_schema(self) -> dict[str, Any]:
        """The config model's JSON Schema (camelCase names, UI hints under ``ui``)."""
        schema: dict[str, Any] = self.config_model.model_json_schema(by_alias=True)
        return schema

    def output_schema(self) -> dict[str, Any]:
        """The output model's JSON Schema (camelCase names)."""
        schema: dict[str, Any] = self.output_model.model_json_schema(
            by_alias=True, mode="serialization"
        )
        return schema
