"""The embedded secret store: values sealed with AES-256-GCM in the ``secret_values`` table.

Each value is encrypted under ``WORKFUSE_ENCRYPTION_KEY`` with a fresh random 96-bit
nonce. The associated data binds the ciphertext to its row id, so a ciphertext copied
into another row (or altered in place) fails authentication instead of decrypting to
the wrong credential. Every row records the id of the key that sealed it, so the key
can be rotated: put the previous key in ``WORKFUSE_ENCRYPTION_OLD_KEYS`` (used only to
decrypt), then ``rotate_secret`` or :meth:`LocalSecretStore.reencrypt_all` seals values
under the new key; once no row names an old key id, that key can be dropped.

Limits:
- Random nonces are safe for about 2**32 encryptions under one key; rotate the key
  long before that (a busy install rotates credentials far less often).
- The key lives in the process (settings or ``<data_dir>/encryption.key``); anyone who
  can read both it and the database can read every credential.
- Rotation overwrites the row, but the database may keep the old ciphertext in free
  pages, WAL or backups until they are reclaimed; it stays encrypted there.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from workfuse.db import session_scope
from workfuse.db_types import utcnow
from workfuse.models import SecretValue
from workfuse.secrets.base import (
    MAX_STORE_NAME_LENGTH,
    SecretDecryptionError,
    SecretNotFound,
    SecretReference,
    SecretStoreError,
    encode_value,
)
from workfuse.settings import ENCRYPTION_KEY_BYTES, Settings, get_settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: Opens a session that commits when the block succeeds (like ``db.session_scope``).
SessionFactory = Callable[[], AbstractContextManager[Session]]

ARN_PREFIX = "local:"
NONCE_BYTES = 12  #: bytes (96-bit nonce, random per encryption)
KEY_ID_LENGTH = 16  #: hex characters of the key fingerprint kept on each row
_KEY_ID_CONTEXT = b"workfuse.secret-key-id:"
_AAD_CONTEXT = b"workfuse.secret_values.v1:"


def key_id(key: bytes) -> str:
    """A short, stable fingerprint of ``key`` (SHA-256, domain-separated, 64 bits)."""
    return hashlib.sha256(_KEY_ID_CONTEXT + key).hexdigest()[:KEY_ID_LENGTH]


def _associated_data(row_id: str) -> bytes:
    return _AAD_CONTEXT + row_id.encode("ascii")


def _execute(session: Session, statement: sa.Update) -> int:
    """Run an UPDATE; the number of rows it changed."""
    result = cast("sa.CursorResult[Any]", session.execute(statement))
    return result.rowcount


def _row_id(arn: str) -> str:
    row_id = arn[len(ARN_PREFIX) :] if arn.startswith(ARN_PREFIX) else ""
    if not row_id or len(row_id) > 32 or not row_id.isascii():
        raise SecretNotFound(f"no secret {arn[:80]!r} in the local store")
    return row_id


class LocalSecretStore:
    """A :class:`~workfuse.secrets.base.SecretStore` in the WorkFuse database.

    Parameters:
        key: the current 32-byte key; every new or rotated value is sealed with it.
        old_keys: earlier keys, used only to decrypt rows they sealed. Default none.
        session_factory: opens a committing session on the database holding
            ``secret_values``; each operation runs in its own transaction.

    ``description`` and ``tags`` are accepted for parity with AWS and not stored: the
    caller's ``SecretReference`` row keeps the description.

    The cipher library (about 7 MB of resident memory with OpenSSL) is loaded when a
    value is first sealed or opened, so a process that never touches a credential
    does not load it.
    """

    def __init__(
        self,
        *,
        key: bytes,
        old_keys: Sequence[bytes] = (),
        session_factory: SessionFactory,
    ) -> None:
        for candidate in (key, *old_keys):
            if len(candidate) != ENCRYPTION_KEY_BYTES:
                raise ValueError(f"an encryption key must be {ENCRYPTION_KEY_BYTES} bytes")
        self._key_id = key_id(key)
        self._keys = {key_id(old): old for old in old_keys}
        self._keys[self._key_id] = key
        self._ciphers: dict[str, AESGCM] = {}
        self._session_factory = session_factory

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, session_factory: SessionFactory | None = None
    ) -> LocalSecretStore:
        """The store for ``settings`` (default: the process settings and database)."""
        settings = settings or get_settings()
        url = settings.resolved_database_url
        return cls(
            key=settings.encryption_key_bytes(),
            old_keys=settings.encryption_old_keys_bytes(),
            session_factory=session_factory or (lambda: session_scope(url)),
        )

    @property
    def key_id(self) -> str:
        """The id of the current key (stored on every row it seals)."""
        return self._key_id

    def __repr__(self) -> str:
        return f"LocalSecretStore(key_id={self._key_id!r}, keys={len(self._keys)})"

    # --- the SecretStore operations -------------------------------------------------

    def create_secret(
        self,
        name: str,
        value: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SecretReference:
        if not name or len(name) > MAX_STORE_NAME_LENGTH:
            raise SecretStoreError(
                f"a secret name must have 1 to {MAX_STORE_NAME_LENGTH} characters"
            )
        data = encode_value(value, repr(name))
        try:
            with self._session_factory() as session:
                if session.exec(select(SecretValue.id).where(SecretValue.name == name)).first():
                    raise SecretStoreError(f"a secret named {name!r} already exists")
                row = SecretValue(name=name, key_id=self._key_id, nonce=b"", ciphertext=b"")
                row.nonce, row.ciphertext = self._seal(row.id, data)
                session.add(row)
                session.flush()
                return self._reference(row)
        except IntegrityError:
            # Another writer took the name between the check and the insert.
            raise SecretStoreError(f"a secret named {name!r} already exists") from None

    def get_secret_value(self, arn: str) -> str:
        row_id = _row_id(arn)
        with self._session_factory() as session:
            row = session.get(SecretValue, row_id)
            if row is None:
                raise SecretNotFound(f"no secret {arn} in the local store")
            return self._open(row).decode("utf-8")

    def delete_secret(self, arn: str) -> None:
        row_id = _row_id(arn)
        with self._session_factory() as session:
            row = session.get(SecretValue, row_id)
            if row is None:
                raise SecretNotFound(f"no secret {arn} in the local store")
            session.delete(row)

    def rotate_secret(self, arn: str, new_value: str) -> SecretReference:
        """Replace the value in place: a new version, sealed with the current key.

        One ``UPDATE`` (the sealing needs only the row id), so concurrent rotations
        each count a version and the last one wins, on SQLite as on PostgreSQL.
        """
        row_id = _row_id(arn)
        nonce, ciphertext = self._seal(row_id, encode_value(new_value, arn))
        with self._session_factory() as session:
            updated = _execute(
                session,
                sa.update(SecretValue)
                .where(col(SecretValue.id) == row_id)
                .values(
                    version=col(SecretValue.version) + 1,
                    key_id=self._key_id,
                    nonce=nonce,
                    ciphertext=ciphertext,
                    updated_at=utcnow(),
                ),
            )
            if updated == 0:
                raise SecretNotFound(f"no secret {arn} in the local store")
            row = session.exec(select(SecretValue).where(col(SecretValue.id) == row_id)).one()
            return self._reference(row)

    # --- key rotation ---------------------------------------------------------------

    def reencrypt_all(self) -> int:
        """Seal every row still under an old key with the current one; returns the count.

        Values and versions are unchanged. Runs in one transaction, so it either moves
        every row or none (a row whose key is missing raises :class:`SecretDecryptionError`).
        A row rotated meanwhile is left alone: the rotation sealed it with the current key.
        """
        moved = 0
        with self._session_factory() as session:
            rows = session.exec(
                select(SecretValue).where(col(SecretValue.key_id) != self._key_id)
            ).all()
            for row in rows:
                nonce, ciphertext = self._seal(row.id, self._open(row))
                moved += _execute(
                    session,
                    sa.update(SecretValue)
                    .where(
                        col(SecretValue.id) == row.id,
                        col(SecretValue.version) == row.version,
                        col(SecretValue.key_id) == row.key_id,
                    )
                    .values(key_id=self._key_id, nonce=nonce, ciphertext=ciphertext),
                )
        return moved

    # --- sealing --------------------------------------------------------------------

    def _seal(self, row_id: str, data: bytes) -> tuple[bytes, bytes]:
        """A fresh nonce and the ciphertext of ``data`` for row ``row_id``, current key."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._cipher(self._key_id).encrypt(nonce, data, _associated_data(row_id))
        return nonce, ciphertext

    def _open(self, row: SecretValue) -> bytes:
        from cryptography.exceptions import InvalidTag

        arn = ARN_PREFIX + row.id
        if row.key_id not in self._keys:
            raise SecretDecryptionError(
                f"secret {arn} was encrypted with key id {row.key_id!r}, which is neither "
                "WORKFUSE_ENCRYPTION_KEY nor one of WORKFUSE_ENCRYPTION_OLD_KEYS"
            )
        try:
            return self._cipher(row.key_id).decrypt(
                row.nonce, row.ciphertext, _associated_data(row.id)
            )
        except (InvalidTag, ValueError):
            raise SecretDecryptionError(
                f"secret {arn} failed authentication: its stored ciphertext was altered, "
                "truncated or copied from another row"
            ) from None

    def _cipher(self, key_id: str) -> AESGCM:
        """The AES-GCM cipher of a known key id, built on first use."""
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            cipher = self._ciphers[key_id] = AESGCM(self._keys[key_id])
        return cipher

    def _reference(self, row: SecretValue) -> SecretReference:
        return SecretReference(
            arn=ARN_PREFIX + row.id,
            name=row.name,
            created_at=row.created_at,
            version_id=str(row.version),
        )
