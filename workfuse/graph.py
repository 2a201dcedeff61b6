"""The workflow graph: the seed's ``WorkflowGraph`` and friends as pydantic models.

JSON field names are the seed's (camelCase), so an exported workflow reads like the
seed's format. Parsing checks shapes only; :mod:`workfuse.graph_validation` checks
the rules (DAG, one trigger, configs per node type, branches).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field
from pydantic.alias_generators import to_camel

MAX_LABEL_LENGTH = 200  #: characters
MAX_ID_LENGTH = 128  #: characters
NODE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"
MAX_TYPE_VERSION = 1000
MAX_RETRY_ATTEMPTS = 20
MAX_RETRY_DELAY_MS = 3_600_000  #: ms, one hour


class GraphModel(BaseModel):
    """camelCase JSON, unknown fields refused (a typo is an error, not lost data)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        allow_inf_nan=False,
        serialize_by_alias=True,
    )


class RetryPolicy(GraphModel):
    max_attempts: int = Field(default=3, ge=1, le=MAX_RETRY_ATTEMPTS)
    backoff_multiplier: float = Field(default=2.0, ge=1, le=10)
    initial_delay_ms: int = Field(default=1000, ge=0, le=MAX_RETRY_DELAY_MS)


class Position(GraphModel):
    x: float = 0.0
    y: float = 0.0


class NodeConfiguration(GraphModel):
    label: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    config: dict[str, Any] = Field(default_factory=dict)
    retry_policy: RetryPolicy | None = None


class WorkflowNode(GraphModel):
    """A node; ``typeVersion`` is the version of its type it was saved with (1 when
    absent: every node saved before node types had versions)."""

    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=NODE_ID_PATTERN)
    type: str = Field(min_length=1, max_length=64)
    type_version: int | None = Field(default=None, ge=1, le=MAX_TYPE_VERSION)
    position: Position = Field(default_factory=Position)
    data: NodeConfiguration

    @property
    def version(self) -> int:
        """The version of its type this node runs with."""
        return self.type_version or 1


class WorkflowEdge(GraphModel):
    id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    source: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    target: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    source_handle: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    target_handle: str | None = Field(default=None, max_length=MAX_ID_LENGTH)


class WorkflowGraph(GraphModel):
    """A workflow as the editor draws it. ``id``/``version``/dates come from storage."""

    id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    name: str = Field(min_length=1, max_length=MAX_LABEL_LENGTH)
    nodes: list[WorkflowNode] = Field(default_factory=list)
    edges: list[WorkflowEdge] = Field(default_factory=list)
    version: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def body(self) -> dict[str, Any]:
        """What storage keeps of the graph: nodes and edges (the rest is in columns)."""
        return self.model_dump(mode="json", include={"nodes", "edges"}, exclude_none=True)


# --- problems -------------------------------------------------------------------------


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class IssueCode(StrEnum):
    """Every problem validation can report; tests cover each by name."""

    INVALID_FORMAT = "INVALID_FORMAT"
    GRAPH_TOO_LARGE = "GRAPH_TOO_LARGE"
    DUPLICATE_NODE_ID = "DUPLICATE_NODE_ID"
    DUPLICATE_EDGE_ID = "DUPLICATE_EDGE_ID"
    UNKNOWN_NODE_TYPE = "UNKNOWN_NODE_TYPE"
    INVALID_CONFIG = "INVALID_CONFIG"
    INVALID_TEMPLATE = "INVALID_TEMPLATE"
    EDGE_SOURCE_MISSING = "EDGE_SOURCE_MISSING"
    EDGE_TARGET_MISSING = "EDGE_TARGET_MISSING"
    SELF_LOOP = "SELF_LOOP"
    CYCLE = "CYCLE"
    NO_TRIGGER = "NO_TRIGGER"
    MULTIPLE_TRIGGERS = "MULTIPLE_TRIGGERS"
    TRIGGER_HAS_INCOMING_EDGE = "TRIGGER_HAS_INCOMING_EDGE"
    BRANCH_WITHOUT_EDGE = "BRANCH_WITHOUT_EDGE"
    UNKNOWN_BRANCH_HANDLE = "UNKNOWN_BRANCH_HANDLE"
    UNREACHABLE_NODE = "UNREACHABLE_NODE"


class ValidationIssue(GraphModel):
    code: IssueCode
    message: str
    severity: Severity = Severity.ERROR
    node_id: str | None = None
    edge_id: str | None = None
    field: str | None = None

    def describe(self) -> str:
        """One line for a terminal: severity, code, where, message."""
        where = [
            f"node {self.node_id}" if self.node_id else "",
            f"edge {self.edge_id}" if self.edge_id else "",
        ]
        place = ", ".join(part for part in where if part)
        where_text = f" ({place})" if place else ""
        return f"{self.severity.value}: {self.code.value}{where_text}: {self.message}"


class ValidationResult(GraphModel):
    errors: list[ValidationIssue] = Field(default_factory=list)
    warnings: list[ValidationIssue] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def valid(self) -> bool:
        """The seed's ``valid``: no errors (warnings allowed); sent along in JSON."""
        return not self.errors

    def issues(self) -> list[ValidationIssue]:
        return [*self.errors, *self.warnings]


class GraphParseError(ValueError):
    """The data is not shaped like a workflow graph; ``issues`` say where and why."""

    def __init__(self, issues: list[ValidationIssue]) -> None:
        super().__init__("; ".join(issue.message for issue in issues))
        self.issues = issues


def error_location(loc: tuple[int | str, ...]) -> str:
    """``('nodes', 3, 'data', 'label')`` -> ``nodes[3].data.label``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def parse_graph(data: Any) -> WorkflowGraph:
    """Parse JSON-like data into a graph, or raise :class:`GraphParseError`."""
    try:
        return WorkflowGraph.model_validate(data)
    except ValidationError as error:
        raise GraphParseError(_format_issues(error, data)) from None


def _format_issues(error: ValidationError, data: Any) -> list[ValidationIssue]:
    issues = []
    for detail in error.errors(include_url=False):
        loc = tuple(detail["loc"])
        node_id = edge_id = None
        if len(loc) >= 2 and isinstance(loc[1], int) and isinstance(data, dict):
            items = data.get(loc[0])
            item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
            item_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(item_id, str):
                node_id, edge_id = (item_id, None) if loc[0] == "nodes" else (None, item_id)
        where = error_location(loc) or "graph"
        item = f" (node {node_id!r})" if node_id else f" (edge {edge_id!r})" if edge_id else ""
        issues.append(
            ValidationIssue(
                code=IssueCode.INVALID_FORMAT,
                message=f"{where}{item}: {detail['msg']}",
                node_id=node_id,
                edge_id=edge_id,
                field=where,
            )
        )
    return issues
