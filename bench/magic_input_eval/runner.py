"""Running the cases through :func:`~workfuse.ai.magic_input.generate_config`, and the
figures printed about them.

Each case gets its own model (so its tokens can be counted, failed attempts included),
runs under a per-case time limit, at most ``concurrency`` cases at a time. Outcomes:

* ``ok``: a valid config whose key fields all match;
* ``mismatch``: a valid config with at least one key field wrong;
* ``invalid``: no valid config within the attempts (:class:`MagicInputFailed`);
* ``error``: the provider failed (HTTP error, refused connection, rate limit);
* ``timeout``: the case took longer than its time limit.

Only ``ok`` and ``mismatch`` count as valid. Anything else raised is a bug and ends
the run.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import httpx

from bench.magic_input_eval.cases import EvalCase, key_field_problems
from workfuse import net
from workfuse.ai.magic_input import MagicInputFailed, MagicInputRequest, generate_config

if TYPE_CHECKING:  # pydantic-ai takes about 1.4 s to import: only when cases run
    from pydantic_ai.messages import ModelMessage, ModelResponse
    from pydantic_ai.models import Model, ModelRequestParameters
    from pydantic_ai.settings import ModelSettings

DEFAULT_CONCURRENCY = 4  #: cases in flight at once
DEFAULT_CASE_TIMEOUT = 180.0  #: seconds for one case, all its attempts together
DETAIL_CHARS = 160  #: characters of a problem or error shown on a case's line

Outcome = Literal["ok", "mismatch", "invalid", "error", "timeout"]
ModelFactory = Callable[[], "Model"]


@dataclass(frozen=True)
class CaseResult:
    """How one case went. ``attempts`` is the number of model answers (``None`` when
    unknown: error, timeout); ``seconds`` is wall time; ``tokens`` counts every answer,
    failed attempts included (prompt + completion, as the provider reports them)."""

    case: EvalCase
    outcome: Outcome
    attempts: int | None
    seconds: float
    tokens: int
    detail: str = ""

    @property
    def valid(self) -> bool:
        return self.outcome in ("ok", "mismatch")


def metered(model: Model) -> tuple[Model, list[int]]:
    """``model`` wrapped so that every response adds its tokens to the returned list
    (one number per model call)."""
    from pydantic_ai.models.wrapper import WrapperModel

    tokens: list[int] = []

    class _Metered(WrapperModel):
        async def request(
            self,
            messages: list[ModelMessage],
            model_settings: ModelSettings | None,
            model_request_parameters: ModelRequestParameters,
        ) -> ModelResponse:
            response = await super().request(messages, model_settings, model_request_parameters)
            usage = response.usage
            tokens.append(int(usage.input_tokens or 0) + int(usage.output_tokens or 0))
            return response

    return _Metered(model), tokens


async def run_case(case: EvalCase, *, make_model: ModelFactory, timeout: float) -> CaseResult:
    """Ask for ``case``'s config once (with magic input's own retries) within
    ``timeout`` seconds, and judge the answer."""
    from pydantic_ai.exceptions import AgentRunError

    model, tokens = metered(make_model())
    request = MagicInputRequest(prompt=case.prompt, node_type=case.node_type, context=case.context)
    started = time.perf_counter()
    attempts: int | None = None
    try:
        async with asyncio.timeout(timeout):
            response = await generate_config(request, model, credentials=case.credential_arns())
    except TimeoutError:
        outcome: Outcome = "timeout"
        detail = f"no valid answer within {timeout:g} s"
    except MagicInputFailed as failure:
        outcome, attempts = "invalid", failure.attempts
        detail = "; ".join(failure.problems)
    except (AgentRunError, net.EgressDenied, httpx.HTTPError) as error:
        outcome, detail = "error", f"{type(error).__name__}: {error}"
    else:
        attempts = response.attempts
        problems = key_field_problems(case, response.config)
        outcome = "mismatch" if problems else "ok"
        detail = "; ".join(problems)
    seconds = time.perf_counter() - started
    return CaseResult(case, outcome, attempts, seconds, sum(tokens), detail[:DETAIL_CHARS])


async def run_cases(
    cases: list[EvalCase],
    *,
    make_model: ModelFactory,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float = DEFAULT_CASE_TIMEOUT,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Every case, at most ``concurrency`` at a time; results in the cases' order.
    ``on_result`` sees each result as it comes."""
    slots = asyncio.Semaphore(concurrency)

    async def one(case: EvalCase) -> CaseResult:
        async with slots:
            result = await run_case(case, make_model=make_model, timeout=timeout)
        if on_result is not None:
            on_result(result)
        return result

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(case)) for case in cases]
    return [task.result() for task in tasks]


@dataclass(frozen=True)
class Summary:
    """The run's figures; shares are 0-1, latency in seconds per case."""

    cases: int
    valid: int
    matched: int
    median_attempts: float | None
    total_tokens: int
    median_seconds: float
    outcomes: dict[str, int]

    @property
    def share_valid(self) -> float:
        return self.valid / self.cases if self.cases else 0.0

    @property
    def share_matched(self) -> float:
        return self.matched / self.cases if self.cases else 0.0


def summarise(results: list[CaseResult]) -> Summary:
    attempts = [result.attempts for result in results if result.attempts is not None]
    outcomes = dict.fromkeys(("ok", "mismatch", "invalid", "error", "timeout"), 0)
    for result in results:
        outcomes[result.outcome] += 1
    return Summary(
        cases=len(results),
        valid=sum(result.valid for result in results),
        matched=outcomes["ok"],
        median_attempts=statistics.median(attempts) if attempts else None,
        total_tokens=sum(result.tokens for result in results),
        median_seconds=statistics.median(r.seconds for r in results) if results else 0.0,
        outcomes=outcomes,
    )


def case_line(result: CaseResult) -> str:
    """``outcome  id  attempts  seconds  [detail]`` for one case."""
    attempts = "-" if result.attempts is None else str(result.attempts)
    line = (
        f"{result.outcome:<8} {result.case.id:<34} attempts {attempts:>2} {result.seconds:7.2f} s"
    )
    return f"{line}   {result.detail}" if result.detail else line


def summary_lines(results: list[CaseResult]) -> list[str]:
    """The summary: counts and shares overall and per node type, attempts, tokens, latency."""
    summary = summarise(results)
    by_type: dict[str, list[CaseResult]] = {}
    for result in results:
        by_type.setdefault(result.case.node_type, []).append(result)
    attempts = "-" if summary.median_attempts is None else f"{summary.median_attempts:g}"
    outcomes = ", ".join(f"{name} {count}" for name, count in summary.outcomes.items())
    lines = [
        f"cases            {summary.cases} ({outcomes})",
        f"valid            {summary.valid}/{summary.cases} = {summary.share_valid:.1%}",
        f"key fields match {summary.matched}/{summary.cases} = {summary.share_matched:.1%}",
    ]
    for node_type, group in by_type.items():
        part = summarise(group)
        lines.append(
            f"  {node_type:<14} {part.cases:>2} cases: valid {part.share_valid:6.1%}, "
            f"match {part.share_matched:6.1%}"
        )
    lines += [
        f"median attempts  {attempts} (model answers per case, 1 = no retry)",
        f"total tokens     {summary.total_tokens:,} (prompt + completion, every attempt)",
        f"median latency   {summary.median_seconds:.2f} s per case (retries included)",
    ]
    return lines


def scripted_answer(cases: list[EvalCase]) -> Callable[[dict[str, Any]], Any]:
    """A script for ``tests.support.magic_llm.routes``: finds the case by the request
    line of the user prompt and answers its next scripted item (the mistakes, then
    the reference, which repeats), counting the assistant turns the body already holds.
    Stateless, so cases may run concurrently against one server."""
    from tests.support.local_server import Response

    by_prompt = {case.prompt: case for case in cases}

    def answer(body: dict[str, Any]) -> Any:
        messages = body.get("messages", [])
        case = None
        for message in messages:
            content = message.get("content")
            if message.get("role") == "user" and isinstance(content, str):
                first = content.split("\n\n", 1)[0].removeprefix("Request: ")
                case = by_prompt.get(first, case)
        if case is None:
            return Response.json({"error": {"message": "no evaluation case for this prompt"}}, 400)
        answered = sum(message.get("role") == "assistant" for message in messages)
        script = case.script()
        return script[min(answered, len(script) - 1)]

    return answer
