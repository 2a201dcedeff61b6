"""Migrations: the migrated schema is exactly the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import SQLModel

import workfuse.models  # noqa: F401  (registers the tables)
from workfuse.db import alembic_config, downgrade_database, get_engine, upgrade_database


def _schema_diff(url: str) -> list[Any]:
    """What autogenerate would put in a new migration (empty = schema equals models)."""
    with get_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def _tables(url: str) -> set[str]:
    return set(sa.inspect(get_engine(url)).get_table_names())


def _current_revision(url: str) -> str | None:
    with get_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_head_gives_exactly_the_models_schema(empty_database_url: str) -> None:
    # Given: an empty database
    assert _tables(empty_database_url) == set()

    # When: all migrations are applied
    upgrade_database(empty_database_url)

    # Then: every model table exists and autogenerate finds nothing to change
    assert _tables(empty_database_url) == {*SQLModel.metadata.tables, "alembic_version"}
    assert _schema_diff(empty_database_url) == []
    head = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
    assert _current_revision(empty_database_url) == head


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(
    empty_database_url: str,
) -> None:
    # Given: a migrated database
    upgrade_database(empty_database_url)

    # When: it is downgraded to base
    downgrade_database(empty_database_url, "base")

    # Then: only Alembic's bookkeeping table is left
    assert _tables(empty_database_url) == {"alembic_version"}
    assert _current_revision(empty_database_url) is None

    # When: it is upgraded again
    upgrade_database(empty_database_url)

    # Then: the schema is back, identical to the models
    assert _schema_diff(empty_database_url) == []


def test_upgrade_twice_is_harmless(empty_database_url: str) -> None:
    # Given: a migrated database
    upgrade_database(empty_database_url)

    # When: the upgrade runs again (every app start does this)
    upgrade_database(empty_database_url)

    # Then: nothing changed
    assert _schema_diff(empty_database_url) == []


def test_migrated_schema_has_the_constraints_the_models_declare(empty_database_url: str) -> None:
    # Given: a migrated database
    upgrade_database(empty_database_url)
    inspector = sa.inspect(get_engine(empty_database_url))

    # When: its constraints are read back
    def uniques(table: str) -> set[tuple[str | None, ...]]:
        found: set[tuple[str | None, ...]] = {
            tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)
        }
        found |= {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
        return found

    def cascades(table: str) -> dict[str, str | None]:
        return {
            fk["constrained_columns"][0]: fk["options"].get("ondelete")
            for fk in inspector.get_foreign_keys(table)
        }

    # Then: uniques and ON DELETE rules match the seed's schema (autogenerate ignores these)
    assert ("email",) in uniques("users")
    assert ("webhook_token",) in uniques("workflows")
    assert ("workflow_id", "version") in uniques("workflow_versions")
    assert ("execution_id", "node_id") in uniques("node_runs")
    assert cascades("workflows") == {"user_id": "CASCADE"}
    assert cascades("executions") == {
        "retry_of_id": "SET NULL",
        "user_id": "CASCADE",
        "workflow_id": "CASCADE",
    }
    assert cascades("node_runs") == {"execution_id": "CASCADE"}
    assert cascades("execution_logs") == {"execution_id": "CASCADE"}
    checks = {c["name"] for c in inspector.get_check_constraints("executions")}
    assert any("executionstatus" in (name or "") for name in checks)


def test_percent_encoded_password_url_migrates(postgres_url: str) -> None:
    # Given: a PostgreSQL URL with a percent-encoded password (trust auth ignores it)
    url = sa.engine.make_url(postgres_url).set(password="p@ss%word")
    rendered = url.render_as_string(hide_password=False)
    assert "%40" in rendered

    # When: migrations run against that URL
    upgrade_database(rendered)

    # Then: they applied (no configparser interpolation error)
    assert "workflows" in _tables(rendered)
    get_engine(rendered).dispose()


def _led_by_another(table: str, inspector: sa.Inspector) -> list[str]:
    """The indexes of ``table`` whose columns lead another index or unique constraint."""
    indexes = {
        ix["name"]: tuple(ix["column_names"])
        for ix in inspector.get_indexes(table)
        if "duplicates_constraint" not in ix  # PostgreSQL's index behind a unique constraint
    }
    others = [*indexes.values()]
    others += [tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)]
    return [
        f"{table}.{name} {columns}"
        for name, columns in indexes.items()
        if sum(other[: len(columns)] == columns for other in others) > 1
    ]


def test_no_index_repeats_the_leading_columns_of_another(empty_database_url: str) -> None:
    # Given: a migrated database
    upgrade_database(empty_database_url)

    # Then: no index duplicates what a wider index or unique constraint already serves
    # (each one is another write for every row inserted, and for many updates)
    inspector = sa.inspect(get_engine(empty_database_url))
    redundant = [
        name for table in inspector.get_table_names() for name in _led_by_another(table, inspector)
    ]
    assert redundant == []
