"""State of the workflows page: the list, the search box and the active toggles.

Until sign-in lands, the page acts for the install's owner (``WORKFUSE_DEMO_EMAIL``,
the user the embedded first run creates). Handlers only call services.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx
from sqlmodel import Session

from workfuse.db import session_scope
from workfuse.models import User, Workflow
from workfuse.services import users as user_service
from workfuse.services import workflows as workflow_service
from workfuse.services.errors import NotFound, ServiceError
from workfuse.settings import get_settings


@dataclass
class WorkflowRow:
    """What the browser gets of a workflow (no graph, no secrets)."""

    id: str
    name: str
    description: str
    version: int
    is_active: bool
    node_count: int
    problem_count: int
    has_problems: bool
    updated: str
    webhook_url: str


def _owner(session: Session) -> User | None:
    try:
        return user_service.get_user_by_email(session=session, email=get_settings().demo_email)
    except NotFound:
        return None


class WorkflowsState(rx.State):
    rows: list[WorkflowRow] = []
    search: str = ""
    error: str = ""
    loaded: bool = False

    @rx.var
    def has_rows(self) -> bool:
        return len(self.rows) > 0

    def load(self) -> None:
        """Read the owner's workflows (filtered by ``search``)."""
        self._reload()

    def _reload(self) -> None:
        with session_scope() as session:
            owner = _owner(session)
            workflows = (
                workflow_service.list_workflows(session=session, user=owner, search=self.search)
                if owner
                else []
            )
            self.rows = [_row(workflow) for workflow in workflows]
        self.loaded = True

    def set_search(self, value: str) -> None:
        self.search = value
        self._reload()

    def toggle_active(self, workflow_id: str, active: bool) -> None:
        self.error = ""
        try:
            with session_scope() as session:
                owner = _owner(session)
                if owner is None:
                    raise NotFound("no owner")
                workflow_service.set_active(
                    session=session, user=owner, workflow_id=workflow_id, active=active
                )
        except ServiceError as error:
            self.error = str(error)
        self._reload()


def _row(workflow: Workflow) -> WorkflowRow:
    public = workflow_service.to_public(workflow)
    return WorkflowRow(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description or "",
        version=workflow.version,
        is_active=workflow.is_active,
        node_count=len(public.graph.nodes),
        problem_count=len(public.validation.errors),
        has_problems=not public.validation.valid,
        updated=workflow.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
        webhook_url=public.webhook_url,
    )
