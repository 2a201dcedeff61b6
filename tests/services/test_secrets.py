"""The credential service on SQLite and PostgreSQL: ownership, validation, atomicity, no leaks."""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, func, select

from workfuse.db import get_engine, session_scope
from workfuse.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NAME_LENGTH,
    SecretReference,
    SecretValue,
    User,
    Workflow,
)
from workfuse.secrets import (
    MAX_SECRET_VALUE_BYTES,
    LocalSecretStore,
    Redactor,
    SecretNotFound,
    SecretStoreError,
)
from workfuse.secrets import SecretReference as StoredSecret
from workfuse.services import secrets as service
from workfuse.services.errors import Conflict, InvalidInput, NotFound, ServiceError

CANARY = "canary-svc-0b7e4a19-value"


class SpyStore:
    """Wraps a store: records calls, and runs a hook or fails on chosen operations."""

    def __init__(self, inner: LocalSecretStore) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.fail: set[str] = set()
        self.after_create: Callable[[], None] | None = None

    def _enter(self, operation: str) -> None:
        self.calls.append(operation)
        if operation in self.fail:
            raise SecretStoreError(f"{operation} failed (injected)")

    def create_secret(
        self,
        name: str,
        value: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> StoredSecret:
        self._enter("create")
        stored = self.inner.create_secret(name, value, description=description, tags=tags)
        if self.after_create is not None:
            self.after_create()
        return stored

    def get_secret_value(self, arn: str) -> str:
        self._enter("get")
        return self.inner.get_secret_value(arn)

    def delete_secret(self, arn: str) -> None:
        self._enter("delete")
        self.inner.delete_secret(arn)

    def rotate_secret(self, arn: str, new_value: str) -> StoredSecret:
        self._enter("rotate")
        return self.inner.rotate_secret(arn, new_value)


@pytest.fixture
def store(database_url: str) -> SpyStore:
    return SpyStore(
        LocalSecretStore(key=bytes(32), session_factory=lambda: session_scope(database_url))
    )


def _stored_values(url: str) -> int:
    with Session(get_engine(url)) as fresh:
        return fresh.exec(select(func.count()).select_from(SecretValue)).one()


def _references(url: str) -> list[SecretReference]:
    with Session(get_engine(url)) as fresh:
        return list(fresh.exec(select(SecretReference)).all())


def _create(session: Session, store: SpyStore, user: User, **fields: Any) -> SecretReference:
    values: dict[str, Any] = {"name": "openai", "value": "sk-test-123456"}
    return service.create_secret(
        session=session, store=store, user_id=user.id, **{**values, **fields}
    )


# --- create, list, read -----------------------------------------------------------------


def test_create_stores_the_value_and_only_a_reference_in_the_database(
    session: Session, store: SpyStore, user: User, database_url: str
) -> None:
    # Given: a name with surrounding spaces, a value and a description
    # When: the credential is created
    reference = _create(session, store, user, name="  OpenAI  ", description="prod key")

    # Then: the row holds the trimmed name, description and a local ARN; the store the value
    (row,) = _references(database_url)
    assert (row.id, row.name, row.description, row.user_id) == (
        reference.id,
        "OpenAI",
        "prod key",
        user.id,
    )
    assert row.arn.startswith("local:")
    assert row.workflow_id is None
    assert "sk-test-123456" not in json.dumps(row.model_dump(mode="json"))
    value = service.get_secret_value_for_run(
        session=session, store=store, user_id=user.id, secret_id=reference.id
    )
    assert value == "sk-test-123456"


def test_list_returns_the_users_credentials_by_name(
    session: Session, store: SpyStore, user: User, other_user: User
) -> None:
    # Given: two credentials of the user and one of another user
    _create(session, store, user, name="zeta")
    _create(session, store, user, name="alpha")
    _create(session, store, other_user, name="mine")

    # When: the user lists them
    listed = service.list_secrets(session=session, user_id=user.id)

    # Then: only theirs, in name order
    assert [r.name for r in listed] == ["alpha", "zeta"]


def test_a_credential_can_belong_to_the_users_workflow(
    session: Session, store: SpyStore, user: User, other_user: User, database_url: str
) -> None:
    # Given: a workflow of the user and one of another user
    mine = Workflow(name="w", graph={}, webhook_token="t1", user_id=user.id)
    theirs = Workflow(name="w", graph={}, webhook_token="t2", user_id=other_user.id)
    session.add_all([mine, theirs])
    session.commit()

    # When: credentials are created for each
    reference = _create(session, store, user, workflow_id=mine.id)
    with pytest.raises(NotFound, match="workflow"):
        _create(session, store, user, name="other", workflow_id=theirs.id)

    # Then: the own workflow is linked; the other user's is not found and nothing was stored
    assert reference.workflow_id == mine.id
    assert _stored_values(database_url) == 1


def test_public_schema_has_camel_case_fields_and_never_the_value(
    session: Session, store: SpyStore, user: User
) -> None:
    # Given: a credential
    reference = _create(session, store, user, value=CANARY, description="d")

    # When: it is shown through the API schema
    public = service.to_public(reference).model_dump(mode="json", by_alias=True)

    # Then: the documented fields only (the ARN is where the value lives, for node configs)
    assert set(public) == {"id", "name", "arn", "description", "createdAt", "workflowId"}
    assert public["arn"] == reference.arn
    assert CANARY not in json.dumps(public)


# --- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "   "}, "name must have 1 to"),
        ({"name": "n" * (MAX_NAME_LENGTH + 1)}, "name must have 1 to"),
        ({"name": "a\x00b"}, "NUL"),
        ({"description": "d" * (MAX_DESCRIPTION_LENGTH + 1)}, "description"),
        ({"value": ""}, "must not be empty"),
        ({"value": CANARY * (MAX_SECRET_VALUE_BYTES // len(CANARY) + 1)}, "64 KiB"),
        ({"value": CANARY + "\udcff"}, "not valid Unicode"),
        ({"value": 12345}, "must be text"),
    ],
    ids=[
        "blank-name",
        "long-name",
        "nul-name",
        "long-description",
        "empty-value",
        "large-value",
        "surrogate-value",
        "non-text-value",
    ],
)
def test_invalid_input_is_refused_before_anything_is_stored(
    session: Session,
    store: SpyStore,
    user: User,
    database_url: str,
    fields: dict[str, Any],
    message: str,
) -> None:
    # Given / When: a credential with one bad field
    with pytest.raises(InvalidInput, match=message) as raised:
        _create(session, store, user, **fields)

    # Then: the message never quotes the value, and neither the store nor the database changed
    assert CANARY not in str(raised.value)
    assert store.calls == []
    assert _stored_values(database_url) == 0
    assert _references(database_url) == []


def test_names_are_unique_per_user(
    session: Session, store: SpyStore, user: User, other_user: User, database_url: str
) -> None:
    # Given: a credential named "stripe"
    _create(session, store, user, name="stripe")

    # When: the same user creates another "stripe"
    with pytest.raises(Conflict, match="stripe") as raised:
        _create(session, store, user, name="stripe", value=CANARY)

    # Then: refused without the value and without touching the store; another user may
    assert CANARY not in str(raised.value)
    assert store.calls == ["create"]
    _create(session, store, other_user, name="stripe")
    assert _stored_values(database_url) == 2


def test_the_largest_value_is_accepted(session: Session, store: SpyStore, user: User) -> None:
    # Given: a value of exactly 64 KiB of UTF-8
    value = "€" * (MAX_SECRET_VALUE_BYTES // 3) + "x" * (MAX_SECRET_VALUE_BYTES % 3)

    # When: it is stored
    reference = _create(session, store, user, value=value)

    # Then: it comes back whole
    assert (
        service.get_secret_value_for_run(
            session=session, store=store, user_id=user.id, secret_id=reference.id
        )
        == value
    )


# --- ownership ------------------------------------------------------------------------


def test_another_users_credential_is_not_found(
    session: Session, store: SpyStore, user: User, other_user: User, database_url: str
) -> None:
    # Given: a credential of another user
    theirs = _create(session, store, other_user, value="their-value")
    calls_before = list(store.calls)

    # When / Then: every operation by this user is NotFound and touches nothing
    common = {"session": session, "user_id": user.id, "secret_id": theirs.id}
    with pytest.raises(NotFound):
        service.get_secret(**common)
    with pytest.raises(NotFound):
        service.get_secret_value_for_run(store=store, **common)
    with pytest.raises(NotFound):
        service.rotate_secret(store=store, value="hijacked", **common)
    with pytest.raises(NotFound):
        service.delete_secret(store=store, **common)
    assert store.calls == calls_before
    assert (
        service.get_secret_value_for_run(
            session=session, store=store, user_id=other_user.id, secret_id=theirs.id
        )
        == "their-value"
    )
    assert len(_references(database_url)) == 1


# --- rotate and delete ----------------------------------------------------------------


def test_rotate_replaces_the_value_behind_the_same_reference(
    session: Session, store: SpyStore, user: User
) -> None:
    # Given: a credential
    reference = _create(session, store, user, value="before-value")
    arn = reference.arn

    # When: it is rotated
    rotated = service.rotate_secret(
        session=session, store=store, user_id=user.id, secret_id=reference.id, value="after-value"
    )

    # Then: same row and ARN, new value
    assert (rotated.id, rotated.arn) == (reference.id, arn)
    assert (
        service.get_secret_value_for_run(
            session=session, store=store, user_id=user.id, secret_id=reference.id
        )
        == "after-value"
    )


def test_rotate_validates_the_new_value(session: Session, store: SpyStore, user: User) -> None:
    # Given: a credential
    reference = _create(session, store, user)

    # When / Then: an empty new value is refused before the store is called
    with pytest.raises(InvalidInput):
        service.rotate_secret(
            session=session, store=store, user_id=user.id, secret_id=reference.id, value=""
        )
    assert "rotate" not in store.calls


def test_delete_removes_the_reference_and_then_the_value(
    session: Session, store: SpyStore, user: User, database_url: str
) -> None:
    # Given: a credential
    reference = _create(session, store, user)
    arn = reference.arn

    # When: it is deleted
    service.delete_secret(session=session, store=store, user_id=user.id, secret_id=reference.id)

    # Then: the row and the stored value are gone; a second delete is NotFound
    assert _references(database_url) == []
    with pytest.raises(SecretNotFound):
        store.inner.get_secret_value(arn)
    with pytest.raises(NotFound):
        service.delete_secret(session=session, store=store, user_id=user.id, secret_id=reference.id)


def test_a_reference_whose_value_vanished_is_not_found(
    session: Session, store: SpyStore, user: User
) -> None:
    # Given: a credential whose value was removed from the store behind WorkFuse's back
    reference = _create(session, store, user)
    store.inner.delete_secret(reference.arn)

    # When / Then: reading or rotating it says so
    common = {"session": session, "store": store, "user_id": user.id, "secret_id": reference.id}
    with pytest.raises(NotFound, match="no value in the secret store"):
        service.get_secret_value_for_run(**common)
    with pytest.raises(NotFound, match="no value in the secret store"):
        service.rotate_secret(value="new-value", **common)


# --- nothing half-saved ---------------------------------------------------------------


def test_a_failing_insert_deletes_the_value_from_the_store_again(
    session: Session, store: SpyStore, user: User, database_url: str
) -> None:
    # Given: another request that takes the name while the value is being stored
    def racing_request() -> None:
        with session_scope(database_url) as other:
            other.add(SecretReference(user_id=user.id, name="race", arn="local:racer"))

    store.after_create = racing_request

    # When: the credential is created
    with pytest.raises(Conflict, match="race"):
        _create(session, store, user, name="race", value=CANARY)

    # Then: the value written to the store was deleted again; only the racer's row exists
    assert store.calls == ["create", "delete"]
    assert _stored_values(database_url) == 0
    assert [r.arn for r in _references(database_url)] == ["local:racer"]


def test_any_database_failure_on_create_deletes_the_value_again(
    session: Session,
    store: SpyStore,
    user: User,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given: a database that fails on commit
    def broken_commit() -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(session, "commit", broken_commit)

    # When: a credential is created
    with pytest.raises(sa.exc.OperationalError):
        _create(session, store, user, value=CANARY)

    # Then: the store holds nothing and no row was saved
    assert store.calls == ["create", "delete"]
    assert _stored_values(database_url) == 0
    assert _references(database_url) == []


def test_a_failing_store_write_saves_no_reference(
    session: Session, store: SpyStore, user: User, database_url: str
) -> None:
    # Given: a store that fails to write
    store.fail.add("create")

    # When / Then: the store error comes through and no row was saved
    with pytest.raises(SecretStoreError):
        _create(session, store, user)
    assert _references(database_url) == []


def test_a_failing_database_delete_leaves_the_store_alone(
    session: Session,
    store: SpyStore,
    user: User,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given: a credential, and a database that then fails on commit
    reference = _create(session, store, user, value="keep-this-value")

    def broken_commit() -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))

    monkeypatch.setattr(session, "commit", broken_commit)

    # When: the credential is deleted
    with pytest.raises(sa.exc.OperationalError):
        service.delete_secret(session=session, store=store, user_id=user.id, secret_id=reference.id)

    # Then: the store was not asked to delete; row and value are both still there
    assert "delete" not in store.calls
    assert [r.id for r in _references(database_url)] == [reference.id]
    assert store.inner.get_secret_value(reference.arn) == "keep-this-value"


def test_a_failing_store_delete_after_the_row_is_gone_is_logged_not_raised(
    session: Session,
    store: SpyStore,
    user: User,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given: a credential, and a store that fails to delete
    reference = _create(session, store, user)
    store.fail.add("delete")

    # When: the credential is deleted
    service.delete_secret(session=session, store=store, user_id=user.id, secret_id=reference.id)

    # Then: the reference is gone, and the orphaned value is logged by ARN
    assert _references(database_url) == []
    assert any(
        r.levelno == logging.ERROR and reference.arn in r.getMessage() for r in caplog.records
    )


def test_create_and_rotate_teach_the_redactor(
    session: Session, store: SpyStore, user: User
) -> None:
    # Given: the process's redactor
    redactor = Redactor()

    # When: a credential is created and rotated with it
    reference = _create(session, store, user, value=CANARY, redactor=redactor)
    service.rotate_secret(
        session=session,
        store=store,
        user_id=user.id,
        secret_id=reference.id,
        value=CANARY + "-new",
        redactor=redactor,
    )

    # Then: both values are redacted from then on
    assert redactor.redact_text(f"{CANARY} {CANARY}-new") == "[REDACTED] [REDACTED]"
    assert len(redactor) == 2


def test_the_run_redactor_learns_the_value(session: Session, store: SpyStore, user: User) -> None:
    # Given: a credential and a run's redactor
    reference = _create(session, store, user, value=CANARY)
    redactor = Redactor()

    # When: the worker reads the value for the run
    service.get_secret_value_for_run(
        session=session, store=store, user_id=user.id, secret_id=reference.id, redactor=redactor
    )

    # Then: the redactor hides it from then on
    assert redactor.redact_text(f"got {CANARY}") == "got [REDACTED]"


# --- the canary ---------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, SQLAlchemy's statements and parameters included."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # it sets itself to WARN on import
    yield caplog


def test_canary_never_appears_in_logs_errors_or_public_data(
    session: Session,
    store: SpyStore,
    user: User,
    other_user: User,
    database_url: str,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    # Given: a canary value, and everything logged at DEBUG
    errors: list[BaseException] = []
    public: list[str] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except (ServiceError, SecretStoreError) as error:
            errors.append(error)

    # When: the canary goes through every operation, including refused ones
    reference = _create(session, store, user, name="canary", value=CANARY, description="c")
    common = {"session": session, "store": store, "secret_id": reference.id}
    public.append(service.to_public(reference).model_dump_json(by_alias=True))
    public += [
        service.to_public(r).model_dump_json(by_alias=True)
        for r in service.list_secrets(session=session, user_id=user.id)
    ]
    assert service.get_secret_value_for_run(user_id=user.id, **common) == CANARY
    service.rotate_secret(user_id=user.id, value=CANARY + "-2", **common)
    attempt(lambda: _create(session, store, user, name="canary", value=CANARY))
    attempt(lambda: _create(session, store, user, name="big", value=CANARY * 4000))
    attempt(lambda: _create(session, store, user, name="", value=CANARY))
    attempt(lambda: service.get_secret_value_for_run(user_id=other_user.id, **common))
    attempt(lambda: service.rotate_secret(user_id=other_user.id, value=CANARY, **common))
    with Session(get_engine(database_url)) as fresh:  # tamper, then read: a decryption error
        row = fresh.get(SecretValue, reference.arn.removeprefix("local:"))
        assert row is not None
        row.ciphertext = bytes(b ^ 0xFF for b in row.ciphertext)
        fresh.add(row)
        fresh.commit()
    attempt(lambda: service.get_secret_value_for_run(user_id=user.id, **common))
    service.delete_secret(user_id=user.id, **common)

    # Then: logging happened, errors were raised, and the canary is in none of them
    assert any(r.name.startswith("sqlalchemy") for r in debug_logs.records)
    assert len(errors) == 6
    texts = [
        *(r.getMessage() for r in debug_logs.records),
        debug_logs.text,
        *("".join(traceback.format_exception(error)) for error in errors),
        *public,
    ]
    for text in texts:
        assert CANARY not in text


# --- usage ------------------------------------------------------------------------------


def _workflow(session: Session, user: User, name: str, nodes: list[Any]) -> Workflow:
    workflow = Workflow(
        name=name, graph={"nodes": nodes, "edges": []}, webhook_token=f"t-{name}", user_id=user.id
    )
    session.add(workflow)
    session.commit()
    return workflow


def _node(node_id: str, node_type: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": node_id, "config": config}}


def test_usage_finds_every_node_config_that_names_a_credential(
    session: Session, store: SpyStore, user: User, other_user: User
) -> None:
    # Given: three credentials of the user, one of another user
    api = _create(session, store, user, name="api")
    llm = _create(session, store, user, name="llm")
    spare = _create(session, store, user, name="spare")
    theirs = _create(session, store, other_user, name="theirs")
    # And: workflows naming them in HTTP auth, AI and trigger HMAC configs
    orders = _workflow(
        session,
        user,
        "Orders",
        [
            _node("start", "trigger", {"source": "webhook", "hmac": {"secretArn": api.arn}}),
            _node("fetch", "http", {"url": "https://x.test", "auth": {"secretArn": api.arn}}),
            _node("ask", "ai", {"provider": "openai", "secretArn": llm.arn}),
        ],
    )
    billing = _workflow(
        session, user, "Billing", [_node("call", "http", {"auth": {"secretArn": api.arn}})]
    )
    _workflow(session, user, "Plain", [_node("start", "trigger", {"source": "manual"})])
    # And: another user's workflow that names the user's ARN (it cannot use it)
    _workflow(session, other_user, "Theirs", [_node("n", "http", {"auth": {"secretArn": api.arn}})])
    _workflow(session, other_user, "Own", [_node("n", "ai", {"secretArn": theirs.arn})])

    # When: the user's usage is read
    usage = service.credential_usage(session=session, user_id=user.id)

    # Then: each used credential maps to the user's workflows (by name) and their nodes
    assert usage == {
        api.arn: [
            service.CredentialUse(billing.id, "Billing", ("call",)),
            service.CredentialUse(orders.id, "Orders", ("fetch", "start")),
        ],
        llm.arn: [service.CredentialUse(orders.id, "Orders", ("ask",))],
    }
    assert spare.arn not in usage
    assert service.workflows_using(session=session, user_id=user.id, secret_id=spare.id) == []
    assert [
        use.workflow_name
        for use in service.workflows_using(session=session, user_id=user.id, secret_id=llm.id)
    ] == ["Orders"]
    with pytest.raises(NotFound):
        service.workflows_using(session=session, user_id=other_user.id, secret_id=llm.id)


def test_usage_ignores_malformed_graphs(session: Session, store: SpyStore, user: User) -> None:
    # Given: a credential and drafts whose graphs are not well formed
    _create(session, store, user, name="api")
    _workflow(session, user, "Odd", ["not a node", {"id": "x"}, {"id": "y", "data": "text"}])
    draft = Workflow(name="Empty", graph={}, webhook_token="t-empty", user_id=user.id)
    session.add(draft)
    session.commit()

    # When / Then: nothing uses the credential, and nothing fails
    assert service.credential_usage(session=session, user_id=user.id) == {}
