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

from workfuse.nodes.base import (
    CredentialUse,
    NodeConfigModel,
    NodeExample,
    NodeOutputModel,
    NodeSpec,
)
from workfuse.nodes.execution import NodeContext
from workfuse.nodes.hints import ui

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

    header: str = Field(
        default="X-Signature-256",
        min_length=1,
        max_length=MAX_HEADER_NAME,
        json_schema_extra=ui(label="Signature header"),
    )
    algorithm: Literal["sha256", "sha1", "sha512"] = "sha256"
    secret_arn: str = Field(
        min_length=1,
        max_length=2048,
        description="The credential holding the signing key.",
        json_schema_extra=ui(widget="credential", label="Signing secret"),
    )
    timestamp_header: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_HEADER_NAME,
        json_schema_extra=ui(placeholder="optional"),
    )
    tolerance_seconds: int = Field(
        default=DEFAULT_TOLERANCE_S,
        ge=1,
        le=86_400,
        json_schema_extra=ui(label="Tolerance", unit="seconds"),
    )


class TriggerNodeConfig(NodeConfigModel):
    source: Literal["webhook", "manual"] = "webhook"
    methods: list[HttpMethod] = Field(
        default_factory=_default_methods,
        min_length=1,
        description="HTTP methods the webhook accepts; others get 405.",
        json_schema_extra=ui(widget="checkboxes", label="Accepted methods"),
    )
    sample_payload: dict[str, Any] = Field(
        default_factory=dict,
        description="Used by Run now and by Magic input as an example of what arrives.",
        json_schema_extra=ui(widget="json", label="Sample payload (JSON)", rows=6),
    )
    idempotency_header: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_HEADER_NAME,
        description="A repeated value of this header returns the first execution's id.",
        json_schema_extra=ui(placeholder="Idempotency-Key", advanced=True),
    )
    sync_timeout_seconds: int | None = Field(
        default=None,
        ge=1,
        le=MAX_SYNC_TIMEOUT_S,
        description="Wait up to this long and answer with the last node's output.",
        json_schema_extra=ui(
            label="Wait for the result",
            unit="seconds",
            placeholder="empty: answer 202 at once",
            advanced=True,
        ),
    )
    hmac: WebhookHmac | None = Field(
        default=None,
        description="Refuse webhook calls without a valid signature.",
        json_schema_extra=ui(widget="group", label="Verify an HMAC signature", advanced=True),
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


DOCS = """\
Every workflow has exactly one trigger. With `source: webhook` the workflow gets a URL
(`POST /hooks/<token>`, shown in the editor's toolbar) that starts a run when the
workflow is active; `manual` workflows start from the editor's **Run** button, the API
(`POST /api/workflows/<id>/run`) or `workfuse run`.

The output is the trigger payload: `source`, `data` (the JSON body, or the text of a
non-JSON one), `headers`, and for a webhook call `method` and `query`. Later nodes read
it as `{{ trigger.data.<field> }}`.

Webhook options: `methods` (others get 405), `hmac` (a signature over the raw body,
optionally with a signed timestamp: calls without a valid one get 401, a repeated
signature 409), `idempotencyHeader` (a repeated value returns the first execution
instead of starting another) and `syncTimeoutSeconds` (wait for the run and answer with
the last node's output).
"""

SPEC = NodeSpec(
    type="trigger",
    label="Trigger",
    icon="zap",
    colour="#d97706",
    category="trigger",
    description="Starts the workflow from a webhook call or by hand.",
    docs=DOCS,
    config_model=TriggerNodeConfig,
    output_model=TriggerNodeOutput,
    execute=execute,
    trigger=True,
    credentials=(CredentialUse("hmac.secretArn", at_run=False),),
    default_config={"source": "webhook"},
    examples=(
        NodeExample(
            request="Start when our shop posts an order to a webhook; only POST.",
            label="Order received",
            config={
                "source": "webhook",
                "methods": ["POST"],
                "samplePayload": {"orderId": "A-1001", "total": 42.5},
            },
        ),
        NodeExample(
            request="Webhook from GitHub, verify the X-Hub-Signature-256 sha256 signature "
            "with the GitHub secret, and ignore repeats by the X-GitHub-Delivery header.",
            label="GitHub event",
            config={
                "source": "webhook",
                "methods": ["POST"],
                "hmac": {
                    "header": "X-Hub-Signature-256",
                    "algorithm": "sha256",
                    "secretArn": "credential:GitHub webhook secret",
                },
                "idempotencyHeader": "X-GitHub-Delivery",
            },
        ),
    ),
)
