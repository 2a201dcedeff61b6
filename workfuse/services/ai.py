"""AI use cases for the editor: ``test_prompt`` (the seed's ``ai.testPrompt``) and
``generate_config`` (magic input, the seed's ``ai.generateConfig``)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session

from workfuse import net
from workfuse.ai import magic_input, providers
from workfuse.ai.magic_input import (
    MagicInputFailed,
    MagicInputRequest,
    MagicInputResponse,
    Progress,
)
from workfuse.ai.providers import DEFAULT_MODELS, AIProvider
from workfuse.logs import REDACTOR
from workfuse.models import User
from workfuse.nodes import ai as ai_node
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.runner import prepare_config
from workfuse.secrets import SecretStore
from workfuse.secrets.redaction import Redactor
from workfuse.services.errors import ServiceError
from workfuse.services.preferences import get_ai_defaults
from workfuse.services.secrets import list_secrets, values_for_run
from workfuse.settings import get_settings


class SampleData(BaseModel):
    """What the prompt's templates see: a trigger payload and earlier nodes' outputs."""

    trigger: dict[str, Any] = Field(default_factory=dict)
    nodes: dict[str, Any] = Field(default_factory=dict)


DEFAULT_PROVIDER: AIProvider = "openai"


class AINotConfigured(ServiceError):
    """No API key (or base URL) for the provider; the message says how to set one."""

    status_code = 422
    code = "AI_NOT_CONFIGURED"


class GenerationFailed(ServiceError):
    """Magic input found no valid config; ``details`` hold the last problems."""

    status_code = 422
    code = "MAGIC_INPUT_FAILED"

    def __init__(self, failure: MagicInputFailed) -> None:
        super().__init__(f"{failure}: {'; '.join(failure.problems[:3])}")
        self.details = tuple({"message": problem} for problem in failure.problems)


class NodeFailed(ServiceError):
    """The node ran and failed (the provider refused, timed out, ...); ``code`` says how."""

    status_code = 422

    def __init__(self, error: ExecutionError) -> None:
        super().__init__(error.message)
        self.code = error.code
        self.retryable = error.retryable


def _egress_refused(error: net.EgressDenied, where: str) -> NodeFailed:
    """The egress guard refused the model's URL: 422 ``AI_INVALID_URL`` (not a URL that
    can be sent) or ``AI_EGRESS_DENIED`` (an address outbound calls may not reach), as
    the AI node reports them."""
    code = "AI_INVALID_URL" if isinstance(error, net.InvalidURL) else "AI_EGRESS_DENIED"
    return NodeFailed(ExecutionError(f"{where}: {error}", code=code))


async def test_prompt(
    *,
    session: Session,
    store: SecretStore,
    user_id: str,
    config: dict[str, Any],
    sample: SampleData,
) -> dict[str, Any]:
    """Run an AI node config once with sample data; its output (``{response, usage,
    model, finishReason}``), with any credential value in it redacted."""
    spec = ai_node.SPEC
    redactor = Redactor()
    secrets = values_for_run(
        session=session,
        store=store,
        user_id=user_id,
        arns=spec.credential_references(config, run_only=True),
        redactors=(redactor, REDACTOR),
    )
    context = NodeContext(
        execution_id="test-prompt",
        node_id="test-prompt",
        trigger=sample.trigger,
        nodes=sample.nodes,
        env=get_settings().template_env(),
        secrets=secrets,
    )
    try:
        # Templates render in a worker thread: a slow (up to its 1 s limit) render must
        # not hold up the event loop, and every other request with it.
        prepared = await asyncio.to_thread(prepare_config, spec, config, context)
        output = await spec.execute(prepared, context)
    except ExecutionError as error:
        raise NodeFailed(error) from None
    result: dict[str, Any] = redactor.redact(output.model_dump(mode="json", by_alias=True))
    return result


async def generate_config(
    *,
    session: Session,
    store: SecretStore,
    user: User,
    request: MagicInputRequest,
    on_progress: Progress | None = None,
) -> MagicInputResponse:
    """Magic input for ``user``: their credentials by name, their default provider and
    model unless the request names one, the API key from the request's credential or
    the settings default. Provider failures are :class:`NodeFailed`-like 422s."""
    from pydantic_ai import exceptions as ai_errors

    defaults = get_ai_defaults(user=user)
    provider = request.provider or defaults.provider or DEFAULT_PROVIDER
    model_name = request.model or (
        defaults.model if defaults.provider == provider and defaults.model else None
    )
    model_name = model_name or DEFAULT_MODELS[provider]
    credentials = {
        reference.name: reference.arn
        for reference in list_secrets(session=session, user_id=user.id)
    }
    api_key = None
    if request.secret_arn:
        values = values_for_run(
            session=session,
            store=store,
            user_id=user.id,
            arns={request.secret_arn},
            redactors=(REDACTOR,),
        )
        api_key = values.get(request.secret_arn)
        if api_key is None:  # not the user's (or gone): refused, as test-prompt does
            raise NodeFailed(
                ExecutionError(
                    f"credential {request.secret_arn!r} is not available",
                    code="CREDENTIAL_MISSING",
                )
            )
    try:
        model = providers.build_model(
            provider=provider, model=model_name, api_key=api_key, base_url=request.base_url
        )
    except providers.ProviderNotConfigured as error:  # and CredentialRequired
        refused = AINotConfigured(str(error))
        refused.code = error.code
        raise refused from None
    except net.EgressDenied as error:  # the baseUrl: invalid, or a refused address
        raise _egress_refused(error, f"{provider} model {model_name!r}") from None
    try:
        return await magic_input.generate_config(
            request, model, credentials=credentials, on_progress=on_progress
        )
    except MagicInputFailed as failure:
        raise GenerationFailed(failure) from None
    except net.EgressDenied as error:  # the host resolved to a refused address
        raise _egress_refused(error, f"{provider} model {model_name!r}") from None
    except ai_errors.ModelAPIError as error:
        status = getattr(error, "status_code", None)
        raise NodeFailed(
            ExecutionError(
                f"{provider} model {model_name!r} failed"
                f"{f' ({status})' if status else ''}: {REDACTOR.redact_text(error.message)}",
                code="AI_PROVIDER_ERROR",
                retryable=True,
            )
        ) from None
