"""HTTP request: calls an API; the seed's ``HTTPNodeConfig``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workfuse.nodes.base import NodeConfigModel, NodeSpec

MAX_TIMEOUT_MS = 300_000  #: ms, the longest a single request may take
DEFAULT_TIMEOUT_MS = 30_000  #: ms


class HTTPAuth(NodeConfigModel):
    """A credential reference; the secret value itself is never part of a config."""

    type: Literal["bearer", "basic", "apiKey"]
    secret_arn: str = Field(min_length=1, max_length=2048)
    header_name: str = Field(
        default="X-API-Key", max_length=200, description="Header for apiKey auth."
    )


class HTTPNodeConfig(NodeConfigModel):
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH"] = "GET"
    url: str = Field(min_length=1, max_length=8192)
    headers: dict[str, str] | None = None
    body: Any = None
    auth: HTTPAuth | None = None
    timeout: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_MS, description="milliseconds")


SPEC = NodeSpec(
    type="http",
    label="HTTP Request",
    icon="globe",
    description="Call any HTTP API and use its response.",
    config_model=HTTPNodeConfig,
    template_fields=("url", "headers", "body"),
    credential_fields=("auth.secretArn",),
    side_effects=True,
    default_config={"method": "GET", "url": "https://example.com"},
)
