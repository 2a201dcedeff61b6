"""Alembic environment: WorkFuse's models, batch mode for SQLite, URL from settings."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import workfuse.models  # noqa: F401  (registers the tables)
from workfuse.db import get_engine
from workfuse.settings import get_settings

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().resolved_database_url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    with get_engine(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
