"""Workflows: create, update (with version snapshots), delete, get, list, export, import.

Every function takes the acting user; another user's workflow is :class:`NotFound`.
A graph that fails validation may be stored only as an inactive draft; activating,
importing or running it is refused with the validation errors. Functions flush but
do not commit: the caller's session scope decides, so a failure writes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workfuse.caching import BoundedCache
from workfuse.graph import (
    MAX_LABEL_LENGTH,
    IssueCode,
    ValidationResult,
    WorkflowGraph,
    error_location,
)
from workfuse.graph_validation import check_graph_data
from workfuse.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NAME_LENGTH,
    ApiSchema,
    SecretReference,
    User,
    Workflow,
    WorkflowVersion,
)
from workfuse.nodes.registry import REGISTRY
from workfuse.secrets import SecretStore
from workfuse.services.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    WorkflowInvalid,
    reject_unstorable_text,
)
from workfuse.services.secrets import discard_secret_value
from workfuse.settings import get_settings

WEBHOOK_TOKEN_BYTES = 24  #: bytes of randomness (192 bits)
EXPORT_FORMAT: Final = "workfuse.workflow"
EXPORT_FORMAT_VERSION: Final = 1
MAX_LIST_LIMIT = 500
#: The largest list offset: the databases' integers are 64-bit (larger overflowed).
MAX_LIST_OFFSET = 1_000_000_000


class WorkflowCreate(ApiSchema):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    graph: dict[str, Any] = Field(default_factory=lambda: {"nodes": [], "edges": []})
    is_active: bool | None = None


class WorkflowUpdate(ApiSchema):
    """Fields left out stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    graph: dict[str, Any] | None = None
    is_active: bool | None = None


class WorkflowPublic(ApiSchema):
    id: str
    name: str
    description: str | None
    graph: WorkflowGraph
    version: int
    is_active: bool
    webhook_url: str
    created_at: datetime
    updated_at: datetime
    validation: ValidationResult


class WorkflowExport(ApiSchema):
    """The file format of ``export``/``import``; ``graph`` is the seed's WorkflowGraph.

    Unknown keys are refused, so a typo (``"descripton"``) is an error, not lost data.
    """

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, from_attributes=True, extra="forbid"
    )

    format: Literal["workfuse.workflow"] = EXPORT_FORMAT
    format_version: Literal[1] = EXPORT_FORMAT_VERSION
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    is_active: bool = True
    graph: dict[str, Any]


def webhook_url(workflow: Workflow) -> str:
    return f"{get_settings().base_url.rstrip('/')}/hooks/{workflow.webhook_token}"


def graph_of(workflow: Workflow) -> WorkflowGraph:
    """The stored workflow as the seed's ``WorkflowGraph``."""
    return WorkflowGraph.model_validate(
        {
            **workflow.graph,
            "id": workflow.id,
            "name": workflow.name,
            "version": workflow.version,
            "createdAt": workflow.created_at,
            "updatedAt": workflow.updated_at,
        }
    )


def to_public(workflow: Workflow) -> WorkflowPublic:
    graph = graph_of(workflow)
    _, validation = check_graph_data(graph.model_dump(mode="json"))
    return WorkflowPublic(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description,
        graph=graph,
        version=workflow.version,
        is_active=workflow.is_active,
        webhook_url=webhook_url(workflow),
        created_at=workflow.created_at,
        updated_at=workflow.updated_at,
        validation=validation,
    )


def _checked_graph(
    name: str, graph: dict[str, Any]
) -> tuple[dict[str, Any] | None, ValidationResult]:
    """The storable body of ``graph`` (or None if it is not graph-shaped) and its problems.

    A graph over the size limits is refused outright, never kept as a draft.
    """
    if not isinstance(graph, dict):
        raise InvalidInput("graph must be a JSON object with nodes and edges")
    reject_unstorable_text(name, "the name")
    reject_unstorable_text(graph, "the graph")
    parsed, validation = check_graph_data({**graph, "name": name})
    if any(issue.code is IssueCode.GRAPH_TOO_LARGE for issue in validation.errors):
        raise WorkflowInvalid("the graph is too large to store", validation.errors)
    return (parsed.body() if parsed else None), validation


def _decide_active(requested: bool | None, current: bool, validation: ValidationResult) -> bool:
    if validation.valid:
        return current if requested is None else requested
    if requested:
        raise WorkflowInvalid(
            "the workflow has validation errors, so it cannot be activated", validation.errors
        )
    return False


def _snapshot(session: Session, workflow: Workflow) -> None:
    session.add(
        WorkflowVersion(
            workflow_id=workflow.id,
            version=workflow.version,
            name=workflow.name,
            graph=workflow.graph,
        )
    )


def create_workflow(*, session: Session, user: User, data: WorkflowCreate) -> Workflow:
    """Store a new workflow (version 1); an invalid graph becomes an inactive draft."""
    reject_unstorable_text(data.description, "the description")
    body, validation = _checked_graph(data.name, data.graph)
    if body is None:
        raise WorkflowInvalid("the graph is not a valid workflow graph", validation.errors)
    workflow = Workflow(
        name=data.name,
        description=data.description,
        graph=body,
        webhook_token=secrets.token_urlsafe(WEBHOOK_TOKEN_BYTES),
        is_active=_decide_active(data.is_active, True, validation),
        user_id=user.id,
    )
    session.add(workflow)
    session.flush()
    _snapshot(session, workflow)
    session.flush()
    return workflow


TRIGGER_NODE_ID: Final = "trigger"


def starter_graph() -> dict[str, Any]:
    """The graph of a new workflow: one trigger node with its type's default config."""
    return {
        "nodes": [REGISTRY.default_trigger().new_node(TRIGGER_NODE_ID)],
        "edges": [],
    }


def create_empty_workflow(*, session: Session, user: User, name: str) -> Workflow:
    """A new, inactive workflow named ``name`` holding only a trigger node.

    It starts inactive so a webhook call does not run it before its owner has built
    it; the name is trimmed and must not be blank (:class:`InvalidInput`).
    """
    name = name.strip()
    if not name:
        raise InvalidInput("give the workflow a name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the name is longer than {MAX_NAME_LENGTH} characters")
    return create_workflow(
        session=session,
        user=user,
        data=WorkflowCreate(name=name, graph=starter_graph(), is_active=False),
    )


def get_workflow(*, session: Session, user: User, workflow_id: str) -> Workflow:
    workflow = session.get(Workflow, workflow_id)
    if workflow is None or workflow.user_id != user.id:
        raise NotFound(f"workflow {workflow_id} not found")
    return workflow


def list_workflows(
    *, session: Session, user: User, search: str | None = None, limit: int = 100, offset: int = 0
) -> list[Workflow]:
    """The user's workflows, most recently updated first; ``search`` matches the name."""
    query = select(Workflow).where(Workflow.user_id == user.id)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Workflow.name).ilike(f"%{escaped}%", escape="\\"))
    query = query.order_by(col(Workflow.updated_at).desc(), col(Workflow.id).desc())
    limit = max(1, min(limit, MAX_LIST_LIMIT))
    offset = max(0, min(offset, MAX_LIST_OFFSET))
    return list(session.exec(query.offset(offset).limit(limit)).all())


def workflow_names(*, session: Session, user: User, workflow_ids: Iterable[str]) -> dict[str, str]:
    """The names of those of ``workflow_ids`` that are the user's, by id (one query)."""
    ids = list(set(workflow_ids))
    if not ids:
        return {}
    query = select(Workflow.id, Workflow.name).where(
        Workflow.user_id == user.id, col(Workflow.id).in_(ids)
    )
    return dict(session.exec(query).all())


def update_workflow(
    *, session: Session, user: User, workflow_id: str, data: WorkflowUpdate
) -> Workflow:
    """Apply the changes, bump ``version`` and snapshot it in ``WorkflowVersion``."""
    workflow = get_workflow(session=session, user=user, workflow_id=workflow_id)
    reject_unstorable_text(data.description, "the description")
    name = data.name if data.name is not None else workflow.name
    graph = data.graph if data.graph is not None else workflow.graph
    body, validation = _checked_graph(name, graph)
    if body is None:
        raise WorkflowInvalid("the graph is not a valid workflow graph", validation.errors)
    workflow.is_active = _decide_active(data.is_active, workflow.is_active, validation)
    workflow.name = name
    if "description" in data.model_fields_set:
        workflow.description = data.description
    workflow.graph = body
    workflow.version += 1
    session.add(workflow)
    _snapshot(session, workflow)
    try:
        session.flush()
    except IntegrityError:
        # Another update took this version number first (the unique (workflow, version)).
        raise Conflict(
            f"workflow {workflow_id} was changed by someone else meanwhile; reload and retry"
        ) from None
    return workflow


def set_active(*, session: Session, user: User, workflow_id: str, active: bool) -> Workflow:
    """Switch the workflow on or off; switching on an invalid workflow is refused."""
    workflow = get_workflow(session=session, user=user, workflow_id=workflow_id)
    if active:
        ensure_runnable(workflow)
    workflow.is_active = active
    session.add(workflow)
    session.flush()
    return workflow


#: Graphs that passed validation, by (workflow id, version): a saved version never
#: changes, so starting an execution need not validate it again (bounded, FIFO).
MAX_RUNNABLE_CACHED = 4096
_RUNNABLE: BoundedCache[tuple[str, int], WorkflowGraph] = BoundedCache(MAX_RUNNABLE_CACHED)


def ensure_runnable(workflow: Workflow) -> WorkflowGraph:
    """The workflow's graph if it passes validation, else :class:`WorkflowInvalid`.

    The result is cached per saved version; do not change the graph it returns.
    """
    key = (workflow.id, workflow.version)
    cached = _RUNNABLE.get(key)
    if cached is not None and cached.name == workflow.name:
        return cached
    graph, validation = check_graph_data({**workflow.graph, "name": workflow.name})
    if graph is None or not validation.valid:
        raise WorkflowInvalid(
            f"workflow {workflow.name!r} has validation errors and cannot run", validation.errors
        )
    return _RUNNABLE.put(key, graph)


def delete_workflow(*, session: Session, store: SecretStore, user: User, workflow_id: str) -> None:
    """Delete the workflow with its versions, executions and the credentials scoped to
    it (commits; then their values leave the secret store, as ``delete_secret`` does)."""
    workflow = get_workflow(session=session, user=user, workflow_id=workflow_id)
    scoped = session.exec(
        select(SecretReference.arn).where(SecretReference.workflow_id == workflow_id)
    ).all()
    session.delete(workflow)
    session.commit()
    for arn in scoped:
        discard_secret_value(store, arn)


def list_versions(*, session: Session, user: User, workflow_id: str) -> list[WorkflowVersion]:
    get_workflow(session=session, user=user, workflow_id=workflow_id)
    query = (
        select(WorkflowVersion)
        .where(WorkflowVersion.workflow_id == workflow_id)
        .order_by(col(WorkflowVersion.version).desc())
    )
    return list(session.exec(query).all())


def export_workflow(*, session: Session, user: User, workflow_id: str) -> WorkflowExport:
    workflow = get_workflow(session=session, user=user, workflow_id=workflow_id)
    return WorkflowExport(
        name=workflow.name,
        description=workflow.description,
        is_active=workflow.is_active,
        graph={"name": workflow.name, **workflow.graph},
    )


class WorkflowFileInvalid(InvalidInput):
    """The file is JSON but not a workflow file; ``problems`` has one line per problem
    (``where: what``), and the message joins them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("not a WorkFuse workflow file: " + "; ".join(problems))
        self.problems = problems


def parse_workflow_file(data: Any) -> WorkflowExport:
    """Read an export file, or a bare seed ``WorkflowGraph`` (``{id?, name, nodes, edges}``)."""
    if not isinstance(data, dict):
        raise InvalidInput("a workflow file must hold a JSON object")
    if "format" not in data and "graph" not in data:
        name = data.get("name")
        data = {"name": name if isinstance(name, str) else "", "graph": data}
    try:
        exported = WorkflowExport.model_validate(data)
    except ValidationError as error:
        details = [
            f"{error_location(tuple(detail['loc'])) or 'file'}: {detail['msg']}"
            for detail in error.errors(include_url=False)
        ]
        raise WorkflowFileInvalid(details) from None
    return exported


def import_workflow(*, session: Session, user: User, data: Any) -> Workflow:
    """Create a workflow from an export or bare graph; an invalid graph writes nothing."""
    exported = parse_workflow_file(data)
    # The whole graph is validated, so an unknown key (a typo such as "edgse") is an
    # error rather than silently dropped data; storage keeps only nodes and edges.
    graph = dict(exported.graph)
    _, validation = _checked_graph(exported.name, graph)
    if not validation.valid:
        raise WorkflowInvalid(
            f"workflow {exported.name[:MAX_LABEL_LENGTH]!r} was not imported: "
            f"{len(validation.errors)} validation error(s)",
            validation.errors,
        )
    return create_workflow(
        session=session,
        user=user,
        data=WorkflowCreate(
            name=exported.name,
            description=exported.description,
            graph=graph,
            is_active=exported.is_active,
        ),
    )
