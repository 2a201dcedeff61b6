"""The ``workfuse`` command, run as a real process (as a person would run it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, func, select

from tests.engine.helpers import edge, node
from workfuse.db import get_engine
from workfuse.demo import demo_graph
from workfuse.graph_validation import check_graph_data
from workfuse.models import User, Workflow, WorkflowVersion
from workfuse.nodes.reference import markdown
from workfuse.nodes.registry import REGISTRY
from workfuse.services.users import create_user
from workfuse.services.workflows import WorkflowCreate, create_workflow

WORKFUSE = str(Path(sys.executable).parent / "workfuse")
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
DOUBLE = {"language": "jsonata", "code": "trigger.data.n * 2"}


def workfuse(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the console script with the test's environment plus ``env``."""
    return subprocess.run(
        [WORKFUSE, *map(str, args)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def counts(url: str) -> tuple[int, int]:
    with Session(get_engine(url)) as session:
        workflows = session.exec(select(func.count()).select_from(Workflow)).one()
        versions = session.exec(select(func.count()).select_from(WorkflowVersion)).one()
        return workflows, versions


def add_user(url: str, email: str = "ada@example.com") -> User:
    with Session(get_engine(url), expire_on_commit=False) as session:
        user = create_user(session=session, email=email)
        session.commit()
        return user


def problem_graph() -> dict[str, Any]:
    """A bare seed graph with several problems, each tied to a node or edge."""
    graph = demo_graph()
    graph["nodes"].append(
        {"id": "ghost", "type": "teleport", "position": {"x": 0, "y": 0}, "data": {"label": "G"}}
    )
    graph["edges"] += [
        {"id": "to-nowhere", "source": "extract", "target": "missing-node"},
        {"id": "loop", "source": "alert", "target": "alert"},
    ]
    return {"name": "Problems", **graph}


# --- db upgrade ---------------------------------------------------------------------------


def test_db_upgrade_applies_the_migrations(empty_database_url: str, tmp_path: Path) -> None:
    # Given: an empty database, configured with a plain postgresql:// URL where it applies
    plain_url = empty_database_url.replace("postgresql+psycopg://", "postgresql://")

    # When: `workfuse db upgrade` runs
    result = workfuse(
        "db", "upgrade", WORKFUSE_DATABASE_URL=plain_url, WORKFUSE_DATA_DIR=str(tmp_path)
    )

    # Then: it succeeds and the schema equals the models
    assert result.returncode == 0, result.stderr
    assert "database at head" in result.stdout
    with get_engine(empty_database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    tables = set(sa.inspect(get_engine(empty_database_url)).get_table_names())
    assert tables == {*SQLModel.metadata.tables, "alembic_version"}


# --- users --------------------------------------------------------------------------------


def test_user_create_then_duplicate_is_refused(database_url: str) -> None:
    # Given: a migrated database with no users
    # When: a user is created
    created = workfuse("user", "create", "Ada@Example.com", "--name", "Ada")

    # Then: it is stored with its normalised email
    assert created.returncode == 0, created.stderr
    assert "created user ada@example.com" in created.stdout
    with Session(get_engine(database_url)) as session:
        assert session.exec(select(User.email, User.name)).all() == [("ada@example.com", "Ada")]

    # When: the same email is created again
    duplicate = workfuse("user", "create", "ada@example.com")

    # Then: exit code 1 with a message, no traceback, still one user
    assert duplicate.returncode == 1
    assert "error: a user with the email ada@example.com already exists" in duplicate.stderr
    assert "Traceback" not in duplicate.stderr
    with Session(get_engine(database_url)) as session:
        assert len(session.exec(select(User)).all()) == 1


# --- validate -----------------------------------------------------------------------------


def test_validate_valid_file(tmp_path: Path) -> None:
    # Given: a valid bare seed graph
    path = write_json(tmp_path / "demo.json", {"name": "Demo", **demo_graph()})

    # When: it is validated
    result = workfuse("workflow", "validate", path)

    # Then: exit code 0 and it says so
    assert result.returncode == 0, result.stderr
    assert "valid (0 warning(s))" in result.stdout


def test_validate_prints_every_problem_with_ids(tmp_path: Path) -> None:
    # Given: a file with several problems
    data = problem_graph()
    path = write_json(tmp_path / "problems.json", data)
    _, expected = check_graph_data(data)
    assert len(expected.errors) == 3
    assert len(expected.warnings) == 1  # ghost is unreachable

    # When: it is validated
    result = workfuse("workflow", "validate", path)

    # Then: exit code 1, and every problem is printed with its node or edge id
    assert result.returncode == 1
    for issue in expected.issues():
        assert issue.describe() in result.stdout
    for where in ("node ghost", "edge to-nowhere", "edge loop"):
        assert where in result.stdout
    for code in ("UNKNOWN_NODE_TYPE", "EDGE_TARGET_MISSING", "SELF_LOOP", "UNREACHABLE_NODE"):
        assert code in result.stdout
    assert "3 error(s), 1 warning(s)" in result.stdout


def test_validate_malformed_json_says_where(tmp_path: Path) -> None:
    # Given: a file that is not JSON
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "x",\n  "nodes": [}\n', encoding="utf-8")

    # When: it is validated
    result = workfuse("workflow", "validate", path)

    # Then: exit code 1 and the message gives the line and column
    assert result.returncode == 1
    assert "not valid JSON" in result.stderr
    assert "line 3, column 13" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_missing_file_is_exit_code_2(tmp_path: Path) -> None:
    # Given: a path with no file
    path = tmp_path / "absent.json"

    # When: it is validated
    result = workfuse("workflow", "validate", path)

    # Then: exit code 2 and the path is named
    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "No such file" in result.stderr


def test_validate_non_utf8_file(tmp_path: Path) -> None:
    # Given: a Latin-1 file
    path = tmp_path / "latin1.json"
    path.write_bytes('{"name": "Café", "nodes": [], "edges": []}'.encode("latin-1"))

    # When: it is validated
    result = workfuse("workflow", "validate", path)

    # Then: exit code 1 with a clear message
    assert result.returncode == 1
    assert "not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


# --- import and export --------------------------------------------------------------------


def test_import_prints_id_and_webhook_url(database_url: str, tmp_path: Path) -> None:
    # Given: a user and a valid file
    add_user(database_url)
    path = write_json(tmp_path / "demo.json", {"name": "Imported ✓", **demo_graph()})

    # When: it is imported
    result = workfuse("workflow", "import", path)

    # Then: the new id and its webhook URL are printed and match what was stored
    assert result.returncode == 0, result.stderr
    with Session(get_engine(database_url)) as session:
        workflow = session.exec(select(Workflow)).one()
    assert workflow.name == "Imported ✓"
    assert f"as {workflow.id}" in result.stdout
    assert f"webhook: http://127.0.0.1:3000/hooks/{workflow.webhook_token}" in result.stdout


def test_import_invalid_file_writes_nothing(database_url: str, tmp_path: Path) -> None:
    # Given: a user and a file with validation errors
    add_user(database_url)
    path = write_json(tmp_path / "problems.json", problem_graph())

    # When: it is imported
    result = workfuse("workflow", "import", path)

    # Then: exit code 1, the problems are listed, and nothing was stored
    assert result.returncode == 1
    assert "was not imported" in result.stderr
    assert "UNKNOWN_NODE_TYPE (node ghost)" in result.stderr
    assert "edge to-nowhere" in result.stderr
    assert counts(database_url) == (0, 0)


def test_export_to_file_then_import_round_trips(database_url: str, tmp_path: Path) -> None:
    # Given: a stored workflow
    user = add_user(database_url)
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        original = create_workflow(
            session=session,
            user=user,
            data=WorkflowCreate(name="Round trip", description="d", graph=demo_graph()),
        )
        session.commit()
    exported_file = tmp_path / "out.json"

    # When: it is exported to a file, the file imported, and the copy exported to stdout
    exported = workfuse("workflow", "export", original.id, "-o", exported_file)
    imported = workfuse("workflow", "import", exported_file)
    with Session(get_engine(database_url)) as session:
        copy_id = session.exec(select(Workflow.id).where(Workflow.id != original.id)).one()
    again = workfuse("workflow", "export", copy_id)

    # Then: each step succeeds and both exports hold the same workflow
    assert exported.returncode == 0, exported.stderr
    assert imported.returncode == 0, imported.stderr
    assert again.returncode == 0, again.stderr
    first = json.loads(exported_file.read_text(encoding="utf-8"))
    assert json.loads(again.stdout) == first
    assert first["format"] == "workfuse.workflow"
    assert first["graph"]["nodes"] == json.loads(json.dumps(demo_graph()))["nodes"]


@SQLITE_ONLY
def test_export_unknown_id_is_not_found(database_url: str) -> None:
    # Given: a user with no workflows
    add_user(database_url)

    # When: an unknown id is exported
    result = workfuse("workflow", "export", "cdoesnotexist")

    # Then: exit code 1, "not found"
    assert result.returncode == 1
    assert "error: workflow cdoesnotexist not found" in result.stderr
    assert result.stdout == ""


# --- settings -----------------------------------------------------------------------------


def test_production_without_key_names_the_variable(tmp_path: Path, postgres_url: str) -> None:
    # Given: production mode with a PostgreSQL URL but no encryption key
    # When: any database command runs
    result = workfuse(
        "db",
        "upgrade",
        WORKFUSE_ENV="production",
        WORKFUSE_DATABASE_URL=postgres_url,
        WORKFUSE_DATA_DIR=str(tmp_path),
    )

    # Then: exit code 1, naming the missing variable, and no traceback
    assert result.returncode == 1
    assert "WORKFUSE_ENCRYPTION_KEY" in result.stderr
    assert "WORKFUSE_DATABASE_URL" not in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_value_names_the_variable(tmp_path: Path) -> None:
    # Given: a setting with an impossible value
    # When: a command that reads the settings runs
    result = workfuse(
        "db", "upgrade", WORKFUSE_AUTO_MIGRATE="perhaps", WORKFUSE_DATA_DIR=str(tmp_path)
    )

    # Then: exit code 1 and the variable is named, without a traceback
    assert result.returncode == 1
    assert "WORKFUSE_AUTO_MIGRATE" in result.stderr
    assert "Traceback" not in result.stderr


# --- database problems --------------------------------------------------------------------


def test_command_before_db_upgrade_says_to_upgrade(empty_database_url: str) -> None:
    # Given: a database that was never migrated
    # When: a command needs its tables
    result = workfuse("user", "create", "ada@example.com", WORKFUSE_DATABASE_URL=empty_database_url)

    # Then: exit code 1 with the remedy, not a traceback
    assert result.returncode == 1
    assert "run `workfuse db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_a_message(tmp_path: Path) -> None:
    # Given: a PostgreSQL URL where nothing listens, with a password
    url = "postgresql://workfuse:hunter2@127.0.0.1:1/workfuse"

    # When: a command connects
    result = workfuse("workflow", "list", WORKFUSE_DATABASE_URL=url)

    # Then: exit code 1, the reason, the URL without its password, no traceback
    assert result.returncode == 1
    assert "error: database (postgresql+psycopg://workfuse:***@127.0.0.1:1/workfuse)" in (
        result.stderr
    )
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.stderr


# --- run ----------------------------------------------------------------------------------


def run_graph(fail_below: int = 5) -> dict[str, Any]:
    """start -> double -> check -> (big | small); ``small`` throws."""
    return {
        "name": "Run me",
        "nodes": [
            node("start", "trigger", {"source": "manual"}),
            node("double", "transform", DOUBLE),
            node(
                "check",
                "condition",
                {
                    "conditions": [
                        {
                            "field": "{{ nodes.double.result }}",
                            "operator": "gt",
                            "value": str(fail_below),
                            "branch": "big",
                        }
                    ],
                    "defaultBranch": "small",
                },
            ),
            node("big", "transform", {"language": "javascript", "code": "return 'big'"}),
            node(
                "small",
                "transform",
                {"language": "javascript", "code": "throw new Error('too small')"},
            ),
        ],
        "edges": [
            edge("start", "double"),
            edge("double", "check"),
            edge("check", "big", "big"),
            edge("check", "small", "small"),
        ],
    }


def test_run_completed_prints_the_execution_and_touches_nothing(tmp_path: Path) -> None:
    # Given: a workflow file, and settings that name a data dir, PostgreSQL and Redis
    # (none of which `run` may use; nothing listens on those ports)
    path = write_json(tmp_path / "flow.json", run_graph())
    data_dir = tmp_path / "data"
    (tmp_path / ".env").write_text("WORKFUSE_REDIS_URL=redis://127.0.0.1:1/0\n", encoding="utf-8")

    # When: it is run with a payload
    result = workfuse(
        "run",
        path,
        "--payload",
        '{"n": 4}',
        WORKFUSE_DATA_DIR=str(data_dir),
        WORKFUSE_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
        WORKFUSE_REDIS_URL="redis://127.0.0.1:1/0",
    )

    # Then: exit 0 and the execution as JSON, nodes in the workflow's order
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"executionId", "status", "nodes"}
    assert report["status"] == "COMPLETED"
    assert report["executionId"].startswith("c")
    assert list(report["nodes"]) == ["start", "double", "check", "big", "small"]
    assert report["nodes"]["double"] == {
        "status": "success",
        "attempts": 1,
        "output": {"result": 8, "logs": []},
        "error": None,
    }
    assert report["nodes"]["start"]["output"]["data"] == {"n": 4}
    assert report["nodes"]["check"]["output"]["branch"] == "big"
    assert report["nodes"]["small"] == {
        "status": "skipped",
        "attempts": 0,
        "output": None,
        "error": None,
    }
    # And: no data directory was created, neither the configured one nor ./data
    assert not data_dir.exists()
    assert not (tmp_path / "data").exists()


def test_run_with_a_failing_node_exits_1(tmp_path: Path) -> None:
    # Given: a workflow whose taken branch throws
    path = write_json(tmp_path / "flow.json", run_graph())

    # When: it is run with a payload that takes that branch
    result = workfuse("run", path, "--payload", '{"n": 1}')

    # Then: exit 1, the JSON names the failure, stderr says why
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "FAILED"
    small = report["nodes"]["small"]
    assert small["status"] == "failure" and small["attempts"] == 1 and small["output"] is None
    assert small["error"]["code"] == "TRANSFORM_ERROR"
    assert set(small["error"]) == {"message", "code", "retryable"}
    assert small["error"]["retryable"] is False
    assert report["nodes"]["big"]["status"] == "skipped"
    assert "too small" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_past_its_timeout_is_cancelled_and_exits_1(tmp_path: Path) -> None:
    # Given: a workflow that waits a minute before retrying a refused connection
    graph = {
        "name": "Slow",
        "nodes": [
            node("start", "trigger", {"source": "manual"}),
            node(
                "call",
                "http",
                {"method": "GET", "url": "http://127.0.0.1:1/nothing"},
                retryPolicy={"maxAttempts": 3, "initialDelayMs": 60_000, "backoffMultiplier": 2},
            ),
        ],
        "edges": [edge("start", "call")],
    }
    path = write_json(tmp_path / "slow.json", graph)

    # When: it is run with a one-second timeout
    result = workfuse("run", path, "--timeout", "1", WORKFUSE_EGRESS_ALLOW="127.0.0.1/32")

    # Then: exit 1, the execution was cancelled during its retry wait
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "CANCELLED"
    assert report["nodes"]["call"]["status"] == "retrying"
    assert report["nodes"]["call"]["error"]["code"] == "HTTP_CONNECTION"
    assert "did not finish within 1 s" in result.stderr


def test_run_invalid_workflow_exits_2_with_the_errors(tmp_path: Path) -> None:
    # Given: a file with validation errors
    path = write_json(tmp_path / "problems.json", problem_graph())

    # When: it is run
    result = workfuse("run", path)

    # Then: exit 2, every error on stderr, nothing on stdout
    assert result.returncode == 2
    assert result.stdout == ""
    assert "UNKNOWN_NODE_TYPE (node ghost)" in result.stderr
    assert "edge to-nowhere" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "No such file"), ("{not json", "not valid JSON"), (b"\xff\xfe", "not UTF-8")],
)
def test_run_unreadable_file_exits_2(tmp_path: Path, content: Any, expected: str) -> None:
    # Given: a missing, malformed or non-UTF-8 file
    path = tmp_path / "flow.json"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)

    # When: it is run
    result = workfuse("run", path)

    # Then: exit 2 with the reason
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_run_bad_payload_exits_2(tmp_path: Path) -> None:
    # Given: a valid workflow file
    path = write_json(tmp_path / "flow.json", run_graph())

    # When: it is run with a payload that is not JSON
    result = workfuse("run", path, "--payload", "{n: 1}")

    # Then: exit 2, naming the option, nothing run
    assert result.returncode == 2
    assert "--payload: not valid JSON" in result.stderr
    assert result.stdout == ""


# --- worker and reconcile -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["worker", "reconcile"])
def test_worker_and_reconcile_need_redis(tmp_path: Path, command: str) -> None:
    # Given: no WORKFUSE_REDIS_URL (the embedded default)
    # When: the command runs
    result = workfuse(command, WORKFUSE_DATA_DIR=str(tmp_path))

    # Then: exit 1 with a clear message
    assert result.returncode == 1
    assert f"workfuse {command} needs WORKFUSE_REDIS_URL" in result.stderr
    assert "Traceback" not in result.stderr


WORKER_REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.mark.postgres
def test_worker_processes_run_executions_from_redis(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis

    from tests.engine.helpers import make_workflow, wait_for
    from workfuse.db import session_scope, upgrade_database
    from workfuse.db_types import utcnow
    from workfuse.engine import broker
    from workfuse.models import Execution, ExecutionStatus
    from workfuse.services.executions import run_workflow
    from workfuse.settings import get_settings

    # Given: PostgreSQL migrated, an empty Redis, and this process configured for both
    upgrade_database(postgres_url)
    client = redis.Redis.from_url(WORKER_REDIS_URL)
    client.flushdb()
    monkeypatch.setenv("WORKFUSE_DATABASE_URL", postgres_url)
    monkeypatch.setenv("WORKFUSE_REDIS_URL", WORKER_REDIS_URL)
    monkeypatch.setenv("WORKFUSE_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    broker.reset_engine()
    log_path = tmp_path / "worker.log"
    try:
        with log_path.open("w") as log:
            worker = subprocess.Popen(
                [WORKFUSE, "worker", "--processes", "1", "--threads", "2"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ),
            )
        try:
            # When: an execution is started, and another is stored without its message
            with Session(get_engine(postgres_url), expire_on_commit=False) as session:
                user = create_user(session=session, email="worker@example.com")
                session.commit()
                workflow = make_workflow(
                    session,
                    user,
                    [node("start", "trigger", {}), node("double", "transform", DOUBLE)],
                    [edge("start", "double")],
                )
                started = run_workflow(
                    session=session, user=user, workflow_id=workflow.id, payload={"n": 21}
                )
            with session_scope() as session:
                lost = Execution(
                    status=ExecutionStatus.PENDING,
                    trigger_data={"source": "manual", "data": {"n": 5}, "headers": {}},
                    workflow_version=workflow.version,
                    workflow_id=workflow.id,
                    user_id=user.id,
                    started_at=utcnow() - timedelta(seconds=30),
                )
                session.add(lost)

            # Then: the worker process runs the first one
            finished, runs = wait_for(started.id, timeout=20)
            assert finished.status is ExecutionStatus.COMPLETED, finished.error
            assert runs["double"].output == {"result": 42, "logs": []}

            # When: `workfuse reconcile` runs
            reconciled = workfuse("reconcile")

            # Then: it re-sent the lost one, which the worker then ran
            assert reconciled.returncode == 0, reconciled.stderr
            assert "re-sent 1 execution(s)" in reconciled.stdout
            finished, runs = wait_for(lost.id, timeout=20)
            assert finished.status is ExecutionStatus.COMPLETED, finished.error
            assert runs["double"].output == {"result": 10, "logs": []}
        finally:
            # And: SIGTERM stops the worker cleanly
            worker.send_signal(signal.SIGTERM)
            try:
                code = worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                raise
        assert code == 0, log_path.read_text()
    finally:
        broker.reset_engine()
        client.flushdb()
        with get_engine(postgres_url).begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())


def test_nodes_list_names_every_registered_type() -> None:
    listed = workfuse("nodes", "list")

    assert listed.returncode == 0, listed.stderr
    types = [line.split()[0] for line in listed.stdout.splitlines()]
    assert types == REGISTRY.types()


def test_nodes_show_prints_a_types_reference_and_its_json() -> None:
    shown = workfuse("nodes", "show", "http")
    as_json = workfuse("nodes", "show", "http", "--json", "--version", "1")

    assert shown.returncode == 0 and as_json.returncode == 0
    assert shown.stdout.startswith("## HTTP Request (`http`)")
    assert "| `auth.secretArn` |" in shown.stdout
    assert json.loads(as_json.stdout)["configSchema"] == REGISTRY.get("http").config_schema()


@pytest.mark.parametrize("args", [("nope",), ("http", "--version", "7")])
def test_nodes_show_of_an_unknown_type_or_version_exits_1(args: tuple[str, ...]) -> None:
    shown = workfuse("nodes", "show", *args)

    assert shown.returncode == 1
    assert shown.stderr.startswith("error: no node type") and "known: trigger" in shown.stderr


def test_nodes_docs_prints_the_reference() -> None:
    printed = workfuse("nodes", "docs")

    assert printed.returncode == 0
    assert printed.stdout == markdown(REGISTRY.specs())
