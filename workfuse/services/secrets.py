"""Credentials: a user's secrets, kept in the secret store and referenced from the database.

Every function takes the acting user's id; another user's credential is :class:`NotFound`.
The value goes to the store only; the ``secret_references`` row holds its ARN (or
``local:<id>``), name and description. No message, log record or public schema holds
a value.

The store and the database cannot share a transaction, so these functions commit the
session themselves, in an order that never leaves a reference without a value:

- create: store write, then the row (commit); if the row fails, the value is deleted
  from the store again.
- delete: the row (commit), then the store; if the row fails, the store is untouched.
  If the store then fails, the value is orphaned (logged with its ARN), never the row.
- rotate: the store only (the reference does not change).

Call them with no other pending writes in ``session`` (they would be committed too,
and on SQLite they would hold the write lock the local store needs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workfuse.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NAME_LENGTH,
    SecretReference,
    SecretReferencePublic,
    Workflow,
)
from workfuse.nodes.registry import REGISTRY
from workfuse.secrets import (
    MAX_SECRET_VALUE_BYTES,
    Redactor,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
)
from workfuse.secrets.for_run import values_for_run as values_for_run
from workfuse.services.errors import Conflict, InvalidInput, NotFound, reject_unstorable_text

logger = logging.getLogger(__name__)

STORE_NAME_PREFIX = "workfuse"  #: store names are ``workfuse/<user id>/<reference id>``


def to_public(reference: SecretReference) -> SecretReferencePublic:
    return SecretReferencePublic.model_validate(reference)


def _checked_name(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInput("the credential name must be text")
    reject_unstorable_text(name, "the credential name")
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the credential name must have 1 to {MAX_NAME_LENGTH} characters")
    return name


def _checked_description(description: str | None) -> str | None:
    if description is None:
        return None
    reject_unstorable_text(description, "the description")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"the description must have at most {MAX_DESCRIPTION_LENGTH} characters")
    return description


def _check_value(value: str) -> None:
    """Refuse an unusable value; the messages never quote it."""
    if not isinstance(value, str):
        raise InvalidInput("the secret value must be text")
    if not value:
        raise InvalidInput("the secret value must not be empty")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput("the secret value is not valid Unicode text") from None
    if size > MAX_SECRET_VALUE_BYTES:
        raise InvalidInput(
            f"the secret value must be at most {MAX_SECRET_VALUE_BYTES} bytes (64 KiB) of UTF-8"
        )


def _named(session: Session, user_id: str, name: str) -> SecretReference | None:
    query = select(SecretReference).where(
        SecretReference.user_id == user_id, SecretReference.name == name
    )
    return session.exec(query).first()


def discard_secret_value(store: SecretStore, arn: str) -> None:
    """Remove a value whose reference is gone (or was never saved); a failure is logged
    (the value is orphaned in the store), never raised."""
    try:
        store.delete_secret(arn)
    except SecretNotFound:
        pass
    except SecretStoreError as error:
        logger.error("orphaned secret %s could not be deleted from the store: %s", arn, error)


@dataclass(frozen=True)
class CredentialUse:
    """A workflow whose current graph names a credential, and the nodes that do."""

    workflow_id: str
    workflow_name: str
    node_ids: tuple[str, ...]


def _strings(value: Any) -> Iterable[str]:
    """Every string in a JSON-like value (dict values, list items), depth first."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _references(node: dict[str, Any]) -> set[str]:
    """The credential references a stored node names (see :func:`credential_usage`)."""
    config = node["data"].get("config")
    spec = REGISTRY.spec_of(node)
    if spec is None:
        return set(_strings(config))
    return spec.credential_references(config if isinstance(config, dict) else {})


def credential_usage(*, session: Session, user_id: str) -> dict[str, list[CredentialUse]]:
    """The user's workflows that use each of the user's credentials, keyed by ARN.

    A workflow uses a credential when one of its nodes names the credential's ARN in a
    field its node type declares as a credential field (``NodeSpec.credentials``); for
    a node of a type this server does not know, in any string of its config.
    Credentials nobody uses are left out; workflows come in name order.

    Limits: only the current version of each workflow is read (an execution still
    running on an older version may use a credential its workflow no longer names),
    and an ARN assembled by a template at run time is not recognised. It reads every
    graph of the user: linear in the size of their workflows.
    """
    arns = set(
        session.exec(select(SecretReference.arn).where(SecretReference.user_id == user_id)).all()
    )
    usage: dict[str, list[CredentialUse]] = {}
    if not arns:
        return usage
    workflows = session.exec(
        select(Workflow.id, Workflow.name, Workflow.graph)
        .where(Workflow.user_id == user_id)
        .order_by(col(Workflow.name), col(Workflow.id))
    ).all()
    for workflow_id, workflow_name, graph in workflows:
        nodes_by_arn: dict[str, list[str]] = {}
        nodes = graph.get("nodes") if isinstance(graph, dict) else None
        for node in nodes if isinstance(nodes, list) else []:
            if not isinstance(node, dict) or not isinstance(node.get("data"), dict):
                continue
            named = _references(node) & arns
            for arn in named:
                nodes_by_arn.setdefault(arn, []).append(str(node.get("id", "")))
        for arn, node_ids in nodes_by_arn.items():
            usage.setdefault(arn, []).append(
                CredentialUse(workflow_id, workflow_name, tuple(sorted(node_ids)))
            )
    return usage


def workflows_using(*, session: Session, user_id: str, secret_id: str) -> list[CredentialUse]:
    """The user's workflows that use one credential (see :func:`credential_usage`)."""
    reference = get_secret(session=session, user_id=user_id, secret_id=secret_id)
    return credential_usage(session=session, user_id=user_id).get(reference.arn, [])


def get_secret(*, session: Session, user_id: str, secret_id: str) -> SecretReference:
    reference = session.get(SecretReference, secret_id)
    if reference is None or reference.user_id != user_id:
        raise NotFound(f"credential {secret_id} not found")
    return reference


def list_secrets(*, session: Session, user_id: str) -> list[SecretReference]:
    """The user's credentials by name."""
    query = (
        select(SecretReference)
        .where(SecretReference.user_id == user_id)
        .order_by(col(SecretReference.name), col(SecretReference.id))
    )
    return list(session.exec(query).all())


def create_secret(
    *,
    session: Session,
    store: SecretStore,
    user_id: str,
    name: str,
    value: str,
    description: str | None = None,
    workflow_id: str | None = None,
    redactor: Redactor | None = None,
) -> SecretReference:
    """Store ``value`` and save a reference named ``name`` (unique per user); commits.

    With ``redactor``, the value is registered there first, so logs redact it.
    """
    name = _checked_name(name)
    description = _checked_description(description)
    _check_value(value)
    if redactor is not None:
        redactor.register(value)
    if workflow_id is not None:
        reject_unstorable_text(workflow_id, "the workflow id")  # PostgreSQL cannot even look it up
        workflow = session.get(Workflow, workflow_id)
        if workflow is None or workflow.user_id != user_id:
            raise NotFound(f"workflow {workflow_id} not found")
    if _named(session, user_id, name) is not None:
        raise Conflict(f"a credential named {name!r} already exists")

    reference = SecretReference(
        user_id=user_id, name=name, description=description, workflow_id=workflow_id, arn=""
    )
    stored = store.create_secret(
        f"{STORE_NAME_PREFIX}/{user_id}/{reference.id}",
        value,
        description=description,
        tags={"workfuse:user": user_id, "workfuse:credential": reference.id},
    )
    reference.arn = stored.arn
    try:
        session.add(reference)
        session.commit()
    except BaseException as error:
        session.rollback()
        discard_secret_value(store, stored.arn)
        if isinstance(error, IntegrityError) and _named(session, user_id, name) is not None:
            # Another request took the name between the check and the insert.
            raise Conflict(f"a credential named {name!r} already exists") from None
        raise
    logger.info("credential %s (%r) created for user %s", reference.id, name, user_id)
    return reference


def rotate_secret(
    *,
    session: Session,
    store: SecretStore,
    user_id: str,
    secret_id: str,
    value: str,
    redactor: Redactor | None = None,
) -> SecretReference:
    """Replace the value; runs that start afterwards get the new one.

    With ``redactor``, the new value is registered there first (the old one stays
    registered: runs already under way may still print it).
    """
    reference = get_secret(session=session, user_id=user_id, secret_id=secret_id)
    _check_value(value)
    if redactor is not None:
        redactor.register(value)
    try:
        store.rotate_secret(reference.arn, value)
    except SecretNotFound:
        raise NotFound(
            f"credential {reference.name!r} has no value in the secret store; "
            "delete it and create it again"
        ) from None
    logger.info("credential %s rotated", reference.id)
    return reference


def delete_secret(*, session: Session, store: SecretStore, user_id: str, secret_id: str) -> None:
    """Delete the reference (commits), then the value in the store."""
    reference = get_secret(session=session, user_id=user_id, secret_id=secret_id)
    arn = reference.arn
    try:
        session.delete(reference)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    discard_secret_value(store, arn)
    logger.info("credential %s deleted", secret_id)


def get_secret_value_for_run(
    *,
    session: Session,
    store: SecretStore,
    user_id: str,
    secret_id: str,
    redactor: Redactor | None = None,
) -> str:
    """The value, for the worker that runs the user's workflow (never for the UI or API).

    With ``redactor``, the value is registered there before it is returned, so the
    run's logs and stored outputs can be redacted.
    """
    reference = get_secret(session=session, user_id=user_id, secret_id=secret_id)
    try:
        value = store.get_secret_value(reference.arn)
    except SecretNotFound:
        raise NotFound(f"credential {reference.name!r} has no value in the secret store") from None
    if redactor is not None:
        redactor.register(value)
    return value
