"""The webhook service's storing step, below HTTP: the race the idempotency key's unique
constraint settles (on SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from tests.engine.helpers import make_workflow, node
from workfuse.models import Execution, User
from workfuse.services import webhooks


def test_two_calls_with_one_key_at_the_same_moment_store_one_execution(
    session: Session, user: User
) -> None:
    # Given a webhook whose trigger reads an idempotency key
    workflow = make_workflow(
        session,
        user,
        [node("start", "trigger", {"source": "webhook", "idempotencyHeader": "Idempotency-Key"})],
        [],
    )
    target, _ = webhooks._webhook_target(session, workflow.webhook_token, cached=False)
    payload = {"source": "webhook", "method": "POST", "data": {}, "headers": {}, "query": {}}

    # When both calls got past the look-up of the key before either stored its run
    first = webhooks._store_execution(session, target, payload, "k1")
    second = webhooks._store_execution(session, target, payload, "k1")

    # Then the second gets the first one's execution, and only one is stored
    assert first is not None and second == first
    stored = session.exec(select(Execution.id).where(col(Execution.workflow_id) == workflow.id))
    assert list(stored) == [first]
