"""Credentials: the seed's ``secrets.*`` procedures. A value goes in once (create,
rotate) and never comes back out: no route returns it."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import Field

from workfuse.api.deps import CurrentUser, DbSession
from workfuse.logs import REDACTOR
from workfuse.models import (
    MAX_DESCRIPTION_LENGTH,
    MAX_NAME_LENGTH,
    ApiSchema,
    SecretReferencePublic,
)
from workfuse.secrets import MAX_SECRET_VALUE_BYTES, process_secret_store
from workfuse.services import secrets as service

router = APIRouter(prefix="/api/secrets", tags=["secrets"])


class SecretCreate(ApiSchema):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    value: str = Field(min_length=1, max_length=MAX_SECRET_VALUE_BYTES)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    workflow_id: str | None = None


class SecretRotate(ApiSchema):
    value: str = Field(min_length=1, max_length=MAX_SECRET_VALUE_BYTES)


@router.get("")
def list_secrets(user: CurrentUser, session: DbSession) -> list[SecretReferencePublic]:
    rows = service.list_secrets(session=session, user_id=user.id)
    return [service.to_public(row) for row in rows]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_secret(
    data: SecretCreate, user: CurrentUser, session: DbSession
) -> SecretReferencePublic:
    """Store a value in the secret store; the response describes it, without the value."""
    reference = service.create_secret(
        session=session,
        store=process_secret_store(),
        user_id=user.id,
        name=data.name,
        value=data.value,
        description=data.description,
        workflow_id=data.workflow_id,
        redactor=REDACTOR,
    )
    return service.to_public(reference)


@router.post("/{secret_id}/rotate")
def rotate_secret(
    secret_id: str, data: SecretRotate, user: CurrentUser, session: DbSession
) -> SecretReferencePublic:
    """Replace the value (same reference, so node configs keep working)."""
    reference = service.rotate_secret(
        session=session,
        store=process_secret_store(),
        user_id=user.id,
        secret_id=secret_id,
        value=data.value,
        redactor=REDACTOR,
    )
    return service.to_public(reference)


@router.delete("/{secret_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_secret(secret_id: str, user: CurrentUser, session: DbSession) -> None:
    service.delete_secret(
        session=session, store=process_secret_store(), user_id=user.id, secret_id=secret_id
    )
