"""The UI's authorization matrix: one row per event handler of every Reflex State class
under ``workfuse/ui``.

A handler without a row, or a row without a handler, fails
:func:`test_every_event_handler_has_exactly_one_row`. A row says either that the
handler acts for the signed-in user (and which service functions it calls), or that it
only changes what the tab shows (and why no user data is involved).

What is proven:

- statically (:func:`test_handlers_act_as_the_signed_in_user`), from the source of the
  handler and of the state's own methods it calls, transitively: an ``acts`` handler
  resolves the user through ``SessionState._signed_in_user`` and calls exactly the
  service functions its row names; a ``local`` handler touches no service and no
  database session. So a new service call in a handler needs its row updated.
- by running the real handlers without a browser (:func:`test_a_handler_acts_only_for_its_owner`),
  on a state built as Reflex builds it, with the tab's cookie header set: for the
  handlers that read or change a workflow, execution, credential or API token by id
  (the id given as an argument or put in a state var, as a hostile tab could with
  ``setvar``), an anonymous tab is sent to sign-in, Grace's tab changes nothing of
  Ada's and is shown none of it (or the handler raises ``NotFound``), and Ada's does
  what the handler is for.
- the services those handlers call refuse another user's ids with ``NotFound``
  (:func:`test_services_refuse_another_users_ids`).

What is not: the background handlers (``follow``, ``generate_magic``) are checked
statically only (``follow_execution`` itself is in ``test_subscriptions.py``);
``import_file`` and the canvas and form handlers are checked statically only (they
change the tab's own draft; saving goes through ``save``, probed here). Reflex's own
transport (the websocket, ``/_upload``, which state a token may address) is not
tested: these tests call the handlers directly, through two private Reflex hooks
(``_reflex_internal_init`` and ``_update_router_vars``).
"""

from __future__ import annotations

import ast
import base64
import importlib
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import reflex as rx
from sqlmodel import Session, select

import workfuse.ui
from workfuse import web_paths
from workfuse.db import get_engine, session_scope
from workfuse.models import ApiToken, Execution, User, Workflow, WorkflowVersion
from workfuse.secrets import process_secret_store
from workfuse.services import api_tokens, auth, executions, secrets, workflows
from workfuse.services.errors import NotFound
from workfuse.ui.credentials_state import CredentialsState
from workfuse.ui.editor.state import EditorState
from workfuse.ui.executions_state import ExecutionDetailState, ExecutionsState
from workfuse.ui.settings_state import SettingsState
from workfuse.ui.workflows_state import WorkflowsState

PASSWORD = "correct horse battery"
WORKFLOW_NAME = "Ada canary ledger 7f3a"
SECRET_NAME = "Ada canary key 0c9d"
SECRET_VALUE = "sk-ada-canary-value-91b2"
TOKEN_NAME = "Ada canary token 3e8f"
CANARIES = ("ada@example.com", WORKFLOW_NAME, SECRET_NAME, SECRET_VALUE, TOKEN_NAME)

# --- the table --------------------------------------------------------------------


@dataclass(frozen=True)
class Acts:
    """The handler acts for the signed-in user through these service functions."""

    services: frozenset[str]


@dataclass(frozen=True)
class Anyone:
    """A handler of a page for anybody (sign-in): no user to act for; ``reason`` says
    why what it reads is nobody's data, ``services`` what it calls."""

    reason: str
    services: frozenset[str]


@dataclass(frozen=True)
class Local:
    """The handler changes only what the tab shows; ``reason`` says why that is safe."""

    reason: str


def acts(*services: str) -> Acts:
    return Acts(frozenset(f"workfuse.services.{name}" for name in services))


SETVAR = Local(
    "Reflex's built-in setter: the tab may set any public var, so no handler trusts an id "
    "in a var; the services check it against the signed-in user (probed below)"
)
DIALOG = Local("opens or closes a dialog")
FILTER = "executions.list_executions", "workflows.workflow_names", "workflows.list_workflows"
EXECUTION_SHOWN = (
    "executions.pinned_nodes",
    "workflows.workflow_names",
    "executions.pinned_graph",
    "executions.node_runs",
    "executions.in_execution_order",
)
DRAFT_EDIT = Local("edits the tab's draft graph; only save() stores it")
USER_DEFAULTS = acts("preferences.user_defaults")
EDITOR_LOAD = (
    "workflows.get_workflow",
    "secrets.list_secrets",
    "workflows.webhook_url",
)
MAGIC = ("preferences.get_ai_defaults",)

HANDLERS: dict[str, Acts | Anyone | Local] = {
    "AuthFormState.load": Anyone(
        "the sign-in page: reads only whether the first-run owner is still unclaimed",
        frozenset({"workfuse.services.auth.unclaimed_owner"}),
    ),
    "AuthFormState.setvar": SETVAR,
    "SessionState.setvar": SETVAR,
    # Workflows page
    "WorkflowsState.load": acts(
        "workflows.list_workflows", "executions.latest_executions", "workflows.to_public"
    ),
    "WorkflowsState.set_search": acts(
        "workflows.list_workflows", "executions.latest_executions", "workflows.to_public"
    ),
    "WorkflowsState.toggle_active": acts(
        "workflows.set_active",
        "workflows.list_workflows",
        "executions.latest_executions",
        "workflows.to_public",
    ),
    "WorkflowsState.run_now": acts("executions.run_workflow"),
    "WorkflowsState.create": acts("workflows.create_empty_workflow"),
    "WorkflowsState.import_file": acts(
        "workflows.import_workflow",
        "workflows.list_workflows",
        "executions.latest_executions",
        "workflows.to_public",
    ),
    "WorkflowsState.export": acts("workflows.export_workflow"),
    "WorkflowsState.confirm_delete": acts(
        "workflows.delete_workflow",
        "workflows.list_workflows",
        "executions.latest_executions",
        "workflows.to_public",
    ),
    "WorkflowsState.ask_delete": Local(
        "remembers which row's delete was asked; see confirm_delete"
    ),
    "WorkflowsState.cancel_delete": DIALOG,
    "WorkflowsState.set_delete_open": DIALOG,
    "WorkflowsState.set_create_open": DIALOG,
    "WorkflowsState.open_create": DIALOG,
    "WorkflowsState.set_import_open": DIALOG,
    "WorkflowsState.open_import": DIALOG,
    "WorkflowsState.setvar": SETVAR,
    # Credentials page
    "CredentialsState.load": acts("secrets.credential_usage", "secrets.list_secrets"),
    "CredentialsState.create": acts(
        "secrets.create_secret", "secrets.credential_usage", "secrets.list_secrets"
    ),
    "CredentialsState.rotate": acts("secrets.rotate_secret"),
    "CredentialsState.confirm_delete": acts(
        "secrets.get_secret",
        "secrets.workflows_using",
        "secrets.credential_usage",
        "secrets.list_secrets",
    ),
    "CredentialsState.delete": acts(
        "secrets.delete_secret", "secrets.credential_usage", "secrets.list_secrets"
    ),
    "CredentialsState.start_rotate": Local("copies a row the tab already shows into the dialog"),
    "CredentialsState.open_create": DIALOG,
    "CredentialsState.set_create_open": DIALOG,
    "CredentialsState.set_rotate_open": DIALOG,
    "CredentialsState.set_delete_open": DIALOG,
    "CredentialsState.setvar": SETVAR,
    # Settings page
    "SettingsState.load": acts("api_tokens.list_api_tokens", "preferences.get_ai_defaults"),
    "SettingsState.create_token": acts("api_tokens.create_api_token"),
    "SettingsState.revoke": acts(
        "api_tokens.revoke_api_token", "api_tokens.list_api_tokens", "preferences.get_ai_defaults"
    ),
    "SettingsState.save_ai_defaults": acts("preferences.set_ai_defaults"),
    "SettingsState.clear_ai_defaults": acts("preferences.set_ai_defaults"),
    "SettingsState.confirm_revoke": Local("copies a row the tab already shows into the dialog"),
    "SettingsState.set_revoke_open": DIALOG,
    "SettingsState.set_ai_provider": Local("a form field"),
    "SettingsState.set_ai_model": Local("a form field"),
    "SettingsState.setvar": SETVAR,
    # Executions list
    **{
        f"ExecutionsState.{name}": acts(*FILTER)
        for name in (
            "load",
            "set_status_filter",
            "set_workflow_filter",
            "set_range_filter",
            "clear_filters",
            "older",
            "newer",
            "watch",
        )
    },
    "ExecutionsState.setvar": SETVAR,
    # Execution detail
    "ExecutionDetailState.load": acts("executions.get_execution", *EXECUTION_SHOWN),
    "ExecutionDetailState.cancel": acts("executions.cancel_execution", *EXECUTION_SHOWN),
    "ExecutionDetailState.retry_from_start": acts("executions.retry_execution"),
    "ExecutionDetailState.retry_from_failed_node": acts("executions.retry_execution"),
    "ExecutionDetailState.follow": acts(
        "executions.follow_execution",
        "executions.get_execution",
        "executions.in_execution_order",
        *EXECUTION_SHOWN,
    ),
    "ExecutionDetailState.select_graph_node": Local("opens a node row the tab already has"),
    "ExecutionDetailState.toggle_node": Local("opens or closes a node row the tab already has"),
    "ExecutionDetailState.setvar": SETVAR,
    # Editor
    "EditorState.load": acts(*EDITOR_LOAD),
    "EditorState.save": acts("workflows.update_workflow"),
    "EditorState.set_active": acts("workflows.set_active"),
    "EditorState.load_versions": acts("workflows.list_versions"),
    "EditorState.open_version": acts("workflows.list_versions"),
    "EditorState.run": acts("workflows.update_workflow", "executions.run_workflow"),
    "EditorState.follow": acts(
        "executions.follow_execution", "executions.get_execution", "executions.node_runs"
    ),
    "EditorState.add_node": USER_DEFAULTS,
    "EditorState.drop_node": USER_DEFAULTS,
    **{
        f"EditorState.{name}": DRAFT_EDIT
        for name in (
            "nodes_moved",
            "connect_nodes",
            "delete_items",
            "delete_selected",
            "set_field",
            "set_value",
            "toggle_choice",
            "toggle_group",
            "set_pair",
            "add_pair",
            "remove_pair",
            "add_row",
            "remove_row",
            "set_name",
        )
    },
    "EditorState.toggle_more": Local("opens or closes the form's advanced section"),
    "EditorState.set_palette_query": Local("filters the palette the tab shows"),
    "EditorState.select_item": Local("selects an item of the tab's draft"),
    "EditorState.select_node": Local("selects an item of the tab's draft"),
    "EditorState.set_run_payload": Local("a form field"),
    "EditorState.set_run_open": DIALOG,
    "EditorState.open_execution": Local("a link to the execution the tab started"),
    "EditorState.setvar": SETVAR,
    # Magic input panel
    "MagicInputState.open_magic": acts(*MAGIC),
    "MagicInputState.generate_magic": acts("ai.generate_config"),
    "MagicInputState.apply_magic": DRAFT_EDIT,
    "MagicInputState.discard_magic": Local("forgets the tab's proposal"),
    **{
        f"MagicInputState.{name}": Local("a form field of the panel")
        for name in (
            "set_magic_open",
            "set_magic_prompt",
            "set_magic_provider",
            "set_magic_model",
            "set_magic_key_arn",
            "set_magic_base_url",
        )
    },
    "MagicInputState.setvar": SETVAR,
}


def _ui_state_classes() -> dict[str, type[rx.State]]:
    """Every ``rx.State`` subclass defined in a module under ``workfuse/ui``."""
    root = Path(workfuse.ui.__file__).parent
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent.parent).with_suffix("").parts
        importlib.import_module(".".join(parts).removesuffix(".__init__"))
    found: dict[str, type[rx.State]] = {}
    pending: list[type[Any]] = [rx.State]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("workfuse.ui."):
            assert cls.__name__ not in found, f"two State classes named {cls.__name__}"
            found[cls.__name__] = cls
    return found


STATES = _ui_state_classes()


def _handler_keys() -> list[str]:
    return [f"{name}.{handler}" for name, cls in STATES.items() for handler in cls.event_handlers]


def test_every_event_handler_has_exactly_one_row() -> None:
    handlers = set(_handler_keys())

    missing = sorted(handlers - set(HANDLERS))
    stale = sorted(set(HANDLERS) - handlers)

    assert not missing, (
        f"event handlers without a row in {__name__}.HANDLERS: {missing}. Add one: "
        "acts(...) with the services it calls, or Local(reason)."
    )
    assert not stale, f"rows for event handlers that no longer exist: {stale}"


# --- static: what each handler's code reaches ---------------------------------------


@dataclass
class Reach:
    services: set[str]
    signed_in_user: bool = False
    database: bool = False


def _function(cls: type[Any], name: str) -> Any:
    """``cls.name`` as a plain function (an EventHandler wraps one), or None."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            found = inspect.unwrap(getattr(klass.__dict__[name], "fn", klass.__dict__[name]))
            return found if inspect.isfunction(found) else None
    return None


def _resolve(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, names)
        if inspect.ismodule(base) or inspect.isclass(base):
            return getattr(base, node.attr, None)
    return None


def _reach(cls: type[Any], handler: str) -> Reach:
    """The service functions, the database session and the user lookup that the
    handler's code reaches: its source, and transitively the state's methods it calls
    (``self.x``) and the functions of ``workfuse.ui`` modules it calls. A handler it
    returns (a chained event) is not followed: that one has a row of its own."""
    reach = Reach(services=set())
    seen: set[Any] = set()
    todo = [_function(cls, handler)]
    while todo:
        function = todo.pop()
        if function is None or function in seen:
            continue
        seen.add(function)
        if function is _function(cls, "_signed_in_user"):
            reach.signed_in_user = True
            continue
        if not getattr(function, "__module__", "").startswith("workfuse.ui."):
            continue  # Reflex's own (setvar)
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
        names = vars(inspect.getmodule(function))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Name | ast.Attribute):
                continue
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                todo.append(_function(cls, node.attr))
                continue
            target = _resolve(node, names)
            if target is session_scope:
                reach.database = True
            elif inspect.isfunction(target):
                if target.__module__.startswith("workfuse.services."):
                    reach.services.add(f"{target.__module__}.{target.__qualname__}")
                elif target.__module__.startswith("workfuse.ui."):
                    todo.append(target)
    return reach


@pytest.mark.parametrize("key", sorted(HANDLERS))
def test_handlers_act_as_the_signed_in_user(key: str) -> None:
    class_name, handler = key.split(".")
    row, reach = HANDLERS[key], _reach(STATES[class_name], handler)

    if isinstance(row, Acts | Anyone):
        assert reach.services == set(row.services), (
            f"{key} calls {sorted(reach.services)}; its row names {sorted(row.services)}"
        )
    if isinstance(row, Acts):
        assert reach.signed_in_user, f"{key} does not resolve the user (_signed_in_user)"
    if isinstance(row, Local):
        assert not reach.services, f"{key} is Local but calls {sorted(reach.services)}"
        assert not reach.database, f"{key} is Local but opens a database session"


# --- running the handlers -----------------------------------------------------------


@dataclass
class People:
    ada: User
    grace: User
    ada_cookie: str
    grace_cookie: str
    workflow: str
    execution: str  #: PENDING (no worker runs here)
    finished: str  #: CANCELLED
    secret: str
    token: str


@pytest.fixture
def people(database_url: str) -> People:
    with session_scope() as session:
        ada = auth.sign_up(session=session, email="ada@example.com", password=PASSWORD)
        grace = auth.sign_up(session=session, email="grace@example.com", password=PASSWORD)
        workflow = workflows.create_workflow(
            session=session,
            user=ada.user,
            data=workflows.WorkflowCreate(name=WORKFLOW_NAME, graph=workflows.starter_graph()),
        )
        token, _ = api_tokens.create_api_token(session=session, user=ada.user, name=TOKEN_NAME)
        ids = workflow.id, token.id
    with session_scope() as session:
        pending = executions.run_workflow(session=session, user=ada.user, workflow_id=ids[0])
        finished = executions.run_workflow(session=session, user=ada.user, workflow_id=ids[0])
        executions.cancel_execution(session=session, user=ada.user, execution_id=finished.id)
    with session_scope() as session:
        secret = secrets.create_secret(
            session=session,
            store=process_secret_store(),
            user_id=ada.user.id,
            name=SECRET_NAME,
            value=SECRET_VALUE,
        )
    return People(
        ada=ada.user,
        grace=grace.user,
        ada_cookie=f"workfuse_session={ada.token}",
        grace_cookie=f"workfuse_session={grace.token}",
        workflow=ids[0],
        execution=pending.id,
        finished=finished.id,
        secret=secret.id,
        token=ids[1],
    )


def _adas_world(people: People) -> dict[str, Any]:
    """Ada's rows as stored, and her credential's value."""
    with Session(get_engine()) as session:
        rows: dict[str, Any] = {}
        for model in (Workflow, WorkflowVersion, Execution, ApiToken):
            found = session.exec(select(model)).all()
            rows[model.__name__] = sorted(
                (row.model_dump() for row in found if _owned_by_ada(session, row, people)),
                key=repr,
            )
        listed = secrets.list_secrets(session=session, user_id=people.ada.id)
        rows["secrets"] = [
            (row.model_dump(), process_secret_store().get_secret_value(row.arn)) for row in listed
        ]
    return rows


def _owned_by_ada(session: Session, row: Any, people: People) -> bool:
    if isinstance(row, WorkflowVersion):
        return row.workflow_id == people.workflow
    return bool(row.user_id == people.ada.id)


def _tab(cls: type[rx.State], cookie: str, path: str) -> Any:
    """A state of ``cls`` as Reflex builds one for a tab on ``path`` sending ``cookie``."""
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    root._update_router_vars(
        {"headers": {"cookie": cookie} if cookie else {}, "pathname": path, "asPath": path}, {}
    )
    return root.get_substate(cls.get_full_name().split("."))


@dataclass(frozen=True)
class Probe:
    """A handler run on Ada's resource: ``prepare`` puts ids in the tab's vars and returns
    the handler's arguments. ``changes``: Ada's own call changes her data (else it
    shows her data: a canary appears in the tab's state or the handler's answer)."""

    state: type[rx.State]
    handler: str
    path: str
    prepare: Callable[[Any, People], tuple[Any, ...]]
    changes: bool

    @property
    def key(self) -> str:
        return f"{self.state.__name__}.{self.handler}"


def _vars(**values: Callable[[People], Any]) -> Callable[[Any, People], tuple[Any, ...]]:
    def prepare(state: Any, people: People) -> tuple[Any, ...]:
        for name, value in values.items():
            setattr(state, name, value(people))
        return ()

    return prepare


def _args(*values: Callable[[People], Any]) -> Callable[[Any, People], tuple[Any, ...]]:
    return lambda _, people: tuple(value(people) for value in values)


def _workflow(people: People) -> str:
    return people.workflow


def _execution(people: People) -> str:
    return people.execution


def _secret(people: People) -> str:
    return people.secret


PROBES = [
    Probe(WorkflowsState, "load", web_paths.WORKFLOWS, _args(), changes=False),
    Probe(
        WorkflowsState,
        "toggle_active",
        web_paths.WORKFLOWS,
        _args(_workflow, lambda _: False),
        changes=True,
    ),
    Probe(WorkflowsState, "run_now", web_paths.WORKFLOWS, _args(_workflow), changes=True),
    Probe(WorkflowsState, "export", web_paths.WORKFLOWS, _args(_workflow), changes=False),
    Probe(
        WorkflowsState,
        "confirm_delete",
        web_paths.WORKFLOWS,
        _vars(delete_id=_workflow, delete_name=lambda _: "x"),
        changes=True,
    ),
    Probe(CredentialsState, "load", "/credentials", _args(), changes=False),
    Probe(CredentialsState, "confirm_delete", "/credentials", _args(_secret), changes=False),
    Probe(
        CredentialsState,
        "rotate",
        "/credentials",
        lambda state, people: (
            (*_vars(rotate_id=_secret)(state, people), {"value": "rotated by the tab"})
        ),
        changes=True,
    ),
    Probe(CredentialsState, "delete", "/credentials", _vars(delete_id=_secret), changes=True),
    Probe(SettingsState, "load", "/settings", _args(), changes=False),
    Probe(SettingsState, "revoke", "/settings", _vars(revoke_id=lambda p: p.token), changes=True),
    Probe(
        ExecutionsState,
        "set_workflow_filter",
        web_paths.EXECUTIONS,
        _args(_workflow),
        changes=False,
    ),
    Probe(
        ExecutionDetailState,
        "load",
        "/executions/{execution}",
        _args(),
        changes=False,
    ),
    Probe(
        ExecutionDetailState,
        "cancel",
        "/executions/{execution}",
        _vars(execution_id=_execution),
        changes=True,
    ),
    Probe(
        ExecutionDetailState,
        "retry_from_start",
        "/executions/{finished}",
        _vars(execution_id=lambda p: p.finished),
        changes=True,
    ),
    Probe(EditorState, "load", "/workflows/{workflow}", _args(), changes=False),
    Probe(
        EditorState,
        "save",
        "/workflows/{workflow}",
        _vars(workflow_id=_workflow, name=lambda _: "Renamed by the tab"),
        changes=True,
    ),
    Probe(
        EditorState,
        "set_active",
        "/workflows/{workflow}",
        lambda state, people: (*_vars(workflow_id=_workflow)(state, people), False),
        changes=True,
    ),
    Probe(
        EditorState,
        "open_version",
        "/workflows/{workflow}",
        lambda state, people: (*_vars(workflow_id=_workflow)(state, people), 1),
        changes=False,
    ),
    Probe(
        EditorState,
        "run",
        "/workflows/{workflow}",
        _vars(workflow_id=_workflow, run_payload=lambda _: "{}"),
        changes=True,
    ),
]


def _call(probe: Probe, people: People, cookie: str) -> tuple[Any, Any]:
    path = probe.path.format(
        workflow=people.workflow, execution=people.execution, finished=people.finished
    )
    state = _tab(probe.state, cookie, path)
    args = probe.prepare(state, people)
    handler = probe.state.event_handlers[probe.handler].fn
    try:
        answer = handler(state, *args)
    except NotFound as refused:  # Reflex shows the tab an error, no data
        answer = refused
    return state, answer


def _shown(state: Any, answer: Any) -> str:
    """What the tab gets: its state, and the handler's answer (a download's data URL
    decoded)."""
    text = f"{state.dict()} {answer!r}"
    downloads = re.findall(r"base64,([A-Za-z0-9+/=]+)", text)
    return " ".join([text, *(base64.b64decode(data).decode() for data in downloads)])


@pytest.mark.parametrize("probe", PROBES, ids=[probe.key for probe in PROBES])
def test_a_handler_acts_only_for_its_owner(probe: Probe, people: People) -> None:
    before = _adas_world(people)

    # An anonymous tab is sent to sign-in and changes nothing
    _, answer = _call(probe, people, cookie="")
    assert isinstance(answer, rx.event.EventSpec), answer
    assert web_paths.SIGN_IN in repr(answer.args), answer
    assert _adas_world(people) == before

    # Grace's tab changes nothing of Ada's and is shown none of it
    state, answer = _call(probe, people, people.grace_cookie)
    shown = _shown(state, answer)
    assert not [canary for canary in CANARIES if canary in shown], shown[:1000]
    assert _adas_world(people) == before, f"Grace's {probe.key} changed Ada's data"

    # Ada's tab does what the handler is for
    state, answer = _call(probe, people, people.ada_cookie)
    assert not isinstance(answer, NotFound), answer
    if probe.changes:
        assert _adas_world(people) != before, f"Ada's {probe.key} changed nothing"
    else:
        assert any(canary in _shown(state, answer) for canary in CANARIES), (
            f"Ada's {probe.key} showed none of her data"
        )


def test_probes_cover_every_handler_that_takes_an_id() -> None:
    """Each acting handler that names a workflow, execution, credential or token by id
    (an argument or a state var) is probed; listed exceptions are covered otherwise."""
    probed = {probe.key for probe in PROBES}
    elsewhere = {
        "ExecutionDetailState.retry_from_failed_node": "the same _retry as retry_from_start",
        "ExecutionDetailState.follow": "background; follow_execution: test_subscriptions.py",
        "EditorState.follow": "background; follow_execution: test_subscriptions.py",
        "EditorState.load_versions": "the same list_versions call as open_version",
        "WorkflowsState.set_search": "the same _reload as load",
        "CredentialsState.create": "creates the caller's own; no id of anyone else's",
        **{
            f"ExecutionsState.{name}": "the same _fetch as set_workflow_filter"
            for name in ("load", "set_status_filter", "set_range_filter", "clear_filters")
        },
        **{
            f"ExecutionsState.{name}": "the same _fetch; the cursor only pages the user's list"
            for name in ("older", "newer")
        },
        "ExecutionsState.watch": "background; the same _fetch of the page the tab shows",
    }
    by_id = {
        "get_workflow", "set_active", "run_workflow", "export_workflow", "delete_workflow",
        "update_workflow", "list_versions", "get_execution", "cancel_execution",
        "retry_execution", "follow_execution", "get_secret", "rotate_secret",
        "delete_secret", "revoke_api_token", "list_executions",
    }  # fmt: skip
    for key, row in HANDLERS.items():
        if isinstance(row, Acts) and {name.rsplit(".", 1)[1] for name in row.services} & by_id:
            assert key in probed or key in elsewhere, f"{key} takes an id and is not probed"


# --- the services under the handlers -------------------------------------------------


def _services_refusing(people: People) -> Iterator[tuple[str, Callable[[Session], Any]]]:
    grace, store = people.grace, process_secret_store()
    wf, ex, done = people.workflow, people.execution, people.finished
    yield (
        "workflows.get_workflow",
        lambda s: workflows.get_workflow(session=s, user=grace, workflow_id=wf),
    )
    yield (
        "workflows.update_workflow",
        lambda s: workflows.update_workflow(
            session=s, user=grace, workflow_id=wf, data=workflows.WorkflowUpdate(name="x")
        ),
    )
    yield (
        "workflows.delete_workflow",
        lambda s: workflows.delete_workflow(session=s, store=store, user=grace, workflow_id=wf),
    )
    yield (
        "workflows.set_active",
        lambda s: workflows.set_active(session=s, user=grace, workflow_id=wf, active=False),
    )
    yield (
        "workflows.list_versions",
        lambda s: workflows.list_versions(session=s, user=grace, workflow_id=wf),
    )
    yield (
        "workflows.export_workflow",
        lambda s: workflows.export_workflow(session=s, user=grace, workflow_id=wf),
    )
    yield (
        "executions.run_workflow",
        lambda s: executions.run_workflow(session=s, user=grace, workflow_id=wf),
    )
    yield (
        "executions.get_execution",
        lambda s: executions.get_execution(session=s, user=grace, execution_id=ex),
    )
    yield (
        "executions.cancel_execution",
        lambda s: executions.cancel_execution(session=s, user=grace, execution_id=ex),
    )
    yield (
        "executions.retry_execution",
        lambda s: executions.retry_execution(session=s, user=grace, execution_id=done),
    )
    yield (
        "secrets.get_secret",
        lambda s: secrets.get_secret(session=s, user_id=grace.id, secret_id=people.secret),
    )
    yield (
        "secrets.workflows_using",
        lambda s: secrets.workflows_using(session=s, user_id=grace.id, secret_id=people.secret),
    )
    yield (
        "secrets.rotate_secret",
        lambda s: secrets.rotate_secret(
            session=s, store=store, user_id=grace.id, secret_id=people.secret, value="x"
        ),
    )
    yield (
        "secrets.delete_secret",
        lambda s: secrets.delete_secret(
            session=s, store=store, user_id=grace.id, secret_id=people.secret
        ),
    )
    yield (
        "secrets.create_secret (Ada's workflow)",
        lambda s: secrets.create_secret(
            session=s, store=store, user_id=grace.id, name="n", value="v", workflow_id=wf
        ),
    )
    yield (
        "api_tokens.revoke_api_token",
        lambda s: api_tokens.revoke_api_token(session=s, user=grace, token_id=people.token),
    )


def test_services_refuse_another_users_ids(people: People) -> None:
    before = _adas_world(people)
    for name, call in _services_refusing(people):
        with Session(get_engine(), expire_on_commit=False) as session:
            with pytest.raises(NotFound):
                call(session)
            session.commit()  # whatever it might have left pending
        assert _adas_world(people) == before, f"{name} changed Ada's data for Grace"
