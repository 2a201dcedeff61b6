"""Choosing and configuring the store from settings (WORKFUSE_SECRET_STORE, keys)."""

from __future__ import annotations

import base64

import pytest

from workfuse.secrets import LocalSecretStore, get_secret_store
from workfuse.secrets.local import key_id
from workfuse.settings import Settings, SettingsError, get_settings

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def test_the_embedded_default_is_the_local_store_on_the_configured_database(
    database_url: str,
) -> None:
    # Given: no store setting (the fixture points the settings at a test database)
    # When: the store is built from the process settings
    store = get_secret_store()

    # Then: it is the local store, usable at once with the generated key file
    assert isinstance(store, LocalSecretStore)
    reference = store.create_secret("default", "value-default")
    assert store.get_secret_value(reference.arn) == "value-default"
    assert get_settings().secret_store == "local"


def test_old_keys_from_the_environment_decrypt_after_a_key_change(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given: a value sealed under key A
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_KEY", _b64(KEY_A))
    get_settings.cache_clear()
    reference = get_secret_store().create_secret("api", "value-under-a")

    # When: the key becomes B and A is listed (among others) as an old key
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_KEY", _b64(KEY_B))
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_OLD_KEYS", f"{_b64(bytes(32))}, {_b64(KEY_A)}")
    get_settings.cache_clear()
    store = get_secret_store()

    # Then: the value still decrypts, and the store seals new values under B
    assert isinstance(store, LocalSecretStore)
    assert store.key_id == key_id(KEY_B)
    assert store.get_secret_value(reference.arn) == "value-under-a"


def test_old_keys_are_hidden_from_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: an old key in the environment
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_OLD_KEYS", _b64(KEY_A))

    # When: the settings are read and printed
    settings = Settings()

    # Then: the key is parsed but never shown
    assert settings.encryption_old_keys_bytes() == [KEY_A]
    assert _b64(KEY_A) not in repr(settings)
    assert _b64(KEY_A) not in str(settings.model_dump())


def test_a_malformed_old_key_is_named_by_position_not_quoted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given: a second old key that is not 32 bytes
    bad = _b64(b"short-key-material")
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_OLD_KEYS", f"{_b64(KEY_A)},{bad}")

    # When / Then: decoding names the variable and position, not the key
    with pytest.raises(SettingsError, match=r"WORKFUSE_ENCRYPTION_OLD_KEYS\[1\]") as raised:
        Settings().encryption_old_keys_bytes()
    assert bad not in str(raised.value)


def test_production_refuses_a_malformed_old_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: production settings that are complete except for a broken old key
    monkeypatch.setenv("WORKFUSE_ENV", "production")
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_KEY", _b64(KEY_A))
    monkeypatch.setenv("WORKFUSE_DATABASE_URL", "postgresql://db.example.com/workfuse")
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_OLD_KEYS", "not base64!")

    # When / Then: the start is refused
    with pytest.raises(SettingsError, match="WORKFUSE_ENCRYPTION_OLD_KEYS"):
        get_settings()


def test_an_unknown_store_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given: a store name WorkFuse does not have
    monkeypatch.setenv("WORKFUSE_SECRET_STORE", "vault")

    # When / Then: the settings name the variable
    with pytest.raises(SettingsError, match="WORKFUSE_SECRET_STORE"):
        get_settings()
