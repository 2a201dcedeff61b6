"""The ``workfuse`` command: database, users, workflows, runs, workers and the app server.

Exit codes: 0 success, 1 the input was refused (validation problems, unknown ids,
bad settings), 2 the command line itself is wrong or a file cannot be read. ``run``
differs: 1 means the execution failed, 2 any invalid input (file, payload, workflow).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import exc as sa_exc
from sqlmodel import Session

from workfuse.db import downgrade_database, get_engine, session_scope, upgrade_database
from workfuse.graph_validation import check_graph_data
from workfuse.logs import configure_logging
from workfuse.models import Execution, ExecutionStatus, NodeRunStatus, User, Workflow
from workfuse.services import users as user_service
from workfuse.services import workflows as workflow_service
from workfuse.services.errors import Conflict, InvalidInput, ServiceError
from workfuse.settings import Settings, SettingsError, get_settings

MAX_FILE_BYTES = 20 * 1024 * 1024  #: bytes, the largest workflow file read
RUN_POLL_S = 0.02  #: seconds between status checks while `workfuse run` waits
RUN_STOP_TIMEOUT_MS = 5_000  #: ms `workfuse run` waits for busy worker threads at the end
RUN_USER_EMAIL = "local@workfuse.local"
DEFAULT_WORKER_THREADS = 8  #: Dramatiq's own default

app = typer.Typer(help="WorkFuse: workflow automation you host yourself.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
workflow_app = typer.Typer(help="Workflows: validate, import, export, list.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
nodes_app = typer.Typer(help="Node types: what each one takes and gives.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")
app.add_typer(nodes_app, name="nodes")

UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="Owner's email (default: the only user).")
]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _read_json(path: Path, invalid: int = 1) -> Any:
    """The JSON in ``path``; exit 2 if it cannot be read, ``invalid`` if it is not JSON."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            _fail(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", invalid)
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        _fail(f"{path}: {error.strerror or error}", 2)
    except UnicodeDecodeError as error:
        _fail(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})", invalid)
    return _parse_json(text, str(path), invalid)


def _parse_json(text: str, what: str, invalid: int = 1) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        _fail(
            f"{what}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}",
            invalid,
        )
    except RecursionError:
        _fail(f"{what}: JSON nested too deeply", invalid)


def _owner(session: Any, email: str | None) -> User:
    if email:
        return user_service.get_user_by_email(session=session, email=email)
    return user_service.only_user(session=session)


def _print_issues(error: ServiceError) -> None:
    if isinstance(error, InvalidInput):
        for issue in error.issues:
            typer.echo(f"  {issue.describe()}", err=True)


@nodes_app.command("list")
def nodes_list() -> None:
    """One line per node type: type, version, category, label, what it does."""
    from workfuse.nodes.registry import REGISTRY

    for spec in REGISTRY.specs():
        typer.echo(
            f"{spec.type:<14} v{spec.version:<3} {spec.category:<8} {spec.label}: "
            f"{spec.description}"
        )


@nodes_app.command("show")
def nodes_show(
    node_type: Annotated[str, typer.Argument(metavar="TYPE", help="A type name (nodes list).")],
    version: Annotated[
        int | None, typer.Option("--version", help="A version (default: the newest).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Everything, as JSON.")] = False,
) -> None:
    """A node type: config fields, outputs, credentials and examples (exit 1: unknown)."""
    from workfuse.nodes.reference import describe, markdown
    from workfuse.nodes.registry import REGISTRY, UnknownNodeType

    try:
        spec = REGISTRY.get(node_type, version)
    except UnknownNodeType:
        known = ", ".join(REGISTRY.types())
        which = f"{node_type!r}" + (f" version {version}" if version else "")
        _fail(f"no node type {which} (known: {known})")
    if as_json:
        typer.echo(json.dumps(describe(spec), indent=2, ensure_ascii=False))
    else:
        section = markdown([spec]).split(f'<a id="{spec.type}"></a>', 1)[1]
        typer.echo(section.strip())


@nodes_app.command("docs")
def nodes_docs() -> None:
    """The node reference (Markdown) of every registered type: docs/nodes.md."""
    from workfuse.nodes.reference import markdown
    from workfuse.nodes.registry import REGISTRY

    typer.echo(markdown(REGISTRY.specs()), nl=False)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    upgrade_database(revision=revision)
    typer.echo(f"database at {revision}: {_safe_url()}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, or 'base'.")) -> None:
    """Revert migrations down to REVISION."""
    downgrade_database(revision=revision)
    typer.echo(f"database at {revision}: {_safe_url()}")


def _safe_url() -> str:
    from sqlalchemy.engine import make_url

    return make_url(get_settings().resolved_database_url).render_as_string(hide_password=True)


@user_app.command("create")
def user_create(
    email: str,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a password (hidden input).")
    ] = False,
) -> None:
    """Create a user."""
    secret = (
        typer.prompt("Password", hide_input=True, confirmation_prompt=True) if password else None
    )
    with session_scope() as session:
        user = user_service.create_user(session=session, email=email, name=name, password=secret)
        typer.echo(f"created user {user.email} ({user.id})")


@workflow_app.command("validate")
def workflow_validate(file: Path) -> None:
    """Check FILE (an export or a bare WorkflowGraph) and print every problem."""
    data = _read_json(file)
    try:
        exported = workflow_service.parse_workflow_file(data)
    except InvalidInput as error:
        _fail(str(error))
    _, result = check_graph_data({**exported.graph, "name": exported.name})
    for issue in result.issues():
        typer.echo(issue.describe())
    if not result.valid:
        typer.echo(f"{file}: {len(result.errors)} error(s), {len(result.warnings)} warning(s)")
        raise typer.Exit(1)
    typer.echo(f"{file}: valid ({len(result.warnings)} warning(s))")


@workflow_app.command("import")
def workflow_import(file: Path, user: UserOption = None) -> None:
    """Create a workflow from FILE; nothing is written if it has validation errors."""
    data = _read_json(file)
    with session_scope() as session:
        owner = _owner(session, user)
        workflow = workflow_service.import_workflow(session=session, user=owner, data=data)
        typer.echo(f"imported {workflow.name!r} as {workflow.id}")
        typer.echo(f"webhook: {workflow_service.webhook_url(workflow)}")


@workflow_app.command("export")
def workflow_export(
    workflow_id: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
    user: UserOption = None,
) -> None:
    """Write workflow WORKFLOW_ID as JSON (the format `workflow import` reads)."""
    with session_scope() as session:
        exported = workflow_service.export_workflow(
            session=session, user=_owner(session, user), workflow_id=workflow_id
        )
    text = json.dumps(exported.model_dump(mode="json", by_alias=True), indent=2, ensure_ascii=False)
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        _fail(f"{output}: {error.strerror or error}", 2)
    typer.echo(f"wrote {output}", err=True)


@workflow_app.command("list")
def workflow_list(user: UserOption = None) -> None:
    """List workflows: id, version, active, name."""
    with session_scope() as session:
        owner = _owner(session, user)
        for workflow in workflow_service.list_workflows(session=session, user=owner):
            state = "active" if workflow.is_active else "draft"
            typer.echo(f"{workflow.id}  v{workflow.version:<4} {state:<6} {workflow.name}")


# --- run, worker, reconcile ---------------------------------------------------------


@app.command("run")
def run(
    file: Path,
    payload: Annotated[
        str | None, typer.Option(help="The trigger's data, as JSON (default: {}).")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, help="Seconds to wait; then cancel the run and exit 1."),
    ] = None,
) -> None:
    """Run workflow FILE once, in this process, and print the execution as JSON.

    The run uses a scratch SQLite database in a temporary directory and in-process
    workers (never your data directory, database or Redis), so credentials stored in
    WorkFuse are not available to it. Retry waits are real waits.
    Exit codes: 0 completed, 1 failed (or timed out), 2 invalid file, payload or workflow.
    """
    data = _read_json(file, invalid=2)
    trigger_data = _parse_json(payload, "--payload", 2) if payload is not None else None
    from workfuse.engine import broker

    with tempfile.TemporaryDirectory(prefix="workfuse-run-") as scratch:
        url = _scratch_settings(Path(scratch)).resolved_database_url
        upgrade_database(url)
        broker.reset_engine()
        worker = broker.start_embedded_workers()
        try:
            execution_id = _start_run(data, trigger_data)
            finished = _wait_for_run(execution_id, timeout)
        finally:
            if worker is not None:
                worker.stop(timeout=RUN_STOP_TIMEOUT_MS)
            broker.reset_engine()
        with session_scope(url) as session:
            execution = session.get(Execution, execution_id)
            assert execution is not None
            report = _run_report(session, execution)
        get_engine(url).dispose()
    typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
    if not finished:
        _fail(f"the execution did not finish within {timeout:g} s; it was cancelled", 1)
    if execution.status is not ExecutionStatus.COMPLETED:
        _fail(f"the execution {str(execution.status).lower()}: {execution.error}", 1)


def _scratch_settings(directory: Path) -> Settings:
    """Point this process at a fresh SQLite file in ``directory``, the in-process broker
    and the local secret store, whatever the environment or ``.env`` says."""
    os.environ.update(
        {
            "WORKFUSE_ENV": "embedded",
            "WORKFUSE_DATA_DIR": str(directory),
            "WORKFUSE_DATABASE_URL": f"sqlite:///{directory / 'workfuse.db'}",
            "WORKFUSE_SECRET_STORE": "local",
        }
    )
    os.environ.pop("WORKFUSE_REDIS_URL", None)
    get_settings.cache_clear()
    settings = get_settings()
    settings.redis_url = None  # a .env file may still name one
    return settings


def _start_run(data: Any, trigger_data: Any) -> str:
    """Import the workflow for a new local user and start it; invalid: exit 2."""
    from workfuse.services.executions import run_workflow

    with session_scope() as session:
        user = user_service.create_user(session=session, email=RUN_USER_EMAIL)
        try:
            workflow = workflow_service.import_workflow(session=session, user=user, data=data)
            session.commit()
            execution = run_workflow(
                session=session, user=user, workflow_id=workflow.id, payload=trigger_data
            )
        except InvalidInput as error:
            typer.echo(f"error: {error}", err=True)
            _print_issues(error)
            raise typer.Exit(2) from None
        return execution.id


def _wait_for_run(execution_id: str, timeout: float | None) -> bool:
    """Poll until the execution ends; past ``timeout`` cancel it and return False."""
    from workfuse.engine.state import TERMINAL
    from workfuse.services.executions import cancel_execution

    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with session_scope() as session:
            execution = session.get(Execution, execution_id)
            assert execution is not None
            if execution.status in TERMINAL:
                return True
            if deadline is not None and time.monotonic() > deadline:
                user = session.get(User, execution.user_id)
                assert user is not None
                try:
                    cancel_execution(session=session, user=user, execution_id=execution_id)
                except Conflict:  # it ended just now
                    return True
                return False
        time.sleep(RUN_POLL_S)


#: How `workfuse run` names node statuses (others are lower-cased: "running", ...).
RUN_NODE_STATUS = {
    NodeRunStatus.SUCCEEDED: "success",
    NodeRunStatus.FAILED: "failure",
    NodeRunStatus.SKIPPED: "skipped",
}


def _run_report(session: Session, execution: Execution) -> dict[str, Any]:
    """``{executionId, status, nodes: {id: {status, attempts, output, error}}}``, nodes in
    the workflow's order; nodes that never started are left out."""
    from workfuse.services.executions import node_runs

    runs = {run.node_id: run for run in node_runs(session=session, execution=execution)}
    workflow = session.get(Workflow, execution.workflow_id)
    order = [node.get("id") for node in (workflow.graph if workflow else {}).get("nodes", [])]
    order += sorted(set(runs) - set(order))
    nodes = {}
    for node_id in order:
        run = runs.get(node_id)
        if run is None:
            continue
        error = run.error
        nodes[node_id] = {
            "status": RUN_NODE_STATUS.get(run.status, str(run.status).lower()),
            "attempts": run.attempt,
            "output": run.output,
            "error": None
            if error is None
            else {key: error.get(key) for key in ("message", "code", "retryable")},
        }
    return {"executionId": execution.id, "status": str(execution.status), "nodes": nodes}


@app.command("worker")
def worker(
    processes: Annotated[
        int, typer.Option(min=1, help="Worker processes (default: one per CPU).")
    ] = os.cpu_count() or 1,
    threads: Annotated[
        int, typer.Option(min=1, help="Threads per process, each running one execution.")
    ] = DEFAULT_WORKER_THREADS,
) -> None:
    """Run worker processes against the Redis broker (Dramatiq's own CLI).

    Needs WORKFUSE_REDIS_URL; run it on any number of machines with the app's settings.
    The embedded default (no Redis) runs its workers inside the app instead.
    """
    settings = get_settings()
    if not settings.redis_url:
        _fail(
            "workfuse worker needs WORKFUSE_REDIS_URL: separate workers share the Redis "
            "queue; without Redis the app runs its workers itself"
        )
    command = [sys.executable, "-m", "dramatiq", "workfuse.engine.worker"]
    command += ["--processes", str(processes), "--threads", str(threads)]
    # On SIGTERM, wait this long for running executions; Dramatiq hands an unfinished
    # one to another worker once this one's heartbeat is stale.
    command += ["--worker-shutdown-timeout", str(settings.shutdown_grace_seconds * 1000)]
    typer.echo(f"WorkFuse: {processes} worker process(es), {threads} thread(s) each", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)


@app.command("reconcile")
def reconcile(
    stale_after: Annotated[
        float,
        typer.Option(min=1, help="Seconds without a heartbeat after which a run is lost."),
    ] = 120.0,
) -> None:
    """Re-send executions whose message was lost (never sent, or their worker died).

    Needs WORKFUSE_REDIS_URL (the app reconciles the embedded default itself).
    """
    if not get_settings().redis_url:
        _fail(
            "workfuse reconcile needs WORKFUSE_REDIS_URL: without Redis the queue lives "
            "inside the app process, which reconciles its own executions"
        )
    from workfuse.engine.reconciler import reconcile as reconcile_executions

    count = reconcile_executions(stale_after_s=stale_after)
    typer.echo(f"re-sent {count} execution(s)")


@app.command("prune")
def prune(
    older_than_days: Annotated[
        int | None,
        typer.Option(min=0, help="Delete finished executions older than this (days)."),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(min=0, help="Keep at most this many executions per workflow."),
    ] = None,
) -> None:
    """Delete finished executions (and their node runs and logs) by age and count.

    Without options it applies WORKFUSE_RETENTION_DAYS and
    WORKFUSE_RETENTION_KEEP_PER_WORKFLOW, as the app does every hour; 0 turns a rule off.
    """
    from workfuse.db_types import utcnow
    from workfuse.services.retention import prune_executions

    settings = get_settings()
    days = settings.retention_days if older_than_days is None else older_than_days
    per_workflow = settings.retention_keep_per_workflow if keep is None else keep
    result = prune_executions(
        older_than=utcnow() - timedelta(days=days) if days else None,
        keep_per_workflow=per_workflow or None,
    )
    typer.echo(
        f"deleted {result.total} execution(s): {result.by_age} by age, {result.by_count} by count"
    )


@app.command("serve")
def serve(
    port: Annotated[int, typer.Option(help="Port for the app (frontend and API).")] = 3000,
) -> None:
    """Prepare the database and run the app in production mode on one port."""
    from workfuse.bootstrap import prepare

    prepare()
    reflex = shutil.which("reflex", path=str(Path(sys.executable).parent)) or "reflex"
    typer.echo(f"WorkFuse: starting on http://127.0.0.1:{port}")
    os.execvp(reflex, [reflex, "run", "--env", "prod", "--frontend-port", str(port)])


def main() -> None:
    """Entry point: turns service and settings errors into messages and exit codes."""
    try:
        configure_logging()
        app()
    except SettingsError as error:
        _report(f"settings: {error}")
    except ServiceError as error:
        typer.echo(f"error: {error}", err=True)
        _print_issues(error)
        sys.exit(1)
    except sa_exc.DBAPIError as error:
        # Unreachable server, wrong URL, or tables missing: a message, not a traceback.
        reason = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0]
        missing_table = "no such table" in reason or (
            "relation" in reason and "does not exist" in reason
        )
        hint = "; run `workfuse db upgrade` first" if missing_table else ""
        _report(f"database ({_safe_url()}): {reason}{hint}")


def _report(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    sys.exit(1)
