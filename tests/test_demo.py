"""The demo workflow and first-run bootstrap."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from workfuse.bootstrap import prepare
from workfuse.db import get_engine
from workfuse.demo import DEMO_NAME, demo_graph, ensure_demo
from workfuse.graph_validation import check_graph_data, execution_order
from workfuse.models import User, Workflow, WorkflowVersion
from workfuse.nodes.registry import REGISTRY
from workfuse.services.users import create_user
from workfuse.services.workflows import ensure_runnable
from workfuse.settings import Environment, Settings, SettingsError

DEMO_EMAIL = "demo@workfuse.local"


def _counts(session: Session) -> tuple[int, int]:
    users = session.exec(select(func.count()).select_from(User)).one()
    workflows = session.exec(select(func.count()).select_from(Workflow)).one()
    return users, workflows


def test_demo_graph_is_valid_and_uses_every_node_type() -> None:
    # Given / When: the demo graph is validated
    graph, result = check_graph_data({"name": DEMO_NAME, **demo_graph()})

    # Then: no errors or warnings, and each registered node type appears
    assert graph is not None
    assert result.errors == []
    assert result.warnings == []
    assert (
        {n.type for n in graph.nodes}
        == set(REGISTRY.types())
        == {
            "trigger",
            "http",
            "transform",
            "condition",
            "ai",
        }
    )
    assert execution_order(graph)[0] == "ticket"


def test_ensure_demo_on_empty_database_creates_user_and_active_workflow(
    session: Session,
) -> None:
    # Given: an empty database
    assert _counts(session) == (0, 0)

    # When: the demo is ensured
    workflow = ensure_demo(session=session, email=DEMO_EMAIL)
    session.commit()

    # Then: the demo user owns one active, runnable workflow at version 1 with a snapshot
    assert workflow is not None
    user = session.exec(select(User)).one()
    assert user.email == DEMO_EMAIL
    stored = session.exec(select(Workflow)).one()
    assert (stored.name, stored.user_id, stored.is_active, stored.version) == (
        DEMO_NAME,
        user.id,
        True,
        1,
    )
    assert ensure_runnable(stored).name == DEMO_NAME
    assert session.exec(select(func.count()).select_from(WorkflowVersion)).one() == 1


def test_ensure_demo_second_call_does_nothing(session: Session) -> None:
    # Given: the demo was already created
    ensure_demo(session=session, email=DEMO_EMAIL)
    session.commit()

    # When: it is ensured again
    again = ensure_demo(session=session, email=DEMO_EMAIL)
    session.commit()

    # Then: nothing new is created
    assert again is None
    assert _counts(session) == (1, 1)


def test_ensure_demo_leaves_a_database_with_users_alone(session: Session) -> None:
    # Given: a database where a real person already signed up
    create_user(session=session, email="real@example.com")
    session.commit()

    # When: the demo is ensured
    result = ensure_demo(session=session, email=DEMO_EMAIL)

    # Then: no demo user or workflow appears
    assert result is None
    assert _counts(session) == (1, 0)


def test_prepare_on_fresh_data_dir_migrates_and_loads_the_demo(tmp_path: Path) -> None:
    # Given: a fresh data directory and embedded settings
    settings = Settings(data_dir=tmp_path / "fresh")

    # When: the app prepares its database (twice, as two starts would)
    prepare(settings)
    prepare(settings)

    # Then: the SQLite file exists, migrated, with exactly one demo workflow
    url = settings.resolved_database_url
    assert (tmp_path / "fresh" / "workfuse.db").exists()
    assert "alembic_version" in sa.inspect(get_engine(url)).get_table_names()
    with Session(get_engine(url)) as session:
        assert session.exec(select(Workflow.name)).all() == [DEMO_NAME]
        assert session.exec(select(User.email)).all() == [settings.demo_email]


def test_prepare_on_postgres_migrates_and_loads_the_demo(empty_database_url: str) -> None:
    # Given: a brand-new, empty database (SQLite, then PostgreSQL)
    settings = Settings(database_url=empty_database_url)

    # When: the app prepares it
    prepare(settings)

    # Then: it is migrated and holds the demo workflow
    with Session(get_engine(empty_database_url)) as session:
        assert session.exec(select(Workflow.name)).all() == [DEMO_NAME]


def test_prepare_with_demo_switched_off_loads_nothing(empty_database_url: str) -> None:
    # Given: settings with WORKFUSE_LOAD_DEMO=false
    settings = Settings(database_url=empty_database_url, load_demo=False)

    # When: the database is prepared
    prepare(settings)

    # Then: it is migrated but empty
    with Session(get_engine(empty_database_url)) as session:
        assert _counts(session) == (0, 0)


def test_prepare_in_production_migrates_but_never_loads_the_demo(postgres_url: str) -> None:
    # Given: complete production settings on an empty PostgreSQL database
    settings = Settings(
        env=Environment.PRODUCTION, database_url=postgres_url, encryption_key="a" * 43
    )

    # When: the database is prepared
    prepare(settings)

    # Then: no demo user or workflow is created
    with Session(get_engine(postgres_url)) as session:
        assert _counts(session) == (0, 0)


def test_prepare_refuses_production_on_sqlite(tmp_path: Path) -> None:
    # Given: production settings left on the embedded SQLite default
    settings = Settings(env=Environment.PRODUCTION, data_dir=tmp_path, encryption_key="a" * 43)

    # When / Then: nothing is prepared; the missing setting is named
    with pytest.raises(SettingsError, match="WORKFUSE_DATABASE_URL"):
        prepare(settings)
    assert not (tmp_path / "workfuse.db").exists()


def test_the_demo_runs_to_completion_with_its_sample_payload(engine: str, session: Session) -> None:
    """Run now on a fresh install works the first time (no keys, no URLs to set)."""
    from tests.engine.helpers import wait_for
    from workfuse.models import ExecutionStatus
    from workfuse.services.executions import run_workflow

    workflow = ensure_demo(session=session, email=DEMO_EMAIL)
    session.commit()
    assert workflow is not None
    owner = session.exec(select(User)).one()

    execution, runs = wait_for(
        run_workflow(session=session, user=owner, workflow_id=workflow.id).id
    )

    assert execution.status is ExecutionStatus.COMPLETED, execution.error
    assert runs["alert"].output["result"] == {
        "text": "Urgent: Checkout is down",
        "channel": "#on-call",
    }
    assert {runs["summarise"].status.value, runs["notify"].status.value} == {"SKIPPED"}
