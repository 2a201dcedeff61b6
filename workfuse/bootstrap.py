"""Getting a database ready: migrations, then the demo workflow on a first embedded run."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from workfuse.db import session_scope, upgrade_database
from workfuse.demo import ensure_demo
from workfuse.services.errors import Conflict
from workfuse.settings import Environment, Settings, get_settings

logger = logging.getLogger(__name__)


def prepare(settings: Settings | None = None) -> None:
    """Check the settings, apply migrations (if ``auto_migrate``) and load the demo.

    The demo is loaded only in the embedded environment, only on an empty database.
    """
    settings = settings or get_settings()
    settings.check_production()
    if settings.auto_migrate:
        upgrade_database(settings.resolved_database_url)
    if settings.load_demo and settings.env is Environment.EMBEDDED:
        try:
            with session_scope(settings.resolved_database_url) as session:
                if ensure_demo(session=session, email=settings.demo_email):
                    logger.info("created the demo workflow for %s", settings.demo_email)
        except (Conflict, IntegrityError):
            logger.info("another process created the demo user first")
