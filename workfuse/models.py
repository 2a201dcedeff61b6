"""Database tables (the seed's Prisma schema) and the schemas that cross the API.

Per entity, following the full-stack-fastapi-template: ``XBase`` (shared fields),
``X(table=True)``, and ``XCreate``/``XUpdate``/``XPublic`` schemas. No column ever
holds a secret value in plain text: credentials are references (ARN or local id), the
local store's ``secret_values`` holds only ciphertext, and passwords and session tokens
are stored as hashes.

Differences from the seed, each for a reason:
- ``Workflow.webhook_token`` is the seed's ``webhookUrl``: the URL is
  ``{base_url}/hooks/{webhook_token}``, so a change of host does not rewrite rows.
- ``LoginSession.token_hash`` is the seed's ``Session.token``: only a hash of the token is kept.
- ``Execution`` pins ``workflow_version`` and may link to the execution it retries.
- ``SecretReference`` belongs to a user; ``workflow_id`` is optional, so one
  credential can serve several of that user's workflows.
- ``NodeRun`` is new: the engine's per-step memo (one row per execution and node).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import ConfigDict
from pydantic.alias_generators import to_camel
from sqlmodel import Field, SQLModel

from workfuse.db_types import JSONType, UTCDateTime, new_id, utcnow

#: Deterministic constraint names, so migrations (and SQLite batch mode) can find them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MAX_NAME_LENGTH = 200  #: characters, workflow and credential names
MAX_DESCRIPTION_LENGTH = 2000  #: characters
MAX_EMAIL_LENGTH = 320  #: characters
MAX_MODEL_LENGTH = 200  #: characters, an AI model's name


class ExecutionStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    RETRYING = "RETRYING"
    CANCELLED = "CANCELLED"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


class NodeRunStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    RETRYING = "RETRYING"


def _enum(enum: type[StrEnum]) -> sa.Enum:
    """A portable enum column: VARCHAR plus a CHECK constraint, same on both databases."""
    return sa.Enum(
        enum, native_enum=False, create_constraint=True, length=16, name=enum.__name__.lower()
    )


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _updated() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


def _owner_fk(table: str, *, nullable: bool = False, index: bool = True) -> Any:
    """A cascading reference to ``table``'s id, indexed unless ``index`` is False: pass
    False when a unique constraint or index of the table starts with this column (it
    serves the same lookups and cascades; another index is one more write per row)."""
    return Field(
        foreign_key=f"{table}.id", ondelete="CASCADE", index=index, nullable=nullable, max_length=32
    )


class ApiSchema(SQLModel):
    """A schema sent over the API: camelCase JSON names, snake_case in Python."""

    model_config = ConfigDict(  # type: ignore[assignment]
        alias_generator=to_camel, populate_by_name=True, from_attributes=True
    )


# --- users and sessions -------------------------------------------------------------


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str = Field(unique=True, max_length=MAX_EMAIL_LENGTH)
    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    password_hash: str | None = Field(default=None, max_length=255)
    default_ai_provider: str | None = Field(
        default=None, max_length=32, description="preselected on new AI nodes"
    )
    default_ai_model: str | None = Field(default=None, max_length=MAX_MODEL_LENGTH)
    created_at: datetime = _created()
    updated_at: datetime = _updated()


class UserPublic(ApiSchema):
    id: str
    email: str
    name: str | None
    created_at: datetime


class LoginSession(SQLModel, table=True):
    """A signed-in browser session: a hash of its cookie token, when it ends, whose it is."""

    __tablename__ = "sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(unique=True, index=True, max_length=128)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_at: datetime = _created()
    user_id: str = _owner_fk("users")


class ApiToken(SQLModel, table=True):
    """A token for scripts (``Authorization: Bearer wf_...``); only its hash is kept."""

    __tablename__ = "api_tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=MAX_NAME_LENGTH)
    token_hash: str = Field(unique=True, index=True, max_length=128)
    prefix: str = Field(max_length=16, description="first characters, to recognise a token")
    created_at: datetime = _created()
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    user_id: str = _owner_fk("users")


class ApiTokenPublic(ApiSchema):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None


# --- workflows ----------------------------------------------------------------------


class Workflow(SQLModel, table=True):
    __tablename__ = "workflows"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=MAX_NAME_LENGTH)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    graph: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
    version: int = Field(default=1, nullable=False)
    webhook_token: str = Field(unique=True, index=True, max_length=64)
    is_active: bool = Field(default=True, nullable=False)
    created_at: datetime = _created()
    updated_at: datetime = _updated()
    user_id: str = _owner_fk("users")


class WorkflowVersion(SQLModel, table=True):
    __tablename__ = "workflow_versions"
    __table_args__ = (sa.UniqueConstraint("workflow_id", "version"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    version: int = Field(nullable=False)
    name: str = Field(max_length=MAX_NAME_LENGTH)
    graph: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
    created_at: datetime = _created()
    workflow_id: str = _owner_fk("workflows", index=False)


# --- executions ---------------------------------------------------------------------


class Execution(SQLModel, table=True):
    __tablename__ = "executions"
    __table_args__ = (
        sa.UniqueConstraint("workflow_id", "idempotency_key"),
        sa.Index("ix_executions_user_started", "user_id", "started_at", "id"),
        #: one workflow's executions newest first (its list, its latest run, retention)
        sa.Index("ix_executions_workflow_started", "workflow_id", "started_at", "id"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    status: ExecutionStatus = Field(sa_type=_enum(ExecutionStatus), index=True, nullable=False)
    trigger_data: dict[str, Any] = Field(sa_type=JSONType, nullable=False)
    node_results: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType, nullable=False)
    error: str | None = Field(default=None, sa_type=sa.Text)
    started_at: datetime = Field(
        default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True
    )
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration: int | None = Field(default=None, description="milliseconds")
    workflow_version: int = Field(nullable=False)
    retry_of_id: str | None = Field(
        default=None, foreign_key="executions.id", ondelete="SET NULL", max_length=32
    )
    idempotency_key: str | None = Field(
        default=None, max_length=200, description="the caller's key; a repeat starts nothing"
    )
    heartbeat_at: datetime | None = Field(
        default=None, sa_type=UTCDateTime, description="last sign of life of its worker"
    )
    lease: str | None = Field(
        default=None, max_length=32, description="token of the runner's claim, new per claim"
    )
    workflow_id: str = _owner_fk("workflows", index=False)
    user_id: str = _owner_fk("users", index=False)


class ExecutionLog(SQLModel, table=True):
    __tablename__ = "execution_logs"
    #: an execution's lines in order (the only way they are read)
    __table_args__ = (
        sa.Index("ix_execution_logs_execution_timestamp", "execution_id", "timestamp"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    node_id: str = Field(max_length=128)
    level: LogLevel = Field(sa_type=_enum(LogLevel), nullable=False)
    message: str = Field(sa_type=sa.Text, nullable=False)
    data: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    timestamp: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    execution_id: str = _owner_fk("executions", index=False)


class NodeRun(SQLModel, table=True):
    """The engine's memo of one node in one execution (at most one row per pair)."""

    __tablename__ = "node_runs"
    __table_args__ = (sa.UniqueConstraint("execution_id", "node_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    node_id: str = Field(max_length=128)
    status: NodeRunStatus = Field(sa_type=_enum(NodeRunStatus), nullable=False)
    attempt: int = Field(default=0, nullable=False)
    input: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    output: Any | None = Field(default=None, sa_type=JSONType)
    error: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    duration: int | None = Field(default=None, description="milliseconds")
    execution_id: str = _owner_fk("executions", index=False)


class WebhookSignature(SQLModel, table=True):
    """A signature a webhook call of the workflow was accepted with: a call that repeats
    it is refused (a replay) until ``expires_at``, then its row is pruned. Written in
    the transaction that stores the call's execution, so every app process agrees and
    a call that stored nothing used up nothing. ``digest`` is the SHA-256 of the
    algorithm and the HMAC (never the HMAC itself); ``expires_at`` is None for a
    signature that never expires (see :mod:`workfuse.services.webhooks`)."""

    __tablename__ = "webhook_signatures"

    workflow_id: str = Field(
        foreign_key="workflows.id", ondelete="CASCADE", primary_key=True, max_length=32
    )
    digest: str = Field(primary_key=True, max_length=64)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


# --- credentials --------------------------------------------------------------------


class SecretReference(SQLModel, table=True):
    """Where a credential lives (an ARN or a local store id); never its value.

    Names are unique per user, so a workflow can name the credential it uses.
    """

    __tablename__ = "secret_references"
    __table_args__ = (sa.UniqueConstraint("user_id", "name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=MAX_NAME_LENGTH)
    arn: str = Field(unique=True, max_length=2048)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION_LENGTH)
    created_at: datetime = _created()
    user_id: str = _owner_fk("users", index=False)
    workflow_id: str | None = _owner_fk("workflows", nullable=True)


class SecretReferencePublic(ApiSchema):
    """A credential as the API shows it, never its value. ``arn`` (where the value lives:
    an AWS ARN or ``local:<id>``) is what node configs put in ``secretArn``."""

    id: str
    name: str
    arn: str
    description: str | None
    created_at: datetime
    workflow_id: str | None


class SecretValue(SQLModel, table=True):
    """The local secret store's rows (``workfuse.secrets.local``): AES-256-GCM ciphertext.

    Written and read only by the local store; ``key_id`` names the key that sealed
    ``ciphertext``, so the encryption key can be rotated.
    """

    __tablename__ = "secret_values"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(unique=True, max_length=512)
    key_id: str = Field(max_length=16)
    nonce: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    ciphertext: bytes = Field(sa_type=sa.LargeBinary, nullable=False)
    version: int = Field(default=1, nullable=False)
    created_at: datetime = _created()
    updated_at: datetime = _updated()
