"""The webhook service's storing step, below HTTP (on SQLite and PostgreSQL): the race
the idempotency key's unique constraint settles, and concurrent calls stored together
by one statement (group commit)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tests.engine.helpers import make_workflow, node
from workfuse.db import session_scope
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
    first = webhooks._store_execution(target, payload, "k1")
    second = webhooks._store_execution(target, payload, "k1")

    # Then the second gets the first one's execution, and only one is stored
    assert first is not None and second == first
    stored = session.exec(select(Execution.id).where(col(Execution.workflow_id) == workflow.id))
    assert list(stored) == [first]


def _row(target: webhooks.WebhookTarget, key: str | None = None, **changes: Any) -> dict[str, Any]:
    """A row as :func:`webhooks._store_execution` hands it to the group commit."""
    payload = {"source": "webhook", "data": {"n": 1}}
    return {**webhooks._execution_row(target, payload, key), **changes}


def _stored_ids(session: Session, workflow_id: str) -> set[str]:
    return set(session.exec(select(Execution.id).where(col(Execution.workflow_id) == workflow_id)))


def test_one_statement_stores_a_batch_and_leaves_out_a_changed_workflows_rows(
    session: Session, user: User
) -> None:
    # Given the rows of concurrent calls, one made against an older version
    workflow = make_workflow(session, user, [node("start", "trigger", {"source": "webhook"})], [])
    target, _ = webhooks._webhook_target(session, workflow.webhook_token, cached=False)
    rows = [_row(target), _row(target, workflow_version=target.version - 1), _row(target)]

    # When they are written together
    ids = webhooks._insert_executions(rows)

    # Then each current row is stored under its id, and the stale one is not
    assert ids == [rows[0]["id"], None, rows[2]["id"]]
    assert _stored_ids(session, workflow.id) == {rows[0]["id"], rows[2]["id"]}
    stored = session.get(Execution, rows[2]["id"])
    assert stored is not None and stored.trigger_data == rows[2]["trigger_data"]


def test_a_batch_with_a_repeated_idempotency_key_stores_the_key_once(
    session: Session, user: User
) -> None:
    # Given a batch in which two calls carry one key, and a third a key already used
    trigger = {"source": "webhook", "idempotencyHeader": "Idempotency-Key"}
    workflow = make_workflow(session, user, [node("start", "trigger", trigger)], [])
    target, _ = webhooks._webhook_target(session, workflow.webhook_token, cached=False)
    [earlier] = webhooks._insert_executions([_row(target, "used")])
    rows = [_row(target, "k1"), _row(target, "k1"), _row(target, "used"), _row(target)]

    # When they are written together
    ids = webhooks._insert_executions(rows)

    # Then a repeated key gets the execution that has it, and the others are stored
    assert ids == [rows[0]["id"], rows[0]["id"], earlier, rows[3]["id"]]
    assert _stored_ids(session, workflow.id) == {earlier, rows[0]["id"], rows[3]["id"]}


def test_a_row_that_fails_on_its_own_fails_only_its_call(session: Session, user: User) -> None:
    # Given a batch in which one row cannot be stored (its id is taken)
    workflow = make_workflow(session, user, [node("start", "trigger", {"source": "webhook"})], [])
    target, _ = webhooks._webhook_target(session, workflow.webhook_token, cached=False)
    [taken] = webhooks._insert_executions([_row(target)])
    rows = [_row(target), _row(target, id=taken), _row(target)]

    # When they are written together
    first, failed, last = webhooks._insert_executions(rows)

    # Then that row gets its error, and the others are stored
    assert isinstance(failed, IntegrityError)
    assert (first, last) == (rows[0]["id"], rows[2]["id"])
    assert _stored_ids(session, workflow.id) == {taken, rows[0]["id"], rows[2]["id"]}


def test_calls_at_the_same_moment_each_store_their_own_execution(
    session: Session, user: User
) -> None:
    # Given a webhook called by 16 threads at once, 128 calls in all
    workflow = make_workflow(session, user, [node("start", "trigger", {"source": "webhook"})], [])
    token = workflow.webhook_token
    assert token is not None

    def call(index: int) -> str:
        with session_scope() as call_session:
            return webhooks.receive_webhook(
                session=call_session,
                token=token,
                method="POST",
                headers=[("content-type", "application/json")],
                query=[],
                body=b'{"n": %d}' % index,
                content_type="application/json",
            ).execution_id

    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(call, range(128)))

    # Then every call has its own execution, stored with its own body
    assert len(set(ids)) == 128
    assert _stored_ids(session, workflow.id) == set(ids)
    for index in (0, 77, 127):
        stored = session.get(Execution, ids[index])
        assert stored is not None and stored.trigger_data["data"] == {"n": index}
