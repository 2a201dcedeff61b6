"""The webhook service's storing step, below HTTP (on SQLite and PostgreSQL): the race
the idempotency key's unique constraint settles, concurrent calls stored together
by one statement (group commit), and signed calls accepted once (replays refused)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from tests.engine.helpers import make_workflow, node
from workfuse.db import session_scope
from workfuse.models import Execution, User, WebhookSignature, Workflow
from workfuse.nodes.trigger import WebhookHmac
from workfuse.secrets import process_secret_store
from workfuse.services import webhooks
from workfuse.services.errors import NotFound
from workfuse.services.retention import prune_by_settings
from workfuse.services.secrets import create_secret
from workfuse.settings import get_settings


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


# --- signed calls: each signature is accepted once ------------------------------------

SIGNING_KEY = "whsec-replay-test-key-7a2b"


def signed_hook(
    session: Session, user: User, trigger: dict[str, Any] | None = None, **hmac_options: Any
) -> Workflow:
    """A webhook whose calls are signed with :data:`SIGNING_KEY` (``hmac_options``:
    more of the trigger's ``hmac``; ``trigger``: more of its config)."""
    reference = create_secret(
        session=session,
        store=process_secret_store(),
        user_id=user.id,
        name="signing key",
        value=SIGNING_KEY,
    )
    config = {
        "source": "webhook",
        "hmac": {"secretArn": reference.arn, **hmac_options},
        **(trigger or {}),
    }
    return make_workflow(session, user, [node("start", "trigger", config)], [])


def signed_call(
    workflow: Workflow, body: bytes, *, stamp: str | None = None, **headers: str
) -> webhooks.WebhookResult:
    """``body`` signed (with ``stamp`` in X-Timestamp, if given) and sent as a call."""
    pairs = [("content-type", "application/json"), *headers.items()]
    pairs.append(("x-signature-256", webhooks.sign(SIGNING_KEY, body, timestamp=stamp)))
    if stamp is not None:
        pairs.append(("x-timestamp", stamp))
    assert workflow.webhook_token is not None
    with session_scope() as call_session:
        return webhooks.receive_webhook(
            session=call_session,
            token=workflow.webhook_token,
            method="POST",
            headers=pairs,
            query=[],
            body=body,
            content_type="application/json",
        )


def test_a_signed_call_is_accepted_once(session: Session, user: User) -> None:
    # Given a webhook that wants a signed timestamp, and one signed call
    workflow = signed_hook(session, user, timestampHeader="X-Timestamp")
    stamp = str(int(time.time()))
    first = signed_call(workflow, b'{"n": 1}', stamp=stamp)

    # When the same call comes again (a replay inside the tolerance window)
    with pytest.raises(webhooks.SignatureReplayed) as caught:
        signed_call(workflow, b'{"n": 1}', stamp=stamp)

    # Then it is refused (409) and stores nothing; a call signed again is accepted
    assert caught.value.status_code == 409 and caught.value.code == "WEBHOOK_REPLAYED"
    assert _stored_ids(session, workflow.id) == {first.execution_id}
    again = signed_call(workflow, b'{"n": 1}', stamp=str(int(stamp) - 1))
    assert _stored_ids(session, workflow.id) == {first.execution_id, again.execution_id}


def test_a_replay_is_refused_even_when_its_idempotency_key_names_a_run(
    session: Session, user: User
) -> None:
    # Given a signed webhook with an idempotency key, called once
    workflow = signed_hook(
        session, user, {"idempotencyHeader": "Idempotency-Key"}, timestampHeader="X-Timestamp"
    )
    stamp = str(int(time.time()))
    first = signed_call(workflow, b"{}", stamp=stamp, **{"idempotency-key": "k1"})

    # When the very same call comes again, and then the sender signs its retry anew
    with pytest.raises(webhooks.SignatureReplayed):
        signed_call(workflow, b"{}", stamp=stamp, **{"idempotency-key": "k1"})
    retry = signed_call(workflow, b"{}", stamp=str(int(stamp) - 1), **{"idempotency-key": "k1"})

    # Then the replay learned nothing, and the signed retry gets the first run
    assert retry.execution_id == first.execution_id
    assert _stored_ids(session, workflow.id) == {first.execution_id}


def test_identical_signed_calls_at_the_same_moment_store_one_execution(
    session: Session, user: User
) -> None:
    # Given a signed webhook without a timestamp (signature over the body only)
    workflow = signed_hook(session, user)
    barrier = threading.Barrier(8)

    def call(_index: int) -> str:
        barrier.wait()
        try:
            return signed_call(workflow, b'{"order": 7}').execution_id
        except webhooks.SignatureReplayed:
            return "replayed"

    # When 8 threads send the same signed call at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(call, range(8)))

    # Then exactly one is stored, and the others are refused
    stored = [outcome for outcome in outcomes if outcome != "replayed"]
    assert len(stored) == 1 and outcomes.count("replayed") == 7
    assert _stored_ids(session, workflow.id) == set(stored)


def _claimed_row(target: webhooks.WebhookTarget, digest: str, **changes: Any) -> dict[str, Any]:
    claim = webhooks.SignatureClaim(digest, datetime.now(UTC) + timedelta(minutes=5))
    return {**_row(target), webhooks.CLAIM: claim, **changes}


def _signatures(session: Session, workflow_id: str) -> set[str]:
    session.expire_all()
    query = select(WebhookSignature.digest).where(WebhookSignature.workflow_id == workflow_id)
    return set(session.exec(query))


def test_separate_transactions_claiming_one_signature_store_one_execution(
    session: Session, user: User
) -> None:
    # Given the rows of one signed call as several app processes would write them (each
    # its own transaction, not one batch)
    workflow = signed_hook(session, user)
    target, _ = webhooks._webhook_target(session, workflow.webhook_token or "", cached=False)
    rows = [_claimed_row(target, "d" * 64) for _ in range(6)]
    barrier = threading.Barrier(len(rows))

    def write(row: dict[str, Any]) -> str | Exception | None:
        barrier.wait()
        return webhooks._insert_executions([row])[0]

    # When they are written at the same moment
    with ThreadPoolExecutor(max_workers=len(rows)) as pool:
        results = list(pool.map(write, rows))

    # Then one is stored, and every other one is refused as a replay
    stored = [result for result in results if isinstance(result, str)]
    assert len(stored) == 1
    assert all(isinstance(r, webhooks.SignatureReplayed) for r in results if r not in stored)
    assert _stored_ids(session, workflow.id) == set(stored)


def test_a_batch_stores_a_signature_once_and_claims_nothing_for_what_it_did_not_store(
    session: Session, user: User
) -> None:
    # Given a batch: a signed row, the same signature again, another signature on a
    # changed workflow version (not stored), and an unsigned row
    workflow = signed_hook(session, user)
    target, _ = webhooks._webhook_target(session, workflow.webhook_token or "", cached=False)
    rows = [
        _claimed_row(target, "a" * 64),
        _claimed_row(target, "a" * 64),
        _claimed_row(target, "b" * 64, workflow_version=target.version - 1),
        _row(target),
    ]

    # When it is written
    first, repeated, stale, unsigned = webhooks._insert_executions(rows)

    # Then the first signature is stored once, and the stale row claimed nothing
    assert (first, stale, unsigned) == (rows[0]["id"], None, rows[3]["id"])
    assert isinstance(repeated, webhooks.SignatureReplayed)
    assert _signatures(session, workflow.id) == {"a" * 64}
    assert _stored_ids(session, workflow.id) == {rows[0]["id"], rows[3]["id"]}
    # And that signature is still free for a call against the current version
    [later] = webhooks._insert_executions([_claimed_row(target, "b" * 64)])
    assert isinstance(later, str)


def test_a_signed_call_to_a_workflow_deleted_meanwhile_stores_nothing(
    session: Session, user: User
) -> None:
    # Given a signed call's row, made before its workflow was deleted (by another process)
    workflow = signed_hook(session, user)
    target, _ = webhooks._webhook_target(session, workflow.webhook_token or "", cached=False)
    row = _claimed_row(target, "f" * 64)
    session.delete(workflow)
    session.commit()

    # When it is written, Then nothing is stored (the call is read again: 404), no error
    assert webhooks._insert_executions([row]) == [None]


def test_an_expired_signature_may_be_claimed_again(session: Session, user: User) -> None:
    workflow = signed_hook(session, user)
    target, _ = webhooks._webhook_target(session, workflow.webhook_token or "", cached=False)
    past = datetime.now(UTC) - timedelta(seconds=1)
    session.add(WebhookSignature(workflow_id=workflow.id, digest="c" * 64, expires_at=past))
    session.add(WebhookSignature(workflow_id=workflow.id, digest="e" * 64, expires_at=None))
    session.commit()

    [expired, never] = webhooks._insert_executions(
        [_claimed_row(target, "c" * 64), _claimed_row(target, "e" * 64)]
    )

    assert isinstance(expired, str)
    assert isinstance(never, webhooks.SignatureReplayed)


def test_how_long_a_signature_is_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    # With a timestamp: until the timestamp leaves the tolerance window
    timed = WebhookHmac(secret_arn="a", timestamp_header="X-T", tolerance_seconds=300)
    claim = webhooks.signature_claim(timed, "ab", headers={"x-t": "1700000000"}, now=1.7e9)
    assert claim.expires_at == datetime.fromtimestamp(1_700_000_301, UTC)
    # Without one: as long as runs are kept, for ever when they are
    body_only = WebhookHmac(secret_arn="a")
    claim = webhooks.signature_claim(body_only, "ab", headers={}, now=1.7e9)
    assert claim.expires_at == datetime.fromtimestamp(1.7e9, UTC) + timedelta(days=30)
    monkeypatch.setenv("WORKFUSE_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    assert webhooks.signature_claim(body_only, "ab", headers={}, now=1.7e9).expires_at is None
    # The digest is not the signature, and differs per algorithm
    sha1 = WebhookHmac(secret_arn="a", algorithm="sha1")
    other = webhooks.signature_claim(sha1, "ab", headers={}, now=1.7e9)
    assert "ab" not in claim.digest and other.digest != claim.digest


def test_retention_prunes_expired_signatures_only(session: Session, user: User) -> None:
    workflow = signed_hook(session, user)
    now = datetime.now(UTC)
    for digest, expires in (
        ("1" * 64, now - timedelta(seconds=1)),
        ("2" * 64, now + timedelta(minutes=1)),
        ("3" * 64, None),
    ):
        session.add(WebhookSignature(workflow_id=workflow.id, digest=digest, expires_at=expires))
    session.commit()

    prune_by_settings()

    assert _signatures(session, workflow.id) == {"2" * 64, "3" * 64}


def test_a_token_postgresql_cannot_compare_is_not_found(session: Session) -> None:
    """A NUL in the token was a DataError on PostgreSQL (a 500 whose log quoted it)."""
    with pytest.raises(NotFound):
        webhooks._webhook_target(session, "abc\x00defghij", cached=False)
