"""HTTP request: calls an API; the seed's ``HTTPNodeConfig`` and ``HTTPNodeOutput``.

Every request goes through :mod:`workfuse.net` (egress guard, response size limit)
and carries ``Idempotency-Key: <execution_id>:<node_id>``. Redirects are followed; one
to another origin (scheme, host or port) carries no credential: not the ``auth``
header (whatever ``headerName`` says), nor any header named like one. Credentials come from the
run's secrets by reference; their values are masked in every error message.

Failures: timeouts, connection errors, 5xx, 408 and 429 are retryable (``Retry-After``
is passed on to the retry policy); other 4xx, refused egress and oversize responses
are not.
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator

from workfuse import net
from workfuse.nodes.base import (
    CredentialUse,
    NodeConfigModel,
    NodeExample,
    NodeOutputModel,
    NodeSpec,
)
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.hints import ui

MAX_TIMEOUT_MS = 300_000  #: ms, the longest a single request may take
DEFAULT_TIMEOUT_MS = 30_000  #: ms
MAX_RESPONSE_BYTES = net.DEFAULT_MAX_RESPONSE_BYTES  #: bytes of response body kept
ERROR_EXCERPT_CHARS = 300  #: characters of a failed response's body quoted in the error
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MASK = "***"


#: An HTTP header name (RFC 9110 token).
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class HTTPAuth(NodeConfigModel):
    """A credential reference; the secret value itself is never part of a config.

    ``basic`` expects the credential's value as ``user:password``.
    """

    type: Literal["bearer", "basic", "apiKey"] = Field(json_schema_extra=ui(label="Kind"))
    secret_arn: str = Field(
        min_length=1, max_length=2048, json_schema_extra=ui(widget="credential", label="Credential")
    )
    header_name: str = Field(
        default="X-API-Key",
        max_length=200,
        description="Header for apiKey auth.",
        json_schema_extra=ui(show_if={"type": ["apiKey"]}),
    )


class HTTPNodeConfig(NodeConfigModel):
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH"] = "GET"
    url: str = Field(
        min_length=1,
        max_length=8192,
        json_schema_extra=ui(
            label="URL", template=True, placeholder="https://api.example.com/items"
        ),
    )
    headers: dict[str, str] | None = Field(
        default=None, json_schema_extra=ui(widget="keyvalue", template=True, item_label="Header")
    )
    body: Any = Field(
        default=None,
        description="JSON, or text sent as is; not sent with GET.",
        json_schema_extra=ui(widget="loose", label="Body (JSON or text)", template=True, rows=5),
    )
    auth: HTTPAuth | None = Field(
        default=None, json_schema_extra=ui(widget="group", label="Authentication")
    )
    timeout: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TIMEOUT_MS,
        json_schema_extra=ui(unit="ms", placeholder=str(DEFAULT_TIMEOUT_MS), advanced=True),
    )

    @field_validator("headers")
    @classmethod
    def _header_names_are_tokens(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        """Header names are HTTP tokens: an empty or spaced name is refused on save."""
        for name in value or {}:
            if not HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
        return value

    @field_validator("headers", mode="before")
    @classmethod
    def _header_values_as_text(cls, value: Any) -> Any:
        """A templated header may render to a number or boolean: send it as text."""
        if isinstance(value, dict):
            return {
                key: item if isinstance(item, str) else json.dumps(item)
                for key, item in value.items()
            }
        return value


class HTTPNodeOutput(NodeOutputModel):
    status: int
    headers: dict[str, str]
    body: Any
    duration: int = Field(description="milliseconds")


def _auth_headers(auth: HTTPAuth | None, context: NodeContext) -> tuple[dict[str, str], list[str]]:
    """Headers for the credential, and the secret strings to mask in errors."""
    if auth is None:
        return {}, []
    secret = context.secret(auth.secret_arn)
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {secret}"}, [secret]
    if auth.type == "basic":
        token = base64.b64encode(secret.encode()).decode()
        return {"Authorization": f"Basic {token}"}, [secret, token]
    return {auth.header_name: secret}, [secret]


def _mask(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), if present and sane."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _decode_body(response: httpx.Response, content: bytes) -> Any:
    """JSON when the response says so (or looks like it), else text; bytes as base64."""
    content_type = response.headers.get("content-type", "").lower()
    text: str | None
    try:
        text = content.decode(response.encoding or "utf-8")
    except (UnicodeDecodeError, LookupError):
        text = None
    if text is not None and ("json" in content_type or text[:1] in ("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            pass
    if text is not None:
        return text
    return {"base64": base64.b64encode(content).decode()}


def _request_kwargs(config: HTTPNodeConfig) -> dict[str, Any]:
    if config.body is None or config.method == "GET":
        return {}
    if isinstance(config.body, str | bytes):
        return {"content": config.body}
    return {"json": config.body}


async def execute(config: HTTPNodeConfig, context: NodeContext) -> HTTPNodeOutput:
    auth_headers, secrets = _auth_headers(config.auth, context)
    headers = {**(config.headers or {}), **auth_headers, "Idempotency-Key": context.idempotency_key}
    timeout = (config.timeout or DEFAULT_TIMEOUT_MS) / 1000
    target = _mask(f"{config.method} {config.url}", secrets)
    started = time.perf_counter()
    try:
        client = net.shared_async_client()
        request = client.build_request(
            config.method,
            config.url,
            headers=headers,
            timeout=timeout,
            # Never sent on to another origin by a redirect, whatever the header's name.
            extensions={net.SECRET_HEADERS: tuple(auth_headers)},
            **_request_kwargs(config),
        )
        response = await client.send(request, stream=True, follow_redirects=True)
        try:
            content = await net.read_limited(response, MAX_RESPONSE_BYTES)
        finally:
            await response.aclose()
    except net.InvalidURL as error:  # a kind of EgressDenied: before it
        raise ExecutionError(
            f"{target}: {_mask(str(error), secrets)}", code="HTTP_INVALID_URL"
        ) from None
    except net.EgressDenied as error:
        raise ExecutionError(
            f"{target}: {_mask(str(error), secrets)}", code="HTTP_EGRESS_DENIED"
        ) from None
    except net.ResponseTooLarge:
        raise ExecutionError(
            f"{target}: the response is larger than {MAX_RESPONSE_BYTES} bytes",
            code="HTTP_RESPONSE_TOO_LARGE",
        ) from None
    except httpx.TimeoutException:
        raise ExecutionError(
            f"{target}: no answer within {timeout:g} s", code="HTTP_TIMEOUT", retryable=True
        ) from None
    except httpx.InvalidURL as error:
        raise ExecutionError(
            f"{target}: invalid URL: {_mask(str(error), secrets)}", code="HTTP_INVALID_URL"
        ) from None
    except UnicodeEncodeError as error:  # the URL is checked above: a header or the body
        raise ExecutionError(
            f"{target}: a header or the body holds text that cannot be sent ({error.encoding} "
            f"cannot encode the character at position {error.start}; header values are ASCII)",
            code="HTTP_INVALID_REQUEST",
        ) from None
    except httpx.TooManyRedirects:
        raise ExecutionError(
            f"{target}: too many redirects", code="HTTP_TOO_MANY_REDIRECTS"
        ) from None
    except httpx.TransportError as error:
        reason = _mask(str(error) or type(error).__name__, secrets)
        raise ExecutionError(
            f"{target}: {reason}", code="HTTP_CONNECTION", retryable=True
        ) from None
    duration = round((time.perf_counter() - started) * 1000)
    body = _decode_body(response, content)
    if not response.is_success:
        excerpt = _mask(content[: ERROR_EXCERPT_CHARS * 4].decode("utf-8", "replace"), secrets)
        raise ExecutionError(
            f"{target} answered {response.status_code}: {excerpt[:ERROR_EXCERPT_CHARS]}",
            code=f"HTTP_{response.status_code}",
            retryable=response.status_code in RETRYABLE_STATUSES,
            retry_after=_retry_after(response),
        )
    return HTTPNodeOutput(
        status=response.status_code,
        headers=dict(response.headers.items()),
        body=body,
        duration=duration,
    )


DOCS = """\
Sends one request and passes on the response: `status`, `headers`, `body` (parsed JSON
when the response is JSON, else text; binary as `{"base64": ...}`) and `duration` (ms).
`url`, `headers` and `body` may hold templates; a body that is an object or list is sent
as JSON, a string as is.

`auth` names a credential (never the secret itself): `bearer` sends
`Authorization: Bearer <value>`, `basic` expects `user:password`, `apiKey` sends the
value in `headerName`. Every request carries `Idempotency-Key: <execution id>:<node id>`,
the same on every retry. Redirects are followed; a redirect to another origin carries
no credential.

Outbound requests go through the egress guard: private, loopback and link-local
addresses are refused unless the operator allows them (`WORKFUSE_EGRESS_ALLOW`).
Timeouts, connection errors, 408, 429 and 5xx are retryable (`Retry-After` is
honoured by the retry policy); other 4xx are not. At most 10 MB of response body is kept.
"""

SPEC = NodeSpec(
    type="http",
    label="HTTP Request",
    icon="globe",
    colour="#2563eb",
    category="action",
    description="Call any HTTP API and use its response.",
    docs=DOCS,
    config_model=HTTPNodeConfig,
    output_model=HTTPNodeOutput,
    execute=execute,
    template_fields=("url", "headers", "body"),
    credentials=(CredentialUse("auth.secretArn"),),
    side_effects=True,
    default_config={"method": "GET", "url": "https://example.com"},
    examples=(
        NodeExample(
            request="Get the customer from https://api.example.com/customers/<customer id "
            "from the trigger> with our API token.",
            label="Fetch customer",
            config={
                "method": "GET",
                "url": "https://api.example.com/customers/{{ trigger.data.customerId }}",
                "auth": {"type": "bearer", "secretArn": "credential:Example API token"},
            },
        ),
        NodeExample(
            request="Post the summary from the summarise node to the Slack webhook as text.",
            label="Post to Slack",
            config={
                "method": "POST",
                "url": "https://hooks.slack.com/services/T000/B000/XXXX",
                "headers": {"Content-Type": "application/json"},
                "body": {"text": "{{ nodes.summarise.response }}"},
                "timeout": 10000,
            },
        ),
    ),
)
