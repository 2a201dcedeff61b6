"""Evaluate magic input: ``python -m bench.magic_input_eval`` from the repository root.

Without ``--provider`` the cases run against a scripted model on 127.0.0.1 (the
tests' OpenAI-compatible server, answering each case's scripted mistakes and then its
reference answer), which proves the harness works, not that a model is good. With
``--provider``/``--model`` they run against that provider, its API key taken from the
usual settings variable (``WORKFUSE_OPENAI_API_KEY``, ``WORKFUSE_ANTHROPIC_API_KEY``,
``WORKFUSE_GEMINI_API_KEY``; ``--base-url`` for an OpenAI-compatible server).

Prints one line per case as it finishes, then the summary. Exit status 0 whatever the
score (a low score is a result); 1 below ``--min-valid``/``--min-match``; 2 for a
provider that is not configured or wrong arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from bench.magic_input_eval.cases import EvalCase, load_cases
from bench.magic_input_eval.runner import (
    DEFAULT_CASE_TIMEOUT,
    DEFAULT_CONCURRENCY,
    CaseResult,
    ModelFactory,
    case_line,
    run_cases,
    scripted_answer,
    summarise,
    summary_lines,
)
from bench.report import record
from workfuse.ai.providers import PROVIDERS, ProviderNotConfigured, build_model
from workfuse.settings import get_settings

if TYPE_CHECKING:
    from pydantic_ai.models import Model

SCRIPTED_MODEL = "scripted"
LOOPBACK = "127.0.0.1/32"
EGRESS_VARIABLE = "WORKFUSE_EGRESS_ALLOW"


@contextmanager
def loopback_allowed() -> Iterator[None]:
    """Let the egress guard reach 127.0.0.1 (added to ``WORKFUSE_EGRESS_ALLOW``) until
    the block ends; the variable and the cached settings are restored afterwards."""
    before = os.environ.get(EGRESS_VARIABLE)
    os.environ[EGRESS_VARIABLE] = f"{before},{LOOPBACK}" if before else LOOPBACK
    get_settings.cache_clear()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(EGRESS_VARIABLE, None)
        else:
            os.environ[EGRESS_VARIABLE] = before
        get_settings.cache_clear()


@contextmanager
def scripted_provider(cases: list[EvalCase]) -> Iterator[tuple[ModelFactory, str]]:
    """The scripted server on 127.0.0.1 for ``cases``: a model factory and a description."""
    from tests.support.local_server import serve
    from tests.support.magic_llm import routes

    handlers, _ = routes(scripted_answer(cases))
    with loopback_allowed(), serve(handlers) as server:
        base_url = f"{server.url}/v1"

        def make_model() -> Model:
            return build_model(
                provider="openai-compatible",
                model=SCRIPTED_MODEL,
                api_key=SCRIPTED_MODEL,  # never the operator's real key
                base_url=base_url,
            )

        yield make_model, f"openai-compatible {SCRIPTED_MODEL!r} (scripted server at {base_url})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.magic_input_eval", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--provider", choices=PROVIDERS, help="a real provider (needs --model)")
    parser.add_argument("--model", help="the provider's model name, e.g. gpt-4o-mini")
    parser.add_argument(
        "--base-url",
        help="endpoint of an openai-compatible server (for a proxy of another provider, "
        "set WORKFUSE_<PROVIDER>_BASE_URL: the settings' key only goes there)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="cases at a time"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_CASE_TIMEOUT,
        help="seconds per case, all attempts together",
    )
    parser.add_argument(
        "--only", action="append", default=[], help="run cases whose id contains this"
    )
    parser.add_argument(
        "--min-valid", type=float, default=0.0, help="exit 1 if the valid share is lower (0-1)"
    )
    parser.add_argument(
        "--min-match", type=float, default=0.0, help="exit 1 if the match share is lower (0-1)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.provider is None) != (args.model is None):
        print("--provider and --model go together", file=sys.stderr)
        return 2
    if args.concurrency < 1 or args.timeout <= 0:
        parser.error("--concurrency must be at least 1 and --timeout above 0")
    if not (0 <= args.min_valid <= 1 and 0 <= args.min_match <= 1):
        parser.error("--min-valid and --min-match are shares between 0 and 1")
    cases = [case for case in load_cases() if not args.only or any(s in case.id for s in args.only)]
    if not cases:
        parser.error(f"no case id contains any of {args.only}")

    def report(result: CaseResult) -> None:
        print(case_line(result), flush=True)

    def run(make_model: ModelFactory, target: str) -> list[CaseResult]:
        print(
            f"magic input eval: {len(cases)} cases against {target}; "
            f"{args.concurrency} at a time, {args.timeout:g} s per case",
            flush=True,
        )
        return asyncio.run(
            run_cases(
                cases,
                make_model=make_model,
                concurrency=args.concurrency,
                timeout=args.timeout,
                on_result=report,
            )
        )

    if args.provider is None:
        with scripted_provider(cases) as (make_model, target):
            results = run(make_model, target)
    else:

        def provider_model() -> Model:
            return build_model(
                provider=args.provider, model=args.model, api_key=None, base_url=args.base_url
            )

        try:
            provider_model()  # fail early, with the message that says what to set
        except ProviderNotConfigured as error:
            print(error, file=sys.stderr)
            return 2
        results = run(provider_model, f"{args.provider} {args.model!r}")

    print("---")
    for line in summary_lines(results):
        print(line)
    summary = summarise(results)
    record("magic_input_eval.valid", summary.share_valid * 100, "%")
    record("magic_input_eval.key fields match", summary.share_matched * 100, "%")
    if summary.median_attempts is not None:
        record("magic_input_eval.median attempts", summary.median_attempts, "answers")
    record("magic_input_eval.total tokens", summary.total_tokens, "tokens")
    record("magic_input_eval.median latency per case", summary.median_seconds, "s")
    below = [
        f"{name} share {share:.1%} is below {minimum:.1%}"
        for name, share, minimum in (
            ("valid", summary.share_valid, args.min_valid),
            ("match", summary.share_matched, args.min_match),
        )
        if share < minimum
    ]
    for line in below:
        print(f"FAIL: {line}")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
