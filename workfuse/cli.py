"""The ``workfuse`` command: database, users, workflows and the app server.

Exit codes: 0 success, 1 the input was refused (validation problems, unknown ids,
bad settings), 2 the command line itself is wrong or a file cannot be read.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy import exc as sa_exc

from workfuse.db import downgrade_database, session_scope, upgrade_database
from workfuse.graph_validation import check_graph_data
from workfuse.logs import configure_logging
from workfuse.models import User
from workfuse.services import users as user_service
from workfuse.services import workflows as workflow_service
from workfuse.services.errors import InvalidInput, ServiceError
from workfuse.settings import SettingsError, get_settings

MAX_FILE_BYTES = 20 * 1024 * 1024  #: bytes, the largest workflow file read

app = typer.Typer(help="WorkFuse: workflow automation you host yourself.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
workflow_app = typer.Typer(help="Workflows: validate, import, export, list.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(workflow_app, name="workflow")

UserOption = Annotated[
    str | None, typer.Option("--user", "-u", help="Owner's email (default: the only user).")
]


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            _fail(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", 1)
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        _fail(f"{path}: {error.strerror or error}", 2)
    except UnicodeDecodeError as error:
        _fail(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        _fail(f"{path}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")
    except RecursionError:
        _fail(f"{path}: JSON nested too deeply")


def _owner(session: Any, email: str | None) -> User:
    if email:
        return user_service.get_user_by_email(session=session, email=email)
    return user_service.only_user(session=session)


def _print_issues(error: ServiceError) -> None:
    if isinstance(error, InvalidInput):
        for issue in error.issues:
            typer.echo(f"  {issue.describe()}", err=True)


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
