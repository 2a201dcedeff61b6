"""Workflows: the seed's ``workflow.*`` procedures (create, update, delete, get, list,
export, import) plus versions and the active switch."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status
from fastapi.responses import JSONResponse

from workfuse.api.deps import CurrentUser, DbSession
from workfuse.models import ApiSchema
from workfuse.secrets import process_secret_store
from workfuse.services import workflows as service
from workfuse.services.workflows import (
    MAX_LIST_LIMIT,
    MAX_LIST_OFFSET,
    WorkflowCreate,
    WorkflowExport,
    WorkflowPublic,
    WorkflowUpdate,
)

router = APIRouter(prefix="/api/workflows", tags=["workflows"])


class WorkflowVersionPublic(ApiSchema):
    version: int
    name: str
    graph: dict[str, Any]
    created_at: datetime


@router.get("")
def list_workflows(
    user: CurrentUser,
    session: DbSession,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_LIST_OFFSET)] = 0,
) -> list[WorkflowPublic]:
    """The caller's workflows, most recently updated first; ``search`` matches names."""
    rows = service.list_workflows(
        session=session, user=user, search=search, limit=limit, offset=offset
    )
    return [service.to_public(row) for row in rows]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_workflow(data: WorkflowCreate, user: CurrentUser, session: DbSession) -> WorkflowPublic:
    """Create a workflow; an invalid graph is kept as an inactive draft (see ``validation``)."""
    return service.to_public(service.create_workflow(session=session, user=user, data=data))


@router.post("/import", status_code=status.HTTP_201_CREATED)
def import_workflow(
    user: CurrentUser, session: DbSession, data: Annotated[Any, Body()]
) -> WorkflowPublic:
    """Import an export file (or a bare graph); an invalid one is refused, nothing saved."""
    return service.to_public(service.import_workflow(session=session, user=user, data=data))


@router.get("/{workflow_id}")
def get_workflow(workflow_id: str, user: CurrentUser, session: DbSession) -> WorkflowPublic:
    workflow = service.get_workflow(session=session, user=user, workflow_id=workflow_id)
    return service.to_public(workflow)


@router.patch("/{workflow_id}")
def update_workflow(
    workflow_id: str, data: WorkflowUpdate, user: CurrentUser, session: DbSession
) -> WorkflowPublic:
    """Change name, description, graph or the active switch; each save is a new version."""
    workflow = service.update_workflow(
        session=session, user=user, workflow_id=workflow_id, data=data
    )
    return service.to_public(workflow)


@router.delete("/{workflow_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_workflow(workflow_id: str, user: CurrentUser, session: DbSession) -> None:
    service.delete_workflow(
        session=session, store=process_secret_store(), user=user, workflow_id=workflow_id
    )


@router.get("/{workflow_id}/export", response_model=WorkflowExport)
def export_workflow(workflow_id: str, user: CurrentUser, session: DbSession) -> JSONResponse:
    """The workflow as a file to import elsewhere (no ids, no secrets)."""
    exported: WorkflowExport = service.export_workflow(
        session=session, user=user, workflow_id=workflow_id
    )
    # ASCII only: a header value is Latin-1, and "둑".isalnum() is true.
    filename = "".join(
        c if (c.isascii() and c.isalnum()) or c in "-_" else "-" for c in exported.name
    )[:80]
    return JSONResponse(
        exported.model_dump(mode="json", by_alias=True),
        headers={"Content-Disposition": f'attachment; filename="{filename or "workflow"}.json"'},
    )


@router.get("/{workflow_id}/versions")
def list_versions(
    workflow_id: str, user: CurrentUser, session: DbSession
) -> list[WorkflowVersionPublic]:
    rows = service.list_versions(session=session, user=user, workflow_id=workflow_id)
    return [WorkflowVersionPublic.model_validate(row) for row in rows]
