"""State of the workflows page: the list with each workflow's last run, search, the
active toggles, and create, import, export and delete.

The page acts for the signed-in user (a tab without a valid session is sent to
sign-in). Handlers only call services; a refusal is shown as its message, never as a
traceback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import reflex as rx
from reflex.event import EventSpec

from workfuse import web_paths
from workfuse.graph import ValidationIssue
from workfuse.models import Execution, Workflow
from workfuse.secrets import process_secret_store
from workfuse.services import executions as execution_service
from workfuse.services import workflows as workflow_service
from workfuse.services.errors import InvalidInput
from workfuse.ui.session_state import SessionState

IMPORT_UPLOAD_ID = "workflow-import"
MAX_IMPORT_BYTES = 5 * 1024 * 1024  #: bytes; a larger file is refused before parsing
MAX_SHOWN_PROBLEMS = 50  #: validation problems listed after an import; the rest are counted


@dataclass
class WorkflowRow:
    """What the browser gets of a workflow (no graph, no secrets)."""

    id: str
    name: str
    description: str
    version: int
    is_active: bool
    node_count: int
    size: str  #: "5 nodes · v1"
    problem_count: int
    has_problems: bool
    updated: str
    updated_iso: str
    webhook_url: str
    editor_url: str
    executions_url: str
    last_status: str  #: "" if it never ran
    last_started_iso: str
    last_execution_url: str


class WorkflowsState(SessionState):
    rows: list[WorkflowRow] = []
    search: str = ""
    error: str = ""
    loaded: bool = False

    create_open: bool = False
    create_error: str = ""

    import_open: bool = False
    importing: bool = False
    import_error: str = ""
    import_problems: list[str] = []

    delete_id: str = ""
    delete_name: str = ""

    @rx.var
    def has_rows(self) -> bool:
        return len(self.rows) > 0

    @rx.var
    def delete_open(self) -> bool:
        return self.delete_id != ""

    def load(self) -> EventSpec | None:
        """Read the user's workflows (filtered by ``search``); no session: sign in."""
        return self._reload()

    def _reload(self) -> EventSpec | None:
        with self._unit_of_work() as work:
            workflows = workflow_service.list_workflows(
                session=work.session, user=work.user, search=self.search
            )
            latest = execution_service.latest_executions(
                session=work.session,
                user=work.user,
                workflow_ids=[workflow.id for workflow in workflows],
            )
            self.rows = [_row(workflow, latest.get(workflow.id)) for workflow in workflows]
        if not work.done:
            self.rows = []
            return work.redirect
        self.loaded = True
        return None

    def set_search(self, value: str) -> EventSpec | None:
        self.search = value
        return self._reload()

    def toggle_active(self, workflow_id: str, active: bool) -> EventSpec | None:
        self.error = ""
        with self._unit_of_work(error_var="error") as work:
            workflow_service.set_active(
                session=work.session, user=work.user, workflow_id=workflow_id, active=active
            )
        return work.redirect or self._reload()

    def run_now(self, workflow_id: str) -> EventSpec | None:
        """Start a manual run with the trigger's sample payload and open it."""
        self.error = ""
        with self._unit_of_work(error_var="error") as work:
            execution = execution_service.run_workflow(
                session=work.session, user=work.user, workflow_id=workflow_id
            )
        if not work.done:
            return work.redirect
        return rx.redirect(web_paths.execution(execution.id))

    # --- create ---------------------------------------------------------------------

    def set_create_open(self, open_: bool) -> None:
        self.create_open = open_
        self.create_error = ""

    def open_create(self) -> None:
        self.set_create_open(True)

    def create(self, form: dict[str, str]) -> EventSpec | None:
        """Create an empty workflow (a trigger node) with the name given, open the editor."""
        self.create_error = ""
        with self._unit_of_work(error_var="create_error") as work:
            workflow = workflow_service.create_empty_workflow(
                session=work.session, user=work.user, name=str(form.get("name", ""))
            )
            workflow_id = workflow.id
        if not work.done:
            return work.redirect
        self.create_open = False
        return rx.redirect(web_paths.workflow(workflow_id))

    # --- import ---------------------------------------------------------------------

    def set_import_open(self, open_: bool) -> None:
        self.import_open = open_
        self._clear_import_problems()

    def open_import(self) -> None:
        self.set_import_open(True)

    def _clear_import_problems(self) -> None:
        self.import_error = ""
        self.import_problems = []

    @rx.event
    async def import_file(self, files: list[rx.UploadFile]) -> EventSpec | list[EventSpec] | None:
        """Import one JSON export (or bare graph). An invalid file saves nothing and its
        problems are listed; only the first file dropped is read."""
        self._clear_import_problems()
        if not files:
            return None
        upload = files[0]
        name = upload.filename or "the file"
        data = await upload.read(MAX_IMPORT_BYTES + 1)
        if len(data) > MAX_IMPORT_BYTES:
            self.import_error = f"{name} is larger than {MAX_IMPORT_BYTES // 1024 // 1024} MB."
            return None
        try:
            document = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError:
            self.import_error = f"{name} is not a text file."
            return None
        except json.JSONDecodeError as error:
            self.import_error = f"{name} is not valid JSON."
            self.import_problems = [f"line {error.lineno}, column {error.colno}: {error.msg}"]
            return None
        with self._unit_of_work(error_var="import_error") as work:
            workflow = workflow_service.import_workflow(
                session=work.session, user=work.user, data=document
            )
            imported = workflow.name
        if isinstance(work.error, InvalidInput):
            self.import_error = f"{name} was not imported: nothing was saved."
            self.import_problems = _problems(work.error)
        if not work.done:
            return work.redirect
        self.import_open = False
        self._reload()
        return rx.toast.success(f"Imported “{imported}”")

    # --- export and delete ----------------------------------------------------------

    def export(self, workflow_id: str) -> EventSpec | None:
        """Download the workflow's export file (JSON, importable again)."""
        self.error = ""
        with self._unit_of_work(error_var="error") as work:
            exported = workflow_service.export_workflow(
                session=work.session, user=work.user, workflow_id=workflow_id
            )
        if not work.done:
            return work.redirect
        text = json.dumps(exported.model_dump(mode="json", by_alias=True), indent=2)
        return rx.download(
            data=text, filename=export_filename(exported.name), mime_type="application/json"
        )

    def ask_delete(self, workflow_id: str, name: str) -> None:
        self.delete_id, self.delete_name = workflow_id, name

    def set_delete_open(self, open_: bool) -> None:
        """Escape or a click outside closes the question without deleting."""
        if not open_:
            self.cancel_delete()

    def cancel_delete(self) -> None:
        self.delete_id, self.delete_name = "", ""

    def confirm_delete(self) -> EventSpec | list[EventSpec] | None:
        """Delete the workflow asked about, with its versions and executions."""
        workflow_id, name = self.delete_id, self.delete_name
        self.cancel_delete()
        self.error = ""
        with self._unit_of_work(error_var="error") as work:
            workflow_service.delete_workflow(
                session=work.session,
                user=work.user,
                store=process_secret_store(),
                workflow_id=workflow_id,
            )
        if not work.done:
            return work.redirect or self._reload()
        redirect = self._reload()
        return redirect or rx.toast(f"Deleted “{name}”")


def export_filename(name: str) -> str:
    """A safe file name for a workflow's export: ``nightly-report.workfuse.json``."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "workflow"
    return f"{slug}.workfuse.json"


def describe_issue(issue: ValidationIssue) -> str:
    """One line for a person: the message, prefixed by the field and the node or edge
    it concerns unless the message already names them."""
    places = [
        f"{kind} “{ident}”"
        for kind, ident in (("node", issue.node_id), ("edge", issue.edge_id))
        if ident and f"'{ident}'" not in issue.message
    ]
    if issue.field and issue.field not in issue.message:
        places.append(issue.field)
    return f"{', '.join(places)}: {issue.message}" if places else issue.message


def _problems(error: InvalidInput) -> list[str]:
    """One readable line per problem of a refused import (at most ``MAX_SHOWN_PROBLEMS``)."""
    if isinstance(error, workflow_service.WorkflowFileInvalid):
        lines = list(error.problems)
    elif error.issues:
        lines = [describe_issue(issue) for issue in error.issues]
    else:
        lines = [str(error)]
    if len(lines) > MAX_SHOWN_PROBLEMS:
        rest = len(lines) - MAX_SHOWN_PROBLEMS
        lines = [*lines[:MAX_SHOWN_PROBLEMS], f"… and {rest} more"]
    return lines


def _size(nodes: int, version: int) -> str:
    return f"{nodes} node{'' if nodes == 1 else 's'} · v{version}"


def _iso(execution: Execution | None) -> str:
    return "" if execution is None else execution.started_at.isoformat()


def _row(workflow: Workflow, last: Execution | None) -> WorkflowRow:
    public = workflow_service.to_public(workflow)
    return WorkflowRow(
        id=workflow.id,
        name=workflow.name,
        description=workflow.description or "",
        version=workflow.version,
        is_active=workflow.is_active,
        node_count=len(public.graph.nodes),
        size=_size(len(public.graph.nodes), workflow.version),
        problem_count=len(public.validation.errors),
        has_problems=not public.validation.valid,
        updated=workflow.updated_at.strftime("%Y-%m-%d %H:%M UTC"),
        updated_iso=workflow.updated_at.isoformat(),
        webhook_url=public.webhook_url,
        editor_url=web_paths.workflow(workflow.id),
        executions_url=f"{web_paths.EXECUTIONS}?workflow={workflow.id}",
        last_status="" if last is None else last.status.value,
        last_started_iso=_iso(last),
        last_execution_url="" if last is None else web_paths.execution(last.id),
    )
