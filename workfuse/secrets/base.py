"""The seed's Secret Manager contract: a ``SecretStore`` protocol, its reference and errors.

A store keeps credential *values*; the database keeps only the :class:`SecretReference`
(the ARN, or ``local:<id>`` for the embedded store). Every error message names the
secret by ARN or name and never contains a value, so errors may be logged and shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

MAX_SECRET_VALUE_BYTES = 65_536  #: bytes of UTF-8, AWS Secrets Manager's SecretString limit
MAX_STORE_NAME_LENGTH = 512  #: characters, AWS Secrets Manager's name limit


class SecretReference(BaseModel):
    """Where a stored secret lives (the seed's ``SecretReference``); never its value.

    Serialised with camelCase names (``createdAt``, ``versionId``). ``version_id``
    names the current version: the local store's counter, or the AWS ``VersionId``.
    """

    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True
    )

    arn: str
    name: str
    created_at: datetime
    version_id: str | None = None


class SecretStoreError(Exception):
    """The store failed or refused; the message names the secret, never its value."""


class SecretNotFound(SecretStoreError):
    """No secret with this ARN (never created, deleted, or from another store)."""


class SecretDecryptionError(SecretStoreError):
    """A stored value cannot be decrypted: tampered data, or a key that is not configured."""


@runtime_checkable
class SecretStore(Protocol):
    """The seed's operations: ``createSecret``, ``getSecretValue``, ``deleteSecret``,
    ``rotateSecret``. Implementations: :mod:`workfuse.secrets.local` (embedded default)
    and :mod:`workfuse.secrets.aws`.

    A store commits each operation on its own; it takes no part in the caller's
    database transaction (the services order their writes so nothing is half-saved).
    """

    def create_secret(
        self,
        name: str,
        value: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SecretReference:
        """Store ``value`` under a new ARN; ``name`` must be unique in the store."""
        ...

    def get_secret_value(self, arn: str) -> str:
        """The current value, or :class:`SecretNotFound`."""
        ...

    def delete_secret(self, arn: str) -> None:
        """Delete the secret at once (no recovery window).

        An unknown ARN is :class:`SecretNotFound` where the store can tell; AWS cannot
        (it accepts a forced delete of an unknown secret). Callers treat both as deleted.
        """
        ...

    def rotate_secret(self, arn: str, new_value: str) -> SecretReference:
        """Make ``new_value`` the current version; ``get_secret_value`` no longer sees the old."""
        ...


def encode_value(value: str, arn_or_name: str) -> bytes:
    """``value`` as UTF-8, checked against the size limit (messages never hold the value)."""
    if not isinstance(value, str):
        raise SecretStoreError(f"secret {arn_or_name}: the value must be a string")
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError:
        raise SecretStoreError(
            f"secret {arn_or_name}: the value is not valid Unicode text"
        ) from None
    if not data:
        raise SecretStoreError(f"secret {arn_or_name}: the value must not be empty")
    if len(data) > MAX_SECRET_VALUE_BYTES:
        raise SecretStoreError(
            f"secret {arn_or_name}: the value is larger than {MAX_SECRET_VALUE_BYTES} bytes"
        )
    return data
