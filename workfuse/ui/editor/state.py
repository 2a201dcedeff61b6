"""State of the workflow editor (``/workflows/<id>``).

The draft graph lives in backend-only vars; the browser gets what it draws: canvas
nodes and edges (no configs), the selected node's form, the problems, and run
results (outputs are stored redacted by the engine). Credential pickers get names
and ARNs, never values. Every change revalidates the draft (the seed's
``validateGraph``); saving goes through the workflow service as the signed-in user.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import reflex as rx
from reflex.event import EventSpec

from workfuse import web_paths
from workfuse.db import session_scope
from workfuse.engine.events import FINAL_TYPES, ExecutionUpdate, UpdateType
from workfuse.models import NodeRun, Workflow
from workfuse.nodes.registry import REGISTRY
from workfuse.services import executions as execution_service
from workfuse.services import secrets as secret_service
from workfuse.services import workflows as workflow_service
from workfuse.services.errors import NotFound, ServiceError
from workfuse.services.preferences import user_defaults
from workfuse.ui.editor import draft as drafts
from workfuse.ui.editor import form_edits, node_form
from workfuse.ui.editor.form_values import FormError
from workfuse.ui.editor.node_form import NodeForm
from workfuse.ui.live_updates import (
    EXECUTION_STATUS,
    FINISHED,
    MAX_SHOWN_JSON,
    NODE_STATUS,
    shown_json,
)
from workfuse.ui.session_state import SessionState


@dataclass
class CredentialOption:
    name: str
    arn: str


@dataclass
class VersionRow:
    version: int
    created: str


@dataclass
class NodeResult:
    """The selected node in the last run: what the panel's "Run" tab shows."""

    status: str = ""
    attempt: int = 0
    duration: str = ""
    input: str = ""
    output: str = ""
    error: str = ""


def _result_of(run: NodeRun) -> NodeResult:
    return NodeResult(
        status=run.status.value,
        attempt=run.attempt,
        duration="" if run.duration is None else f"{run.duration} ms",
        input=shown_json(run.input),
        output=shown_json(run.output),
        error=str((run.error or {}).get("message", "")),
    )


def _not_saved(problem: ServiceError) -> str:
    return f"Not saved: {problem}"


class EditorState(SessionState):
    workflow_id: str = ""
    missing: bool = False
    name: str = ""
    version: int = 0
    is_active: bool = False
    webhook_url: str = ""
    dirty: bool = False
    message: str = ""
    error: str = ""

    canvas_nodes: list[dict[str, Any]] = []
    canvas_edges: list[dict[str, Any]] = []
    problems: list[drafts.ProblemRow] = []
    error_count: int = 0
    warning_count: int = 0

    selected_node: str = ""
    selected_edge: str = ""
    form: NodeForm = NodeForm()
    form_error: str = ""
    show_more: bool = False
    palette_query: str = ""
    node_problems: list[str] = []
    node_warnings: list[str] = []
    credentials: list[CredentialOption] = []

    versions: list[VersionRow] = []
    run_payload: str = "{}"
    run_open: bool = False
    run_error: str = ""
    execution_id: str = ""
    execution_status: str = ""
    results: dict[str, NodeResult] = {}

    _draft_json: str = '{"nodes": [], "edges": []}'
    _texts: dict[str, str] = {}
    _statuses: dict[str, str] = {}

    # --- derived -----------------------------------------------------------------

    @rx.var
    def has_selection(self) -> bool:
        return self.selected_node != ""

    @rx.var
    def selected_result(self) -> NodeResult:
        return self.results.get(self.selected_node, NodeResult())

    @rx.var
    def can_activate(self) -> bool:
        return self.error_count == 0 and not self.dirty

    @rx.var
    def activate_hint(self) -> str:
        if self.dirty:
            return "Save first: the active state applies to the saved version."
        if self.error_count:
            return f"Fix the {self.error_count} problem(s) below to activate this workflow."
        return "Active workflows accept webhook calls."

    # --- loading -----------------------------------------------------------------

    def _route_id(self) -> str:
        return self.router.url.path.rstrip("/").rsplit("/", 1)[-1]

    def load(self) -> EventSpec | None:
        """Read the workflow of the URL into the draft (another user's: not found)."""
        self.workflow_id = self._route_id()
        with self._unit_of_work() as work:
            try:
                workflow = workflow_service.get_workflow(
                    session=work.session, user=work.user, workflow_id=self.workflow_id
                )
            except NotFound:
                self.missing = True
                return None
            self.credentials = [
                CredentialOption(name=ref.name, arn=ref.arn)
                for ref in secret_service.list_secrets(session=work.session, user_id=work.user.id)
            ]
            self._take(workflow)
        if not work.done:
            return work.redirect
        self.missing = False
        self.message = self.error = self.run_error = ""
        self.selected_node = self.selected_edge = ""
        self.execution_id = self.execution_status = ""
        self.results, self._statuses = {}, {}
        self.dirty = False
        self._refresh()
        return None

    def _take(self, workflow: Workflow) -> None:
        self.name = workflow.name
        self.version = workflow.version
        self.is_active = workflow.is_active
        self.webhook_url = workflow_service.webhook_url(workflow)
        draft = drafts.laid_out(
            {
                "nodes": list(workflow.graph.get("nodes", [])),
                "edges": list(workflow.graph.get("edges", [])),
            }
        )
        self._draft_json = json.dumps(draft)
        self._texts = {}
        trigger = REGISTRY.trigger_node(draft["nodes"])
        sample = ((trigger or {}).get("data") or {}).get("config", {}).get("samplePayload")
        self.run_payload = json.dumps(sample if sample is not None else {}, indent=2)

    def _get_draft(self) -> drafts.Draft:
        """A plain copy of the draft (kept as JSON text, so no state proxies leak out)."""
        draft: drafts.Draft = json.loads(self._draft_json)
        return draft

    def _refresh(self, draft: drafts.Draft | None = None, *, canvas: bool = True) -> None:
        """Recompute what the browser sees from the draft (after every change).

        ``canvas=False`` leaves the canvas and the problems list as they are: for a
        selection made on the canvas itself, which React Flow already shows (sending
        the nodes of a large workflow again would cost more than the click).
        """
        if draft is None:
            draft = self._get_draft()
        result = drafts.validate(self.name, draft)
        if canvas:
            self.canvas_nodes = drafts.canvas_nodes(
                draft, result, self._statuses, self.selected_node
            )
            self.canvas_edges = drafts.canvas_edges(
                draft, result, self._statuses, self.selected_edge
            )
            self.problems = drafts.problem_rows(result)
            self.error_count, self.warning_count = len(result.errors), len(result.warnings)
        node = drafts.find_node(draft, self.selected_node)
        if node is None:
            self.selected_node = ""
            self.form = NodeForm()
            self.node_problems, self.node_warnings = [], []
            return
        mine = [issue for issue in result.issues() if issue.node_id == self.selected_node]
        self.node_problems = [
            drafts.short_message(issue) for issue in mine if issue.severity.value == "error"
        ]
        self.node_warnings = [
            drafts.short_message(issue) for issue in mine if issue.severity.value == "warning"
        ]
        self.form = node_form.build_form(node, self._texts, drafts.form_errors(mine))

    def _change(self, draft: drafts.Draft) -> None:
        """Store ``draft`` (if it differs: then the editor is dirty) and refresh."""
        text = json.dumps(draft)
        if text != self._draft_json:
            self._draft_json = text
            self.dirty = True
            self.message = ""
        self._refresh(draft)

    # --- canvas events -----------------------------------------------------------

    def add_node(self, node_type: str) -> None:
        """Palette click: a new node right of the others, selected."""
        self._add(node_type, None, None)

    def drop_node(self, drop: dict[str, Any]) -> None:
        """Palette drag and drop: a new node where it was dropped."""
        self._add(str(drop.get("type", "")), drop.get("x"), drop.get("y"))

    def _add(self, node_type: str, x: Any, y: Any) -> None:
        try:
            position_x = float(x) if x is not None else None
            position_y = float(y) if y is not None else None
            draft, node_id = drafts.add_node(self._get_draft(), node_type, position_x, position_y)
        except (KeyError, TypeError, ValueError):
            self.error = f"Unknown node type {node_type!r}."
            return
        draft = self._with_user_defaults(draft, node_id)
        self.selected_node, self.selected_edge = node_id, ""
        self._change(draft)

    def _with_user_defaults(self, draft: drafts.Draft, node_id: str) -> drafts.Draft:
        """A new node starts with the user's defaults where its fields ask for them (the
        AI provider and model from Settings)."""
        with self._unit_of_work() as work:
            defaults = user_defaults(user=work.user)
        node = drafts.find_node(draft, node_id)
        if not work.done or not defaults or node is None:
            return draft
        return drafts.replace_node(draft, drafts.with_user_defaults(node, defaults))

    def nodes_moved(self, moves: list[dict[str, Any]]) -> None:
        self._change(drafts.move_nodes(self._get_draft(), moves))

    def connect_nodes(self, connection: dict[str, Any]) -> None:
        self._change(
            drafts.connect(
                self._get_draft(),
                str(connection.get("source") or ""),
                connection.get("sourceHandle"),
                str(connection.get("target") or ""),
            )
        )

    def delete_items(self, items: dict[str, Any]) -> None:
        nodes = [str(node_id) for node_id in items.get("nodes") or []]
        edges = [str(edge_id) for edge_id in items.get("edges") or []]
        self._change(drafts.delete_items(self._get_draft(), nodes, edges))

    def delete_selected(self) -> None:
        """The panel's Delete button (the canvas handles the Delete key itself)."""
        self.delete_items({"nodes": [self.selected_node], "edges": [self.selected_edge]})

    def select_item(self, item: dict[str, Any]) -> None:
        """A click on the canvas (or Escape): show the item's form."""
        self._select(item, canvas=False)

    def select_node(self, node_id: str) -> None:
        """A problem in the list was clicked: select its node, on the canvas too."""
        self._select({"kind": "node", "id": node_id}, canvas=True)

    def _select(self, item: dict[str, Any], *, canvas: bool) -> None:
        kind, item_id = item.get("kind"), str(item.get("id") or "")
        self.selected_node = item_id if kind == "node" else ""
        self.selected_edge = item_id if kind == "edge" else ""
        self.form_error = ""
        self._refresh(canvas=canvas)

    # --- panel events ------------------------------------------------------------

    def _edit_selected(self, edit: Any, *args: Any, typed: str = "") -> None:
        """Apply ``edit(node, *args)`` to the selected node; with ``typed`` (a common
        field or config path), first keep the text as typed if that field shows it so
        (see ``node_form``)."""
        draft = self._get_draft()
        node = drafts.find_node(draft, self.selected_node)
        if node is None:
            return
        if typed and node_form.keeps_typed_text(node, typed):
            self._texts[node_form.typed_key(self.selected_node, typed)] = str(args[-1])
        self._change(drafts.replace_node(draft, edit(node, *args)))

    def set_field(self, name: str, value: Any) -> None:
        """A field every node has changed (label, retry policy); see ``node_form``."""
        try:
            self._edit_selected(node_form.apply_edit, name, value, typed=name)
            self.form_error = ""
        except KeyError:
            self.form_error = f"Unknown field {name!r}."

    def _edit_config(self, edit: Any, path: str, *args: Any, typed: bool = False) -> None:
        """Apply a ``form_edits`` edit at config ``path`` of the selected node."""
        try:
            self._edit_selected(edit, path, *args, typed=path if typed else "")
            self.form_error = ""
        except FormError as problem:
            self.form_error = str(problem)
            self._refresh()
        except KeyError:
            self.form_error = f"This node has no field {path!r}."

    def set_value(self, path: str, value: Any) -> None:
        """A generated field changed; numbers and JSON keep the typed text."""
        self._edit_config(form_edits.set_value, path, value, typed=True)

    def toggle_choice(self, path: str, option: str, on: bool) -> None:
        self._edit_config(form_edits.toggle_choice, path, option, on)

    def toggle_group(self, path: str, on: bool) -> None:
        self._edit_config(form_edits.toggle_group, path, on)

    def set_pair(self, path: str, index: int, part: str, value: str) -> None:
        self._edit_config(form_edits.edit_pair, path, index, part, value)

    def add_pair(self, path: str) -> None:
        self._edit_config(form_edits.add_pair, path)

    def remove_pair(self, path: str, index: int) -> None:
        self._edit_config(form_edits.remove_pair, path, index)

    def add_row(self, path: str) -> None:
        self._edit_config(form_edits.add_row, path)

    def remove_row(self, path: str, index: int) -> None:
        """Remove a list row, and the texts typed in the list's rows (their indexes
        shift)."""
        inside = node_form.typed_key(self.selected_node, f"{path}.")
        self._texts = {key: text for key, text in self._texts.items() if not key.startswith(inside)}
        self._edit_config(form_edits.remove_row, path, index)

    def set_palette_query(self, value: str) -> None:
        """The palette's search text (the palette filters itself in the browser)."""
        self.palette_query = value

    def toggle_more(self) -> None:
        """Open or close the "More options" section (for every node alike)."""
        self.show_more = not self.show_more

    def set_name(self, value: str) -> None:
        self.name = value
        self.dirty = True
        self._refresh()

    # --- saving, activating, versions ----------------------------------------------

    def save(self) -> EventSpec | None:
        """Store the draft as a new version (an invalid one as an inactive draft)."""
        self.error = ""
        if self.form_error:
            self.error = f"Not saved: {self.form_error}"
            return None
        with self._unit_of_work(error_var="error", message=_not_saved) as work:
            workflow = workflow_service.update_workflow(
                session=work.session,
                user=work.user,
                workflow_id=self.workflow_id,
                data=workflow_service.WorkflowUpdate(name=self.name, graph=self._get_draft()),
            )
            self.version, self.is_active = workflow.version, workflow.is_active
        if not work.done:
            return work.redirect
        self.dirty = False
        self.message = (
            f"Saved version {self.version}."
            if not self.error_count
            else f"Saved version {self.version} as a draft: fix the problems to run it."
        )
        return None

    def set_active(self, active: bool) -> EventSpec | None:
        self.error = ""
        with self._unit_of_work(error_var="error") as work:
            workflow = workflow_service.set_active(
                session=work.session, user=work.user, workflow_id=self.workflow_id, active=active
            )
            self.is_active = workflow.is_active
        return work.redirect

    def load_versions(self) -> EventSpec | None:
        with self._unit_of_work(error_var="error") as work:
            rows = workflow_service.list_versions(
                session=work.session, user=work.user, workflow_id=self.workflow_id
            )
            self.versions = [
                VersionRow(version=row.version, created=row.created_at.strftime("%Y-%m-%d %H:%M"))
                for row in rows
            ]
        return work.redirect

    def open_version(self, version: int) -> EventSpec | None:
        """Load an earlier version into the draft; saving it restores it as the newest."""
        with self._unit_of_work(error_var="error") as work:
            rows = workflow_service.list_versions(
                session=work.session, user=work.user, workflow_id=self.workflow_id
            )
            row = next((row for row in rows if row.version == version), None)
            if row is None:
                self.error = f"Version {version} no longer exists."
                return None
            self.name = row.name
            draft = {"nodes": row.graph.get("nodes", []), "edges": row.graph.get("edges", [])}
        if not work.done:
            return work.redirect
        self._texts = {}
        self.selected_node = self.selected_edge = ""
        self._change(draft)
        self.message = f"Showing version {version}. Save to restore it as the newest version."
        return None

    # --- running -----------------------------------------------------------------

    def set_run_payload(self, value: str) -> None:
        self.run_payload = value

    def set_run_open(self, value: bool) -> None:
        self.run_open = value
        self.run_error = ""

    def run(self) -> EventSpec | list[EventSpec] | None:
        """Save if needed, start a manual run with the test payload, and follow it."""
        self.run_error = ""
        try:
            payload = json.loads(self.run_payload) if self.run_payload.strip() else None
        except json.JSONDecodeError as problem:
            self.run_error = (
                f"The test payload is not valid JSON: {problem.msg} (line {problem.lineno})."
            )
            return None
        if self.dirty:
            redirect = self.save()
            if redirect is not None or self.error:
                self.run_error = self.error
                return redirect
        with self._unit_of_work(error_var="run_error") as work:
            execution = execution_service.run_workflow(
                session=work.session, user=work.user, workflow_id=self.workflow_id, payload=payload
            )
            self.execution_id, self.execution_status = execution.id, execution.status.value
        if not work.done:
            return work.redirect
        self.run_open = False
        self._statuses = {node["id"]: "PENDING" for node in self._get_draft()["nodes"]}
        self.results = {}
        self._refresh()
        return EditorState.follow

    @rx.event(background=True)  # type: ignore[operator]
    async def follow(self) -> None:
        """Colour the nodes by the live updates of the run until it ends."""
        async with self:
            execution_id = self.execution_id
            with session_scope() as session:
                user = self._signed_in_user(session)
        if user is None or not execution_id:
            return
        async with execution_service.follow_execution(user=user, execution_id=execution_id) as (
            snapshot,
            updates,
        ):
            async with self:
                self._show_runs(snapshot.nodes.values(), snapshot.execution.status.value)
            if snapshot.execution.status.value not in FINISHED:
                async for update in updates:
                    async with self:
                        if self.execution_id != execution_id:
                            return  # a newer run (or another page) took over
                        self._apply(update)
                    if update.type in FINAL_TYPES:
                        break
        async with self:
            with session_scope() as session:
                user = self._signed_in_user(session)
                if user is None or self.execution_id != execution_id:
                    return
                execution = execution_service.get_execution(
                    session=session, user=user, execution_id=execution_id
                )
                runs = execution_service.node_runs(session=session, execution=execution)
                self._show_runs(runs, execution.status.value)

    def _show_runs(self, runs: Any, status: str) -> None:
        for run in runs:
            self._statuses[run.node_id] = run.status.value
            self.results[run.node_id] = _result_of(run)
        self.results = dict(self.results)
        self.execution_status = status
        self._refresh()

    def _apply(self, update: ExecutionUpdate) -> None:
        if update.type in EXECUTION_STATUS:
            self.execution_status = EXECUTION_STATUS[update.type]
        if update.node_id is None:
            return
        result = self.results.get(update.node_id, NodeResult())
        if update.type == UpdateType.TOKEN and isinstance(update.data, str):
            result.status = "RUNNING"
            result.output = (result.output + update.data)[-MAX_SHOWN_JSON:]
        node_status = NODE_STATUS.get(update.type)
        if node_status is not None:
            result.status = node_status
            self._statuses[update.node_id] = node_status
            data = update.data if isinstance(update.data, dict) else {}
            if "duration" in data:
                result.duration = f"{data['duration']} ms"
            if "output" in data:
                result.output = shown_json(data["output"])
            if isinstance(data.get("error"), dict):
                result.error = str(data["error"].get("message", ""))
        self.results = {**self.results, update.node_id: result}
        if node_status is not None:
            self._refresh()

    def open_execution(self) -> EventSpec:
        return rx.redirect(web_paths.execution(self.execution_id))
