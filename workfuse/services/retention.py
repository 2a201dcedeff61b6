"""Retention: finished executions are deleted by age and by count per workflow.

Only finished executions (completed, failed, cancelled) are ever deleted; their node
runs and log lines go with them (foreign keys cascade). Deletion runs in batches of
:data:`BATCH_SIZE` executions, one transaction each, so a large backlog never holds
a long transaction or a big lock. Settings: ``WORKFUSE_RETENTION_DAYS`` and
``WORKFUSE_RETENTION_KEEP_PER_WORKFLOW`` (0 turns either rule off). The periodic pass
also deletes the webhook signatures whose replay window has passed
(:func:`prune_webhook_signatures`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, delete, select
from sqlmodel.sql.expression import SelectOfScalar

from workfuse.db import session_scope
from workfuse.db_types import utcnow
from workfuse.engine.state import TERMINAL
from workfuse.models import Execution, WebhookSignature
from workfuse.settings import get_settings

log = logging.getLogger(__name__)

BATCH_SIZE = 500  #: executions deleted per transaction
FINISHED = sorted(TERMINAL, key=lambda status: status.value)


@dataclass(frozen=True)
class PruneResult:
    by_age: int
    by_count: int

    @property
    def total(self) -> int:
        return self.by_age + self.by_count


def _delete_batches(query: SelectOfScalar[str], url: str | None) -> int:
    """Delete the executions whose ids ``query`` selects, a batch per transaction."""
    deleted = 0
    while True:
        with session_scope(url) as session:
            ids = list(session.exec(query.limit(BATCH_SIZE)).all())
            if not ids:
                return deleted
            session.exec(delete(Execution).where(col(Execution.id).in_(ids)))
        deleted += len(ids)


def prune_executions(
    *,
    older_than: datetime | None = None,
    keep_per_workflow: int | None = None,
    url: str | None = None,
) -> PruneResult:
    """Delete finished executions started before ``older_than``, then those beyond
    the newest ``keep_per_workflow`` of each workflow (counting every execution, so a
    running one still takes a place). ``None`` (or 0) skips a rule."""
    by_age = 0
    if older_than is not None:
        by_age = _delete_batches(
            select(Execution.id).where(
                col(Execution.status).in_(FINISHED), col(Execution.started_at) < older_than
            ),
            url,
        )
    by_count = 0
    if keep_per_workflow:
        rank = (
            sa.func.row_number()
            .over(
                partition_by=Execution.workflow_id,
                order_by=(col(Execution.started_at).desc(), col(Execution.id).desc()),
            )
            .label("rank")
        )
        ranked = select(Execution.id, Execution.status, rank).subquery()
        by_count = _delete_batches(
            select(ranked.c.id).where(
                ranked.c.rank > keep_per_workflow, ranked.c.status.in_(FINISHED)
            ),
            url,
        )
    result = PruneResult(by_age=by_age, by_count=by_count)
    if result.total:
        log.info("retention: deleted %d execution(s) by age, %d by count", by_age, by_count)
    return result


def prune_webhook_signatures(now: datetime | None = None, url: str | None = None) -> int:
    """Delete the webhook signatures that expired before ``now``, a batch per
    transaction; how many. Those that never expire (None) stay."""
    now = now or utcnow()
    expires_at = col(WebhookSignature.expires_at)
    deleted = 0
    while True:
        with session_scope(url) as session:
            keys = session.exec(
                select(WebhookSignature.workflow_id, WebhookSignature.digest)
                .where(expires_at < now)
                .limit(BATCH_SIZE)
            ).all()
            if not keys:
                return deleted
            session.exec(
                delete(WebhookSignature).where(
                    sa.tuple_(col(WebhookSignature.workflow_id), col(WebhookSignature.digest)).in_(
                        [tuple(key) for key in keys]
                    )
                )
            )
        deleted += len(keys)


def prune_by_settings(now: datetime | None = None) -> PruneResult:
    """:func:`prune_executions` with the limits from the settings, and
    :func:`prune_webhook_signatures`."""
    settings = get_settings()
    days = settings.retention_days
    prune_webhook_signatures(now)
    older_than = (now or utcnow()) - timedelta(days=days) if days else None
    return prune_executions(
        older_than=older_than, keep_per_workflow=settings.retention_keep_per_workflow or None
    )
