"""State of the workflows page: the list, the search box and the active toggles.

The page acts for the signed-in user (a tab without a valid session is sent to
sign-in). Handlers only call services.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx
from reflex.event import EventSpec

from workfuse.db import session_scope
from workfuse.models import Workflow
from workfuse.services import executions as execution_service
from workfuse.services import workflows as workflow_service
from workfuse.services.errors import ServiceError
from workfuse.ui import routes
from workfuse.ui.session_state import SessionState


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


class WorkflowsState(SessionState):
    rows: list[WorkflowRow] = []
    search: str = ""
    error: str = ""
    loaded: bool = False

    @rx.var
    def has_rows(self) -> bool:
        return len(self.rows) > 0

    def load(self) -> EventSpec | None:
        """Read the user's workflows (filtered by ``search``); no session: sign in."""
        return self._reload()

    def _reload(self) -> EventSpec | None:
        with session_scope() as session:
            user = self._signed_in_user(session)
            if user is None:
                self.rows = []
                return self._to_sign_in()
            workflows = workflow_service.list_workflows(
                session=session, user=user, search=self.search
            )
            self.rows = [_row(workflow) for workflow in workflows]
        self.loaded = True
        return None

    def set_search(self, value: str) -> EventSpec | None:
        self.search = value
        return self._reload()

    def toggle_active(self, workflow_id: str, active: bool) -> EventSpec | None:
        self.error = ""
        try:
            with session_scope() as session:
                user = self._signed_in_user(session)
                if user is None:
                    return self._to_sign_in()
                workflow_service.set_active(
                    session=session, user=user, workflow_id=workflow_id, active=active
                )
        except ServiceError as error:
            self.error = str(error)
        return self._reload()

    def run_now(self, workflow_id: str) -> EventSpec | None:
        """Start a manual run with the trigger's sample payload and open it."""
        self.error = ""
        try:
            with session_scope() as session:
                user = self._signed_in_user(session)
                if user is None:
                    return self._to_sign_in()
                execution = execution_service.run_workflow(
                    session=session, user=user, workflow_id=workflow_id
                )
        except ServiceError as error:
            self.error = str(error)
            return None
        return rx.redirect(routes.execution(execution.id))


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
