"""The one settings object. Nothing else in WorkFuse reads the process environment.

Every setting comes from an environment variable with the ``WORKFUSE_`` prefix (or a
``.env`` file in the working directory). The embedded default needs no services: a
SQLite file and an encryption key file in ``data_dir``, the in-process broker and the
local secret store. ``WORKFUSE_ENV=production`` refuses to start unless the
encryption key and a non-SQLite database are configured explicitly.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from workfuse.api.origins import parse_origin

ENCRYPTION_KEY_FILE = "encryption.key"
ENCRYPTION_KEY_BYTES = 32  #: bytes (AES-256)


#: A list setting written as ``a,b,c`` in the environment.
CommaList = Annotated[list[str], NoDecode]
#: The same for secrets: each item is a ``SecretStr``, so no repr or log shows it.
SecretCommaList = Annotated[list[SecretStr], NoDecode]


class Environment(StrEnum):
    EMBEDDED = "embedded"
    PRODUCTION = "production"


class SettingsError(RuntimeError):
    """A setting is missing or wrong; the message names the variable to set."""


def normalise_database_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """WorkFuse configuration (env ``WORKFUSE_<NAME>``)."""

    model_config = SettingsConfigDict(
        env_prefix="WORKFUSE_",
        env_file=".env",
        extra="ignore",
        validate_default=True,
        env_ignore_empty=True,  # `WORKFUSE_ENCRYPTION_KEY=` means unset, not an empty key
    )

    env: Environment = Environment.EMBEDDED
    data_dir: Path = Field(default=Path("data"), description="Embedded SQLite file and key file.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite:///<data_dir>/workfuse.db."
    )
    db_pool_size: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="Database connections one process keeps open (per engine); see "
        "README's Settings for how to size the pool.",
    )
    db_max_overflow: int = Field(
        default=20,
        ge=0,
        le=1000,
        description="Connections one process may open beyond db_pool_size under load "
        "(closed again when returned).",
    )
    db_pool_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a caller waits for a free connection when the pool is used up; "
        "then the API answers 503 with Retry-After (nothing stored).",
    )
    redis_url: str | None = Field(
        default=None, description="Redis broker and event bus; unset = in-process broker."
    )
    broker_namespace: str = Field(
        default="workfuse",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Prefix of the broker's Redis keys: installs sharing a Redis differ here.",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Base64 32-byte key for the local secret store; embedded default: "
        "generated on first run into <data_dir>/encryption.key.",
    )
    encryption_old_keys: SecretCommaList = Field(
        default_factory=list,
        description="Comma-separated base64 keys the local secret store used before; only "
        "for decrypting, so WORKFUSE_ENCRYPTION_KEY can be rotated.",
    )
    secret_store: Literal["local", "aws"] = Field(
        default="local",
        description="Where credential values live: the local encrypted store (in the "
        "database) or AWS Secrets Manager.",
    )
    aws_region: str | None = Field(default=None, description="AWS region for Secrets Manager.")
    aws_endpoint_url: str | None = Field(
        default=None, description="Secrets Manager endpoint override (a VPC endpoint, tests)."
    )
    aws_access_key_id: SecretStr | None = Field(
        default=None, description="Unset = boto3's default credential chain (IAM role)."
    )
    aws_secret_access_key: SecretStr | None = None
    base_url: str = Field(
        default="http://127.0.0.1:3000",
        description="Public URL, used to build webhook URLs; when set, its origin is the "
        "one browsers may use the app from (see workfuse.api.origins).",
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Comma-separated origins (scheme://host[:port]) besides "
        "WORKFUSE_BASE_URL's whose pages may call the API with the user's cookie and "
        "open the UI's socket.",
    )
    webhook_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        le=10 * 1024 * 1024,
        description="Largest webhook request body (bytes); larger calls get 413.",
    )
    retention_days: int = Field(
        default=30,
        ge=0,
        le=36_500,
        description="Delete finished executions (with their node runs and logs) started "
        "more than this many days ago; 0 keeps them forever.",
    )
    retention_keep_per_workflow: int = Field(
        default=0,
        ge=0,
        le=10_000_000,
        description="Keep at most this many executions per workflow (the newest); "
        "0 means no limit.",
    )
    shutdown_grace_seconds: int = Field(
        default=30,
        ge=0,
        le=86_400,
        description="Seconds a stopping app (embedded workers) or worker process waits for "
        "the executions it is running; what is left resumes later, elsewhere or after a "
        "restart (a node interrupted then runs again).",
    )
    sandbox_processes: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Sandbox processes (JavaScript, JSONata, regular expressions) one app "
        "or worker process runs at once, one call each; more calls wait for a free one.",
    )
    auto_migrate: bool = Field(
        default=True, description="Apply database migrations when the app starts."
    )
    load_demo: bool = Field(
        default=True, description="Create the demo user and workflow on an empty database."
    )
    demo_email: str = "demo@workfuse.local"
    template_env_allowlist: CommaList = Field(
        default_factory=list,
        description="Comma-separated environment variables that templates may read as env.NAME.",
    )
    egress_allow: CommaList = Field(
        default_factory=list,
        description="Comma-separated CIDRs or host names that outbound HTTP may reach even "
        "though they are private, loopback or link-local (the egress guard refuses them).",
    )
    node_modules: CommaList = Field(
        default_factory=list,
        description="Comma-separated Python modules to import at start-up; each registers "
        "its own node types (workfuse.nodes.registry.REGISTRY.register(SPEC)). The app and "
        "every worker process must be able to import them.",
    )
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Level of WorkFuse's own log lines."
    )

    @field_validator(
        "template_env_allowlist",
        "egress_allow",
        "encryption_old_keys",
        "cors_origins",
        "node_modules",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if parse_origin(value, allow_path=True) is None:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for item in value:
            if parse_origin(item.removesuffix("/")) is None:
                raise ValueError(f"{item!r} is not an origin: http(s)://host[:port]")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return normalise_database_url(value) if value else value

    @cached_property
    def resolved_database_url(self) -> str:
        """The database URL in use (the embedded SQLite file when none is set); worked
        out once (resolving the data directory's path costs file-system calls, and
        every database session asks)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'workfuse.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    def check_production(self) -> None:
        """Refuse a production start with embedded defaults; name the missing setting."""
        if self.env is not Environment.PRODUCTION:
            return
        missing = []
        if self.encryption_key is None:
            missing.append("WORKFUSE_ENCRYPTION_KEY (base64 of 32 random bytes)")
        if not self.database_url or self.is_sqlite:
            missing.append("WORKFUSE_DATABASE_URL (a PostgreSQL URL, not SQLite)")
        if missing:
            raise SettingsError(
                "production mode (WORKFUSE_ENV=production) needs: " + "; ".join(missing)
            )
        # A malformed key stops the start, not the first use of a credential.
        if self.encryption_key is not None:
            _decode_key(self.encryption_key.get_secret_value(), "WORKFUSE_ENCRYPTION_KEY")
        self.encryption_old_keys_bytes()

    def encryption_key_bytes(self) -> bytes:
        """The local secret store's key: the setting, or the key file (created once)."""
        if self.encryption_key is not None:
            return _decode_key(self.encryption_key.get_secret_value(), "WORKFUSE_ENCRYPTION_KEY")
        self.check_production()
        path = self.data_dir / ENCRYPTION_KEY_FILE
        if not path.exists():
            _create_key_file(path)
        return _decode_key(path.read_text().strip(), str(path))

    def encryption_old_keys_bytes(self) -> list[bytes]:
        """The earlier local-store keys (decrypt only), each checked like the current one."""
        return [
            _decode_key(key.get_secret_value(), f"WORKFUSE_ENCRYPTION_OLD_KEYS[{index}]")
            for index, key in enumerate(self.encryption_old_keys)
        ]

    def template_env(self) -> dict[str, str]:
        """The allowlisted environment variables that templates see as ``env``."""
        return {
            name: os.environ[name] for name in self.template_env_allowlist if name in os.environ
        }


def _create_key_file(path: Path) -> None:
    """Write a new random key to ``path`` unless a key is there: the key is written to a
    file of its own, then hard-linked into place, so no reader ever sees a half-written
    key, and of several threads or processes creating it at once exactly one wins
    (the others keep the winner's key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(ENCRYPTION_KEY_BYTES))
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encoded)
        with contextlib.suppress(FileExistsError):  # another one won: keep its key
            os.link(draft, path)
    finally:
        draft.unlink()


def _decode_key(encoded: str, where: str) -> bytes:
    # Strict: either alphabet (standard or URL-safe), padding optional, and any other
    # character is an error (the lenient decoder would silently drop it).
    text = encoded.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except ValueError as error:
        raise SettingsError(f"{where}: not valid base64") from error
    if len(key) != ENCRYPTION_KEY_BYTES:
        raise SettingsError(f"{where}: must decode to {ENCRYPTION_KEY_BYTES} bytes, not {len(key)}")
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once and checked for production."""
    try:
        settings = Settings()
    except ValidationError as error:
        problems = [
            f"WORKFUSE_{'_'.join(str(part) for part in detail['loc']).upper()}: {detail['msg']}"
            for detail in error.errors(include_url=False)
        ]
        raise SettingsError("; ".join(problems)) from None
    settings.check_production()
    return settings
