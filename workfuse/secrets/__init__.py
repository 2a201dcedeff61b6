"""Credential values: the ``SecretStore`` protocol, its two stores and log redaction.

The database keeps only references (an AWS ARN or ``local:<id>``). Settings choose the
store: ``WORKFUSE_SECRET_STORE=local`` (default, AES-GCM in the database) or ``aws``.
The AWS store (and botocore, about 20 MB) is imported only when it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workfuse.secrets.base import (
    MAX_SECRET_VALUE_BYTES,
    SecretDecryptionError,
    SecretNotFound,
    SecretReference,
    SecretStore,
    SecretStoreError,
)
from workfuse.secrets.local import LocalSecretStore, SessionFactory
from workfuse.secrets.redaction import (
    REDACTED,
    RedactingFilter,
    Redactor,
    install_log_redaction,
)
from workfuse.settings import Settings, get_settings

if TYPE_CHECKING:
    from workfuse.secrets.aws import AwsSecretStore

__all__ = [
    "MAX_SECRET_VALUE_BYTES",
    "REDACTED",
    "AwsSecretStore",
    "LocalSecretStore",
    "RedactingFilter",
    "Redactor",
    "SecretDecryptionError",
    "SecretNotFound",
    "SecretReference",
    "SecretStore",
    "SecretStoreError",
    "SessionFactory",
    "get_secret_store",
    "install_log_redaction",
    "process_secret_store",
]


def get_secret_store(
    settings: Settings | None = None, *, session_factory: SessionFactory | None = None
) -> SecretStore:
    """The store the settings choose (a new one per call: keep it for the process).

    ``session_factory`` applies to the local store only (default: the settings'
    database, one committing session per operation).
    """
    settings = settings or get_settings()
    if settings.secret_store == "aws":
        from workfuse.secrets.aws import AwsSecretStore

        return AwsSecretStore.from_settings(settings)
    return LocalSecretStore.from_settings(settings, session_factory=session_factory)


_process_store: tuple[Settings, SecretStore] | None = None


def process_secret_store() -> SecretStore:
    """The configured store, built once per process (again only if the settings are
    reloaded): an AWS client costs tens of milliseconds to build."""
    global _process_store
    settings = get_settings()
    current = _process_store
    if current is None or current[0] is not settings:
        current = _process_store = (settings, get_secret_store(settings))
    return current[1]


def __getattr__(name: str) -> Any:
    if name == "AwsSecretStore":
        from workfuse.secrets.aws import AwsSecretStore

        return AwsSecretStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
