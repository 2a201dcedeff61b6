"""Transform: reshapes data with JavaScript or JSONata; the seed's ``TransformNodeConfig``.

Both languages see the template context (``nodes``, ``trigger``, ``env``):

- **javascript**: the code is the body of a strict-mode function whose ``return``
  value is the result (``return trigger.data.n * 2``). ``nodes``, ``trigger`` and
  ``env`` are deeply frozen parameters; ``console.log`` & co. go to ``logs``. It runs
  in a locked-down V8 isolate (:mod:`workfuse.sandbox.javascript`).
- **jsonata**: the expression is evaluated against ``{nodes, trigger, env}``
  (``$sum(nodes.fetch.body.items.price)``); ``logs`` is empty
  (:mod:`workfuse.sandbox.jsonata`).

Both run in a sandbox process (:mod:`workfuse.sandbox.pool`), one call per process.

``timeout`` is in milliseconds (default :data:`DEFAULT_TIMEOUT_MS`, at most
:data:`MAX_TIMEOUT_MS`). ``undefined`` results become ``None``. A failure is an
:class:`ExecutionError` with one of the codes in :data:`ERROR_CODES`, not retryable
(running the same code on the same data again gives the same outcome) except
``TRANSFORM_SANDBOX_CRASHED``: the sandbox process stopped under the call (killed from
outside, or crashed), and the next attempt runs in a new one.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from pydantic import Field

from workfuse.nodes.base import (
    ConfigProblem,
    NodeConfigModel,
    NodeExample,
    NodeOutputModel,
    NodeSpec,
)
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.hints import ui
from workfuse.sandbox import SandboxError, SandboxErrorKind
from workfuse.sandbox import pool as sandbox

DEFAULT_TIMEOUT_MS = 5_000  #: ms
MAX_TIMEOUT_MS = 60_000  #: ms
MAX_CODE_LENGTH = 100_000  #: characters

#: ``ExecutionError.code`` for each way user code can fail.
ERROR_CODES: dict[SandboxErrorKind, str] = {
    "syntax": "TRANSFORM_SYNTAX",
    "error": "TRANSFORM_ERROR",
    "timeout": "TRANSFORM_TIMEOUT",
    "memory": "TRANSFORM_MEMORY",
    "input_too_large": "TRANSFORM_INPUT_TOO_LARGE",
    "invalid_result": "TRANSFORM_INVALID_RESULT",
    "output_too_large": "TRANSFORM_OUTPUT_TOO_LARGE",
    "crashed": "TRANSFORM_SANDBOX_CRASHED",
}


class TransformNodeConfig(NodeConfigModel):
    language: Literal["jsonata", "javascript"] = "jsonata"
    code: str = Field(
        min_length=1,
        max_length=MAX_CODE_LENGTH,
        description="JSONata over {nodes, trigger, env}, e.g. nodes.fetch.body.items[price > "
        "10].name; or the body of a JavaScript function whose return value is the result.",
        json_schema_extra=ui(widget="code", language_field="language", rows=8),
    )
    timeout: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TIMEOUT_MS,
        json_schema_extra=ui(unit="ms", placeholder=str(DEFAULT_TIMEOUT_MS), advanced=True),
    )


class TransformNodeOutput(NodeOutputModel):
    result: Any = None
    logs: list[str] = Field(default_factory=list)


async def execute(config: TransformNodeConfig, context: NodeContext) -> TransformNodeOutput:
    """Run the code in a sandbox process; its time limit is enforced there."""
    timeout_ms = config.timeout or DEFAULT_TIMEOUT_MS
    document = context.template_context()
    try:
        if config.language == "javascript":
            script = await sandbox.run_javascript(config.code, document, timeout_ms=timeout_ms)
            return TransformNodeOutput(result=script.value, logs=script.logs)
        value = await sandbox.evaluate_jsonata(config.code, document, timeout_ms=timeout_ms)
        return TransformNodeOutput(result=value, logs=[])
    except SandboxError as error:
        raise ExecutionError(
            f"{_LANGUAGE_NAMES[config.language]} transform failed: {error.message}",
            code=ERROR_CODES[error.kind],
            retryable=error.kind == "crashed",
        ) from None


def check_syntax(config: TransformNodeConfig) -> str | None:
    """The syntax error of the config's code (with its position), or ``None``."""
    return _syntax_error(config.language, config.code)


@functools.lru_cache(maxsize=1024)
def _syntax_error(language: str, code: str) -> str | None:
    # Cached: saving a workflow (and every change in the editor) re-checks every
    # transform, and a check is a round trip to a sandbox process. Code whose check ran
    # out of time or memory will do so again: that answer is cached too.
    pool = sandbox.default_pool()
    try:
        if language == "javascript":
            return pool.check_javascript(code)
        return pool.check_jsonata(code)
    except SandboxError as failure:
        if failure.kind == "crashed":
            raise
        return _unchecked(failure)


def _unchecked(failure: SandboxError) -> str:
    return f"the code's syntax could not be checked: {failure.message}"


def check_config(config: TransformNodeConfig) -> list[ConfigProblem]:
    """The code's syntax error, found before the workflow is saved.

    If the code could not be checked, that is the problem reported; when the sandbox
    process stopped under the check it is not cached, so the next check retries.
    """
    try:
        error = check_syntax(config)
    except SandboxError as failure:  # the sandbox process stopped: not cached
        return [ConfigProblem("code", _unchecked(failure))]
    return [] if error is None else [ConfigProblem("code", error)]


_LANGUAGE_NAMES = {"javascript": "JavaScript", "jsonata": "JSONata"}


DOCS = """\
Computes a new value from the data so far; the output is `{result, logs}`. Both
languages see `nodes` (earlier outputs by node id), `trigger` and `env`.

- **JSONata**: an expression such as `$sum(nodes.fetch.body.items.price)`.
- **JavaScript**: the body of a strict-mode function, `return trigger.data.n * 2`.
  The inputs are frozen; `console.log` lines go to `logs`. No network, no file system,
  no timers.

Code runs in a sandbox process with a time limit (`timeout`, default 5,000 ms, at most
60,000) and a memory limit; a syntax error is reported when the workflow is saved.
`undefined` becomes `null`. Failures are not retried (the same code on the same data
fails the same way) unless the sandbox process itself stopped.
"""

SPEC = NodeSpec(
    type="transform",
    label="Transform",
    icon="shuffle",
    colour="#7c3aed",
    category="data",
    description="Reshape data with a JSONata expression or JavaScript.",
    docs=DOCS,
    config_model=TransformNodeConfig,
    output_model=TransformNodeOutput,
    execute=execute,
    default_config={"language": "jsonata", "code": "trigger"},
    check_config=check_config,
    examples=(
        NodeExample(
            request="Keep only the names of the items from the fetch node that cost more than 10.",
            label="Expensive items",
            config={"language": "jsonata", "code": "nodes.fetch.body.items[price > 10].name"},
        ),
        NodeExample(
            request="In JavaScript, count the words of the trigger's message.",
            label="Count words",
            config={
                "language": "javascript",
                "code": "return trigger.data.message.trim().split(/\\s+/).length;",
            },
        ),
    ),
)
