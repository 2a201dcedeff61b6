"""Webhooks: ``/hooks/{token}`` starts a run of the workflow whose webhook URL it is.

Not under ``/api`` and not signed in: the unguessable token is the credential (plus
the trigger's HMAC signature, when it asks for one). The route only reads the
request; :mod:`workfuse.services.webhooks` decides.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from workfuse.api.errors import ErrorBody, error_response
from workfuse.db import session_scope
from workfuse.models import ApiSchema, ExecutionStatus
from workfuse.services import webhooks as service
from workfuse.services.errors import MethodNotAllowed, PayloadTooLarge
from workfuse.settings import get_settings

router = APIRouter(tags=["webhooks"])

METHODS = ["POST", "GET", "PUT", "PATCH", "DELETE"]

DESCRIPTION = """\
Start a run of the workflow whose webhook URL this is (the token is its secret; no
sign-in). The trigger node decides which methods are accepted (default `POST`),
whether an HMAC signature is required, which header carries an idempotency key and
whether the call waits for the result (`syncTimeoutSeconds`).

The request becomes the trigger payload `{source: "webhook", method, data, headers,
query}`: a JSON body parsed, a form body as an object, `text/*` as a string, anything
else as `{contentType, base64}`; headers without credentials.

Answers `202 {executionId}` once the execution is stored (even if the queue is down:
it runs later). In synchronous mode, `200 {executionId, status, output}` when the run
ends in time (`output`: the last node that succeeded), else `202`. Refusals store
nothing: `404` unknown token or inactive workflow, `405` method not accepted, `401`
signature missing, wrong or stale, `409` a signature already used (a replay), `400` a
body that is not valid JSON, `413` a body over `WORKFUSE_WEBHOOK_MAX_BYTES`, `503` with
`Retry-After` overload or the database down (send the call again)."""


class WebhookAccepted(ApiSchema):
    execution_id: str


class WebhookFinished(ApiSchema):
    execution_id: str
    status: ExecutionStatus
    output: Any = None


async def receive_webhook(token: str, request: Request) -> JSONResponse:
    limit = get_settings().webhook_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(limit))
    body = await request.body()  # a body without Content-Length is capped by the middleware
    if len(body) > limit:
        raise PayloadTooLarge(_too_large(limit))
    try:
        result = await run_in_threadpool(
            _accept,
            token=token,
            method=request.method,
            headers=request.headers.items(),
            query=request.query_params.multi_items(),
            body=body,
            content_type=request.headers.get("content-type"),
        )
    except MethodNotAllowed as error:
        return error_response(405, str(error), headers={"Allow": ", ".join(error.allowed)})
    if result.wait_seconds is None:
        return JSONResponse({"executionId": result.execution_id}, status_code=202)
    # Synchronous mode (a repeated idempotency key may name a finished run: read it too).
    result = await service.wait_for_result(
        execution_id=result.execution_id, timeout_seconds=result.wait_seconds
    )
    if result.finished:
        return JSONResponse(
            {"executionId": result.execution_id, "status": result.status, "output": result.output}
        )
    return JSONResponse({"executionId": result.execution_id}, status_code=202)


# One route per method (POST first, the common case), so each has its own OpenAPI
# operation id; ``api_route`` with several methods would repeat one id.
for _method in METHODS:
    router.add_api_route(
        "/hooks/{token}",
        receive_webhook,
        methods=[_method],
        status_code=status.HTTP_202_ACCEPTED,
        response_model=WebhookAccepted,
        operation_id=f"webhook_{_method.lower()}",
        summary=f"Trigger a workflow ({_method})",
        description=DESCRIPTION,
        responses={
            200: {"model": WebhookFinished, "description": "Synchronous mode: the run ended"},
            405: {"model": ErrorBody, "description": "The trigger does not accept this method"},
        },
    )


def _accept(
    *,
    token: str,
    method: str,
    headers: list[tuple[str, str]],
    query: list[tuple[str, str]],
    body: bytes,
    content_type: str | None,
) -> service.WebhookResult:
    with session_scope() as session:
        return service.receive_webhook(
            session=session,
            token=token,
            method=method,
            headers=headers,
            query=query,
            body=body,
            content_type=content_type,
        )


def _too_large(limit: int) -> str:
    return f"the webhook body is larger than {limit} bytes (WORKFUSE_WEBHOOK_MAX_BYTES)"
