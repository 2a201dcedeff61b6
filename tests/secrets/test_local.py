"""The local secret store on SQLite and PostgreSQL: AES-GCM sealing, tampering, key rotation."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from workfuse.db import get_engine, session_scope, upgrade_database
from workfuse.db_types import utcnow
from workfuse.models import SecretReference, SecretValue
from workfuse.secrets import (
    MAX_SECRET_VALUE_BYTES,
    LocalSecretStore,
    SecretDecryptionError,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
)
from workfuse.secrets.local import NONCE_BYTES, key_id

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
CANARY = "canary-7f3e9b21-value"

MakeStore = Callable[..., LocalSecretStore]


@pytest.fixture
def make_store(database_url: str) -> MakeStore:
    def make(key: bytes = KEY_A, old_keys: tuple[bytes, ...] = ()) -> LocalSecretStore:
        return LocalSecretStore(
            key=key, old_keys=old_keys, session_factory=lambda: session_scope(database_url)
        )

    return make


@pytest.fixture
def store(make_store: MakeStore) -> LocalSecretStore:
    return make_store()


def _row(url: str, arn: str) -> SecretValue:
    with Session(get_engine(url)) as fresh:
        row = fresh.get(SecretValue, arn.removeprefix("local:"))
        assert row is not None
        fresh.expunge(row)
        return row


def _update(url: str, arn: str, **values: object) -> None:
    with get_engine(url).begin() as connection:
        connection.execute(
            sa.update(SecretValue)
            .where(sa.column("id") == arn.removeprefix("local:"))
            .values(**values)
        )


# --- the SecretStore operations ------------------------------------------------------


def test_local_store_satisfies_the_protocol(store: LocalSecretStore) -> None:
    # Given / When / Then: the runtime-checkable protocol accepts it
    assert isinstance(store, SecretStore)


def test_create_then_get_returns_the_value(store: LocalSecretStore, database_url: str) -> None:
    # Given: a value with non-ASCII text
    value = "sk-ünïcode-🔑-" + "x" * 20

    # When: it is stored
    reference = store.create_secret("openai", value, description="ignored", tags={"a": "b"})

    # Then: the reference points at the local store and the value comes back
    assert reference.arn.startswith("local:")
    assert reference.name == "openai"
    assert reference.created_at.tzinfo is not None
    assert reference.version_id == "1"
    assert store.get_secret_value(reference.arn) == value
    assert set(reference.model_dump(mode="json")) == {"arn", "name", "createdAt", "versionId"}


def test_the_row_holds_ciphertext_under_the_current_key_with_a_random_nonce(
    store: LocalSecretStore, database_url: str
) -> None:
    # Given / When: the same value is stored twice
    first = store.create_secret("one", CANARY)
    second = store.create_secret("two", CANARY)

    # Then: each row has its own nonce and ciphertext, none of it the plain value
    row_one, row_two = _row(database_url, first.arn), _row(database_url, second.arn)
    for row in (row_one, row_two):
        assert len(row.nonce) == NONCE_BYTES
        assert row.key_id == key_id(KEY_A) == store.key_id
        assert CANARY.encode() not in row.ciphertext
        assert len(row.ciphertext) == len(CANARY.encode()) + 16  # GCM tag
    assert row_one.nonce != row_two.nonce
    assert row_one.ciphertext != row_two.ciphertext


def test_the_plain_value_never_reaches_the_database(
    store: LocalSecretStore, database_url: str
) -> None:
    # Given: a canary value stored, rotated and read
    reference = store.create_secret("canary", CANARY)
    store.rotate_secret(reference.arn, CANARY + "-2")
    store.get_secret_value(reference.arn)

    # When: every row of every table is read back raw
    dumped = []
    with get_engine(database_url).connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            dumped += [repr(tuple(row)) for row in connection.execute(sa.select(table))]

    # Then: the canary is nowhere, and on SQLite not in the file or its WAL either
    assert dumped
    assert not any(CANARY in text for text in dumped)
    if database_url.startswith("sqlite"):
        database = sa.engine.make_url(database_url).database or ""
        assert _sqlite_files_contain(database, "canary") is True  # the name, stored as is
        assert _sqlite_files_contain(database, CANARY) is False


def _sqlite_files_contain(database: str, needle: str) -> bool:
    """Search the database file and its WAL from another process.

    Opening and closing the file in this process would drop the POSIX locks that this
    process's SQLite connections hold on it (and break later tests).
    """
    script = (
        "import pathlib, sys\n"
        "base, needle = sys.argv[1], sys.argv[2].encode()\n"
        "paths = [pathlib.Path(base), pathlib.Path(base + '-wal')]\n"
        "print(any(p.exists() and needle in p.read_bytes() for p in paths))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, database, needle],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return result.stdout.strip() == "True"


def test_rotate_makes_a_new_version_and_the_old_value_is_gone(
    store: LocalSecretStore, database_url: str
) -> None:
    # Given: a stored value
    reference = store.create_secret("stripe", "old-value-123")
    before = _row(database_url, reference.arn)

    # When: it is rotated
    rotated = store.rotate_secret(reference.arn, "new-value-456")

    # Then: same ARN, version 2, the new value; the old ciphertext and nonce are gone
    assert (rotated.arn, rotated.name, rotated.version_id) == (reference.arn, "stripe", "2")
    assert rotated.created_at == reference.created_at
    assert store.get_secret_value(reference.arn) == "new-value-456"
    after = _row(database_url, reference.arn)
    assert (after.nonce, after.ciphertext) != (before.nonce, before.ciphertext)
    with Session(get_engine(database_url)) as fresh:
        assert len(fresh.exec(select(SecretValue)).all()) == 1


def test_delete_removes_the_value(store: LocalSecretStore) -> None:
    # Given: a stored value
    reference = store.create_secret("gone", "value-to-delete")

    # When: it is deleted
    store.delete_secret(reference.arn)

    # Then: every operation on it is SecretNotFound
    with pytest.raises(SecretNotFound):
        store.get_secret_value(reference.arn)
    with pytest.raises(SecretNotFound):
        store.rotate_secret(reference.arn, "again-value")
    with pytest.raises(SecretNotFound):
        store.delete_secret(reference.arn)


@pytest.mark.parametrize(
    "arn", ["", "local:", "arn:aws:secretsmanager:eu-west-1:1:secret:x", "local:" + "x" * 40]
)
def test_foreign_or_malformed_arns_are_not_found(store: LocalSecretStore, arn: str) -> None:
    # Given / When / Then: an ARN the local store never issued is SecretNotFound
    with pytest.raises(SecretNotFound):
        store.get_secret_value(arn)


def test_a_name_is_used_once(store: LocalSecretStore) -> None:
    # Given: a secret named "dup"
    store.create_secret("dup", "first-value")

    # When / Then: a second one with that name is refused, without its value
    with pytest.raises(SecretStoreError, match="already exists") as raised:
        store.create_secret("dup", CANARY)
    assert CANARY not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "must not be empty"),
        ("x" * (MAX_SECRET_VALUE_BYTES + 1), "larger than"),
        (CANARY + "\ud800", "not valid Unicode"),
        (b"bytes", "must be a string"),
    ],
    ids=["empty", "too-large", "lone-surrogate", "bytes"],
)
def test_unusable_values_are_refused_without_quoting_them(
    store: LocalSecretStore, value: str, reason: str
) -> None:
    # Given / When: an unusable value is stored
    with pytest.raises(SecretStoreError, match=reason) as raised:
        store.create_secret("bad", value)

    # Then: the message does not quote it, and nothing was stored
    assert CANARY not in str(raised.value)
    assert "x" * 100 not in str(raised.value)


def test_the_largest_value_fits(store: LocalSecretStore) -> None:
    # Given: a value of exactly the size limit (multi-byte characters count as bytes)
    value = "é" * (MAX_SECRET_VALUE_BYTES // 2)

    # When / Then: it is stored and read back
    reference = store.create_secret("big", value)
    assert store.get_secret_value(reference.arn) == value


# --- tampering ------------------------------------------------------------------------


def test_altered_ciphertext_fails_loudly(store: LocalSecretStore, database_url: str) -> None:
    # Given: a stored value whose ciphertext has one bit flipped
    reference = store.create_secret("api", CANARY)
    ciphertext = bytearray(_row(database_url, reference.arn).ciphertext)
    ciphertext[0] ^= 1
    _update(database_url, reference.arn, ciphertext=bytes(ciphertext))

    # When / Then: reading it is a decryption error naming the ARN, not a wrong value
    with pytest.raises(SecretDecryptionError, match="failed authentication") as raised:
        store.get_secret_value(reference.arn)
    assert reference.arn in str(raised.value)
    assert CANARY not in str(raised.value)


@pytest.mark.parametrize("column", ["nonce", "ciphertext"])
def test_truncated_columns_fail_loudly(
    store: LocalSecretStore, database_url: str, column: str
) -> None:
    # Given: a stored value with a truncated nonce or ciphertext
    reference = store.create_secret("api", CANARY)
    original: bytes = getattr(_row(database_url, reference.arn), column)
    _update(database_url, reference.arn, **{column: original[:4]})

    # When / Then: it does not decrypt
    with pytest.raises(SecretDecryptionError):
        store.get_secret_value(reference.arn)


def test_ciphertexts_swapped_between_rows_do_not_decrypt(
    store: LocalSecretStore, database_url: str
) -> None:
    # Given: two secrets whose nonce and ciphertext are exchanged in the database
    low = store.create_secret("low", "low-privilege-key")
    high = store.create_secret("high", "high-privilege-key")
    low_row, high_row = _row(database_url, low.arn), _row(database_url, high.arn)
    _update(database_url, low.arn, nonce=high_row.nonce, ciphertext=high_row.ciphertext)
    _update(database_url, high.arn, nonce=low_row.nonce, ciphertext=low_row.ciphertext)

    # When / Then: neither row yields the other's value; both fail authentication
    for reference in (low, high):
        with pytest.raises(SecretDecryptionError):
            store.get_secret_value(reference.arn)


def test_a_row_sealed_with_an_unknown_key_fails_loudly(make_store: MakeStore) -> None:
    # Given: a value sealed with key A
    reference = make_store(KEY_A).create_secret("api", CANARY)

    # When: a store that knows only key B reads it
    with pytest.raises(SecretDecryptionError, match=key_id(KEY_A)) as raised:
        make_store(KEY_B).get_secret_value(reference.arn)

    # Then: the error names the key id and the settings to fix, never the value
    assert "WORKFUSE_ENCRYPTION_OLD_KEYS" in str(raised.value)
    assert CANARY not in str(raised.value)


# --- key rotation ----------------------------------------------------------------------


def test_old_keys_decrypt_and_rotation_reseals_under_the_new_key(
    make_store: MakeStore, database_url: str
) -> None:
    # Given: a value sealed with key A, and a store whose key is B with A as an old key
    reference = make_store(KEY_A).create_secret("api", "sealed-under-a")
    rotated_store = make_store(KEY_B, (KEY_A,))

    # When: the new store reads it
    # Then: the old key decrypts it
    assert rotated_store.get_secret_value(reference.arn) == "sealed-under-a"

    # When: the value is rotated
    rotated_store.rotate_secret(reference.arn, "sealed-under-b")

    # Then: the row is sealed with B, and a store without A reads it
    assert _row(database_url, reference.arn).key_id == key_id(KEY_B)
    assert make_store(KEY_B).get_secret_value(reference.arn) == "sealed-under-b"


def test_reencrypt_all_moves_every_row_to_the_current_key(
    make_store: MakeStore, database_url: str
) -> None:
    # Given: three values sealed with key A, one of them already moved to B
    old_store = make_store(KEY_A)
    references = [old_store.create_secret(f"s{i}", f"value-number-{i}") for i in range(3)]
    new_store = make_store(KEY_B, (KEY_A,))
    new_store.rotate_secret(references[0].arn, "value-number-0")

    # When: every row is re-encrypted
    moved = new_store.reencrypt_all()

    # Then: the two remaining rows moved, values and versions unchanged, key A not needed
    assert moved == 2
    b_only = make_store(KEY_B)
    assert [b_only.get_secret_value(r.arn) for r in references] == [
        f"value-number-{i}" for i in range(3)
    ]
    assert [_row(database_url, r.arn).version for r in references] == [2, 1, 1]
    assert new_store.reencrypt_all() == 0


def test_reencrypt_all_does_not_undo_a_rotation_made_meanwhile(
    make_store: MakeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a value under key A, and a rotation by another process that lands while
    # re-encryption has read the row but not yet written it
    reference = make_store(KEY_A).create_secret("api", "value-old")
    new_store, other_process = make_store(KEY_B, (KEY_A,)), make_store(KEY_B, (KEY_A,))
    real_open = LocalSecretStore._open

    def open_then_race(self: LocalSecretStore, row: SecretValue) -> bytes:
        data = real_open(self, row)
        other_process.rotate_secret(reference.arn, "value-new")
        return data

    monkeypatch.setattr(LocalSecretStore, "_open", open_then_race)

    # When: every row is re-encrypted
    moved = new_store.reencrypt_all()

    # Then: the stale re-encryption was skipped; the rotated value stands
    monkeypatch.undo()
    assert moved == 0
    assert make_store(KEY_B).get_secret_value(reference.arn) == "value-new"


def test_keys_must_be_32_bytes(database_url: str) -> None:
    # Given / When / Then: a short current or old key is refused at construction
    def factory() -> AbstractContextManager[Session]:
        return session_scope(database_url)

    with pytest.raises(ValueError, match="32 bytes"):
        LocalSecretStore(key=b"short", session_factory=factory)
    with pytest.raises(ValueError, match="32 bytes"):
        LocalSecretStore(key=KEY_A, old_keys=(b"short",), session_factory=factory)


def test_repr_shows_the_key_id_not_the_key(store: LocalSecretStore) -> None:
    # Given / When / Then: the store's repr holds no key material
    assert store.key_id in repr(store)
    assert KEY_A.hex() not in repr(store)


def test_concurrent_rotations_each_make_a_version(
    store: LocalSecretStore, database_url: str
) -> None:
    # Given: a stored value and two threads that rotate it five times each
    reference = store.create_secret("busy", "value-start")
    errors: list[BaseException] = []

    def rotate(tag: str) -> None:
        try:
            for i in range(5):
                store.rotate_secret(reference.arn, f"value-{tag}-{i}")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    # When: both run at once
    threads = [threading.Thread(target=rotate, args=(tag,)) for tag in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then: no rotation was lost and the value is one of the last ones written
    assert errors == []
    assert _row(database_url, reference.arn).version == 11
    assert store.get_secret_value(reference.arn) in {"value-a-4", "value-b-4"}


def test_random_nonces_come_from_the_os(
    store: LocalSecretStore, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    # Given: os.urandom spied on
    calls: list[int] = []
    real = os.urandom

    def spy(size: int) -> bytes:
        calls.append(size)
        return real(size)

    monkeypatch.setattr("workfuse.secrets.local.os.urandom", spy)

    # When: a value is stored and rotated
    reference = store.create_secret("n", "value-nonce")
    store.rotate_secret(reference.arn, "value-nonce-2")

    # Then: each sealing drew a fresh 96-bit nonce
    assert calls == [NONCE_BYTES, NONCE_BYTES]


# --- the migration ----------------------------------------------------------------------


def test_upgrading_from_0001_keeps_existing_references(empty_database_url: str) -> None:
    # Given: a database at the initial schema with a user and a credential reference
    upgrade_database(empty_database_url, "0001")
    with get_engine(empty_database_url).begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO users (id, email, created_at, updated_at) "
                "VALUES ('u1', 'a@example.com', :now, :now)"
            ),
            {"now": utcnow()},
        )
        connection.execute(
            sa.text(
                "INSERT INTO secret_references (id, name, arn, created_at, user_id) "
                "VALUES ('s1', 'openai', 'local:x', :now, 'u1')"
            ),
            {"now": utcnow()},
        )

    # When: the secret_values migration (and everything after it) is applied
    upgrade_database(empty_database_url)

    # Then: the reference survived, and a second one with its name is refused
    with Session(get_engine(empty_database_url)) as fresh:
        assert [r.name for r in fresh.exec(select(SecretReference)).all()] == ["openai"]
        fresh.add(SecretReference(id="s2", name="openai", arn="local:y", user_id="u1"))
        with pytest.raises(sa.exc.IntegrityError):
            fresh.flush()


#: A fresh process: a store on a new SQLite file, then whether cryptography's compiled
#: module is loaded before and after the first value is sealed and opened.
CIPHER_LOADED_WHEN = """
import sys
from workfuse.db import session_scope, upgrade_database
from workfuse.secrets import LocalSecretStore

url = f"sqlite:///{sys.argv[1]}"
upgrade_database(url)
store = LocalSecretStore(key=bytes(range(32)), session_factory=lambda: session_scope(url))
loaded = lambda: "cryptography.hazmat.bindings._rust" in sys.modules
before = loaded()
reference = store.create_secret("stripe", "value")
print(before, loaded(), store.get_secret_value(reference.arn))
"""


def test_the_cipher_is_loaded_only_when_a_value_is_first_sealed(tmp_path: Path) -> None:
    # When: a process makes a store, then seals and opens a value
    result = subprocess.run(
        [sys.executable, "-c", CIPHER_LOADED_WHEN, str(tmp_path / "workfuse.db")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then: the cipher library (about 7 MB) was loaded for the value, not for the store
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "value"]
