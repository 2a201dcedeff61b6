"""What an executor gets and what it may raise: the seed's ExecutionContext and ExecutionError.

Executors are ``async def execute(config, context) -> output``. They know nothing of
the database, HTTP routes or the UI: everything they need is in :class:`NodeContext`
(secret values included, fetched by the engine before the run and never logged).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

TokenSink = Callable[[str], Awaitable[None]]


class ExecutionError(Exception):
    """A node failed. ``retryable`` tells the retry policy whether another try may help.

    ``retry_after`` (seconds) is a server's ``Retry-After``, honoured by the policy.
    The message never contains a secret value.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """The seed's ``ExecutionError`` shape, as stored on the node run."""
        data: dict[str, Any] = {
            "message": self.message,
            "code": self.code,
            "retryable": self.retryable,
        }
        if self.retry_after is not None:
            data["retryAfter"] = self.retry_after
        return data


@dataclass(frozen=True)
class NodeContext:
    """One node's view of its execution.

    ``trigger`` is the seed's ``TriggerPayload`` (``source``, ``data``, ``headers``);
    ``nodes`` holds the outputs of finished nodes by node id; ``env`` only the
    variables the operator allowlisted; ``secrets`` maps credential references
    (ARN or local id) to values.
    """

    execution_id: str
    node_id: str
    trigger: Mapping[str, Any] = field(default_factory=dict)
    nodes: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)
    on_token: TokenSink | None = None

    @property
    def idempotency_key(self) -> str:
        """Stable across retries and redeliveries of this node in this execution."""
        return f"{self.execution_id}:{self.node_id}"

    def template_context(self) -> dict[str, Any]:
        """The seed's ``TemplateContext``: ``nodes``, ``trigger``, ``env``."""
        return {"nodes": dict(self.nodes), "trigger": dict(self.trigger), "env": dict(self.env)}

    def secret(self, reference: str) -> str:
        """The value of a credential, or a non-retryable error naming only the reference."""
        try:
            return self.secrets[reference]
        except KeyError:
            raise ExecutionError(
                f"credential {reference!r} is not available to this run",
                code="CREDENTIAL_MISSING",
            ) from None
