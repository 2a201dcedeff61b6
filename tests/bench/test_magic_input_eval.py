"""The magic input evaluation (``bench/magic_input_eval``): its cases are sound, and the
whole command runs against the scripted server over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import re
from collections import Counter
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel

from bench.magic_input_eval import __main__ as command
from bench.magic_input_eval.cases import (
    EvalCase,
    field_problem,
    key_field_problems,
    load_cases,
    lookup,
)
from bench.magic_input_eval.runner import CaseResult, run_case, scripted_answer, summarise
from tests.support.local_server import Response, serve
from tests.support.magic_llm import COMPLETION_TOKENS, PROMPT_TOKENS, routes
from workfuse.ai.magic_input import check_proposal, proposal_model, resolve_credentials
from workfuse.ai.providers import build_model

CASES = load_cases()
LINE = re.compile(r"^(?P<outcome>\w+)\s+(?P<id>[a-z0-9-]+)\s+attempts\s+(?P<attempts>\S+)\s")


def _problems(case: EvalCase, proposal: dict[str, Any]) -> list[str]:
    """What magic input would say about ``proposal``: schema, credentials, saving's checks."""
    try:
        proposal_model(case.node_type).model_validate(proposal)
    except ValidationError as error:
        return [str(error)]
    problems: list[str] = []
    config = resolve_credentials(proposal["config"], case.credential_arns(), problems)
    return problems + check_proposal(case.node_type, proposal["label"], config, case.context)


def test_the_cases_cover_every_node_type_and_both_transform_languages() -> None:
    per_type = Counter(case.node_type for case in CASES)
    languages = Counter(
        case.reference["config"]["language"] for case in CASES if case.node_type == "transform"
    )

    assert len(CASES) >= 40
    assert set(per_type) == {"trigger", "http", "transform", "condition", "ai"}
    assert min(per_type.values()) >= 6, per_type
    assert languages["jsonata"] >= 3 and languages["javascript"] >= 3
    assert sum(bool(case.mistakes) for case in CASES) >= 5
    assert any(len(case.mistakes) == 2 for case in CASES)  # one case needs all 3 attempts


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_the_reference_answer_is_valid_and_meets_its_key_fields(case: EvalCase) -> None:
    assert _problems(case, case.reference) == []
    assert key_field_problems(case, case.reference) == []


@pytest.mark.parametrize(
    ("case", "index"),
    [(case, index) for case in CASES for index in range(len(case.mistakes))],
    ids=lambda value: value.id if isinstance(value, EvalCase) else str(value),
)
def test_every_scripted_mistake_is_refused(case: EvalCase, index: int) -> None:
    assert _problems(case, case.mistakes[index]), "a mistake that passes exercises no retry"


@pytest.mark.parametrize(
    ("actual", "expected", "holds"),
    [
        (200.0, 200, True),
        (True, 1, False),
        (["POST", "GET"], {"sameItems": ["GET", "POST"]}, True),
        (["GET"], {"sameItems": ["GET", "POST"]}, False),
        ("Summarise {{ trigger.data.id }}", {"references": "trigger.data.id"}, True),
        ("{{trigger.data.id|upper}}", {"references": "trigger.data.id"}, True),
        ("{{ trigger.data.idx }}", {"references": "trigger.data.id"}, False),
        ("trigger.data.id", {"references": "trigger.data.id"}, False),  # not a template
        ({"body": "{{ nodes.a.x }}"}, {"references": "nodes.a.x"}, True),
        ("New Signup: x", {"contains": "new signup", "startsWith": "New"}, True),
        ("https://a.test/x", {"regex": "^https://", "startsWith": "http://"}, False),
        (None, {"absent": True}, True),
        ("gt", {"oneOf": ["gt", "lt"]}, True),
    ],
)
def test_matchers(actual: Any, expected: Any, holds: bool) -> None:
    assert (field_problem(actual, expected) is None) is holds


def test_a_path_that_leads_nowhere_matches_no_value() -> None:
    document = {"config": {"conditions": [{"operator": "gt"}]}}

    assert lookup(document, "config.conditions.0.operator") == "gt"
    assert field_problem(lookup(document, "config.conditions.1.operator"), None) is not None
    assert field_problem(lookup(document, "config.auth"), {"absent": True}) is None


def _case_lines(output: str) -> dict[str, tuple[str, str]]:
    return {
        match["id"]: (match["outcome"], match["attempts"])
        for match in map(LINE.match, output.splitlines())
        if match
    }


def test_the_whole_eval_against_the_scripted_server(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the cases and the scripted server (mistakes first, then the reference)
    # When the command runs with the strictest thresholds
    status = command.main(["--min-valid", "1", "--min-match", "1"])

    # Then every case is valid and matches, after exactly the scripted attempts
    output = capsys.readouterr().out
    assert status == 0, output
    lines = _case_lines(output)
    assert lines == {case.id: ("ok", str(len(case.mistakes) + 1)) for case in CASES}
    assert f"valid            {len(CASES)}/{len(CASES)} = 100.0%" in output
    assert f"key fields match {len(CASES)}/{len(CASES)} = 100.0%" in output
    calls = sum(len(case.mistakes) + 1 for case in CASES)
    assert f"total tokens     {calls * (PROMPT_TOKENS + COMPLETION_TOKENS):,} " in output
    assert "median attempts  1 " in output and "median latency" in output
    assert "WORKFUSE_EGRESS_ALLOW" not in os.environ  # restored after the run


def test_a_low_score_is_a_result_unless_a_threshold_is_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one case whose answer misses a key field and one that never gets valid
    by_id = {case.id: case for case in CASES}
    wrong_method = by_id["http-weather-timeout"].model_copy(
        update={"expect": {"config.method": "POST"}}
    )
    never_valid = by_id["condition-low-stock"].model_copy(
        update={"reference": by_id["condition-low-stock"].mistakes[0]}
    )
    monkeypatch.setattr(command, "load_cases", lambda: [wrong_method, never_valid])

    # When the command runs without thresholds, then with --min-valid 0.9
    status = command.main([])
    output = capsys.readouterr().out
    strict_status = command.main(["--min-valid", "0.9"])
    strict_output = capsys.readouterr().out

    # Then the first is a result (status 0), the second fails on the threshold
    assert status == 0, output
    assert _case_lines(output) == {
        "http-weather-timeout": ("mismatch", "1"),
        "condition-low-stock": ("invalid", "3"),
    }
    assert 'config.method: expected "POST", got "GET"' in output
    assert "unknown node 'stock'" in output
    assert "valid            1/2 = 50.0%" in output
    assert "key fields match 0/2 = 0.0%" in output
    assert strict_status == 1
    assert "FAIL: valid share 50.0% is below 90.0%" in strict_output


def test_provider_and_model_go_together(capsys: pytest.CaptureFixture[str]) -> None:
    assert command.main(["--provider", "openai"]) == 2
    assert "--provider and --model go together" in capsys.readouterr().err


def test_a_real_provider_without_a_key_says_what_to_set(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert command.main(["--provider", "anthropic", "--model", "claude-3-5-haiku-latest"]) == 2
    assert "WORKFUSE_ANTHROPIC_API_KEY" in capsys.readouterr().err


def test_the_provider_path_runs_the_cases_against_a_base_url(
    allow_loopback: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an OpenAI-compatible server (here the scripted one) named on the command line
    handlers, calls = routes(scripted_answer(CASES))
    with serve(handlers) as server:
        # When the command runs against it as a provider, for the http cases only
        provider = ["--provider", "openai-compatible", "--model", "served"]
        status = command.main(
            [*provider, "--base-url", f"{server.url}/v1", "--only", "http-", "--min-match", "1"]
        )

    # Then those cases ran there, with the model asked for
    output = capsys.readouterr().out
    assert status == 0, output
    http_cases = [case for case in CASES if case.node_type == "http"]
    assert set(_case_lines(output)) == {case.id for case in http_cases}
    assert {body["model"] for body in calls} == {"served"}
    assert "openai-compatible 'served'" in output


def test_provider_errors_and_slow_answers_are_outcomes_not_crashes(allow_loopback: None) -> None:
    # Given a provider that answers 503, and a model that takes longer than the limit
    async def never_answers(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        await asyncio.sleep(30)
        raise AssertionError("the time limit should have cancelled this")

    handlers, _ = routes([Response.json({"error": {"message": "overloaded"}}, 503)])
    with serve(handlers) as server:

        def failing() -> Any:
            base_url = f"{server.url}/v1"
            return build_model(
                provider="openai-compatible", model="m", api_key="k", base_url=base_url
            )

        # When a case runs against each with a 0.5 s limit
        async def both() -> list[CaseResult]:
            return [
                await run_case(CASES[0], make_model=failing, timeout=0.5),
                await run_case(
                    CASES[1], make_model=lambda: FunctionModel(never_answers), timeout=0.5
                ),
            ]

        results = asyncio.run(both())

    # Then they are results of their own kinds, not exceptions
    assert [(result.outcome, result.attempts) for result in results] == [
        ("error", None),
        ("timeout", None),
    ]
    assert "503" in results[0].detail and results[1].seconds < 5
    assert summarise(results).share_valid == 0.0
