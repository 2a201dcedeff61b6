"""Trigger: where a run starts (a webhook call or "Run now"); exactly one per workflow.

It passes the seed's ``TriggerPayload`` through: ``source``, ``data``, ``headers``, and
for a webhook call also ``method`` and ``query``.

The webhook options (``methods``, ``hmac``, ``idempotencyHeader``,
``syncTimeoutSeconds``) are read by ``POST /hooks/{token}``
(:mod:`workfuse.services.webhooks`), not by the executor.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workfuse.nodes.base import NodeConfigModel, NodeOutputModel, NodeSpec
from workfuse.nodes.execution import NodeContext

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
MAX_SYNC_TIMEOUT_S = 30  #: seconds a synchronous webhook call may wait
DEFAULT_TOLERANCE_S = 300  #: seconds a signed timestamp may be off
MAX_HEADER_NAME = 200  #: characters of a configured header name


def _default_methods() -> list[HttpMethod]:
    return ["POST"]


class WebhookHmac(NodeConfigModel):
    """Signature check of a webhook call; refused calls start nothing (401).

    The caller sends the lowercase hex HMAC (``algorithm``, keyed with the value of the
    credential ``secretArn``) of the raw request body in ``header``, optionally
    prefixed with the algorithm name (``sha256=<hex>``, GitHub's style). With
    ``timestampHeader``, that header carries the Unix time in whole seconds, the signed
    message is ``<timestamp>.<raw body>`` (the header's exact text, a dot, the
    bytes), and a timestamp more than ``toleranceSeconds`` away from the server's clock
    is refused, so a captured call cannot be replayed later. A signature is accepted
    once: a repeat is a replay (409), see :mod:`workfuse.services.webhooks`.
    """

    header: str = Field(default="X-Signature-256", min_length=1, max_length=MAX_HEADER_NAME)
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    secret_arn: str = Field(
        min_length=1, max_length=2048, description="The credential holding the signing key."
    )
    timestamp_header: str | None = Field(default=None, min_length=1, max_length=MAX_HEADER_NAME)
    tolerance_seconds: int = Field(default=DEFAULT_TOLERANCE_S, ge=1, le=86_400)


class TriggerNodeConfig(NodeConfigModel):
    source: Literal["webhook", "manual"] = "webhook"
    sample_payload: dict[str, Any] = Field(
        default_factory=dict, description="Test payload for 'Run now' in the editor."
    )
    methods: list[HttpMethod] = Field(
        default_factory=_default_methods,
        min_length=1,
        description="HTTP methods the webhook accepts; others get 405.",
    )
    hmac: WebhookHmac | None = Field(
        default=None, description="Refuse webhook calls without a valid signature."
    )
    idempotency_header: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_HEADER_NAME,
        description="A repeated value of this header returns the first execution's id.",
    )
    sync_timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SYNC_TIMEOUT_S,
        description="Wait up to this long and answer with the last node's output.",
    )


class TriggerNodeOutput(NodeOutputModel):
    source: str
    data: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    # Only webhook calls have these; left out otherwise.
    method: str | None = Field(default=None, exclude_if=lambda value: value is None)
    query: dict[str, Any] | None = Field(default=None, exclude_if=lambda value: value is None)


async def execute(config: TriggerNodeConfig, context: NodeContext) -> TriggerNodeOutput:
    trigger = context.trigger
    method = trigger.get("method")
    query = trigger.get("query")
    return TriggerNodeOutput(
        source=str(trigger.get("source") or config.source),
        data=trigger.get("data"),
        headers=dict(trigger.get("headers") or {}),
        method=str(method) if method else None,
        query=dict(query) if isinstance(query, dict) else None,
    )


SPEC = NodeSpec(
    type="trigger",
    label="Trigger",
    icon="zap",
    description="Starts the workflow from a webhook call or by hand.",
    config_model=TriggerNodeConfig,
    output_model=TriggerNodeOutput,
    execute=execute,
    inputs=0,
    credential_fields=("hmac.secretArn",),
    default_config={"source": "webhook"},
)
