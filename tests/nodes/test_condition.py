"""The condition node: every operator, its coercions, first match wins, regex safety."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from workfuse.graph import IssueCode
from workfuse.graph_validation import check_graph_data
from workfuse.nodes import condition
from workfuse.nodes.condition import (
    ConditionNodeConfig,
    ConditionNodeOutput,
    ConditionRule,
    evaluate_rule,
    execute,
)
from workfuse.nodes.execution import ExecutionError, NodeContext


def rule(field: Any, operator: str, value: Any, branch: str = "yes") -> ConditionRule:
    return ConditionRule.model_validate(
        {"field": field, "operator": operator, "value": value, "branch": branch}
    )


def run(config: ConditionNodeConfig) -> ConditionNodeOutput:
    return asyncio.run(execute(config, NodeContext(execution_id="e", node_id="c")))


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("high", "eq", "high", True),
        ("high", "eq", "HIGH", False),
        (42, "eq", "42", True),
        ("42", "eq", 42.0, True),
        ("42", "eq", "42.0", False),  # two strings compare as text
        (True, "eq", "true", True),
        (False, "eq", "true", False),
        (1, "eq", True, False),  # a number is not a boolean
        (None, "eq", None, True),
        ({"a": [1, 2]}, "eq", {"a": [1, 2]}, True),
        ("a", "ne", "b", True),
        (3, "ne", "3", False),
        (10, "gt", 9, True),
        ("10", "gt", 9, True),
        ("10", "gt", "9", True),  # numeric strings compare as numbers
        ("b", "gt", "a", True),
        ("2026-11-27", "gt", "2026-01-01", True),
        (None, "gt", 1, False),
        ([1], "lt", 2, False),
        (1, "lt", 2, True),
        ("abc", "lt", "abd", True),
        ("checkout is down", "contains", "down", True),
        ("checkout", "contains", "up", False),
        ([1, 2, 3], "contains", "2", True),
        (["a", "b"], "contains", "c", False),
        ({"key": 1}, "contains", "key", True),
        (5, "contains", 5, False),
        ("order-1234", "matches", r"^order-\d+$", True),
        ("ORDER", "matches", "(?i)order", True),
        ("nope", "matches", r"\d", False),
        (1234, "matches", r"^\d{4}$", True),
    ],
)
def test_operators(field: Any, operator: str, value: Any, expected: bool) -> None:
    assert asyncio.run(evaluate_rule(rule(field, operator, value))) is expected


def test_first_matching_rule_wins_and_reports_its_index() -> None:
    # Given two rules that both match
    config = ConditionNodeConfig(
        conditions=[
            rule(1, "eq", 2, "never"),
            rule(5, "gt", 1, "first"),
            rule(5, "gt", 0, "second"),
        ],
        default_branch="fallback",
    )
    # When the node runs, Then the first match names the branch
    output = run(config)
    assert output == ConditionNodeOutput(branch="first", matched_rule=1)
    assert output.model_dump(by_alias=True) == {"branch": "first", "matchedRule": 1}


def test_no_match_takes_the_default_branch() -> None:
    output = run(ConditionNodeConfig(conditions=[rule("a", "eq", "b")], default_branch="other"))
    assert output == ConditionNodeOutput(branch="other", matched_rule=None)


def test_invalid_regex_is_a_config_error_found_when_saving() -> None:
    # Given a workflow whose condition has a regex that does not compile
    graph = {
        "name": "bad regex",
        "nodes": [
            {"id": "t", "type": "trigger", "data": {"label": "T"}},
            {
                "id": "c",
                "type": "condition",
                "data": {
                    "label": "C",
                    "config": {
                        "conditions": [
                            {
                                "field": "x",
                                "operator": "matches",
                                "value": "(unclosed",
                                "branch": "y",
                            }
                        ],
                        "defaultBranch": "n",
                    },
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "c"},
            {"id": "e2", "source": "c", "target": "t2", "sourceHandle": "y"},
        ],
    }
    # When it is validated, Then the regex is reported on the condition node
    _, result = check_graph_data(graph)
    problems = [issue for issue in result.errors if issue.code is IssueCode.INVALID_CONFIG]
    assert problems and problems[0].node_id == "c"
    assert "regular expression" in problems[0].message


def test_a_templated_regex_is_checked_when_it_runs() -> None:
    # Given a pattern that only becomes invalid after templating
    config = ConditionNodeConfig(conditions=[rule("x", "matches", "{{ trigger.pattern }}")])
    bad = config.conditions[0].model_copy(update={"value": "(unclosed"})
    # When it is evaluated, Then a clear non-retryable error names the rule
    with pytest.raises(ExecutionError) as caught:
        asyncio.run(evaluate_rule(bad, 0))
    assert caught.value.code == "CONDITION_INVALID_REGEX"
    assert not caught.value.retryable


def test_catastrophic_backtracking_stops_at_the_time_limit() -> None:
    # Given the classic exponential pattern and an input that never matches
    evil = rule("x" * 5000, "matches", r"(x+x+)+y")
    # When it is evaluated, Then it fails with a timeout error instead of hanging
    started = time.perf_counter()
    with pytest.raises(ExecutionError) as caught:
        asyncio.run(evaluate_rule(evil, 3))
    assert caught.value.code == "CONDITION_REGEX_TIMEOUT"
    assert "rule 3" in caught.value.message
    assert time.perf_counter() - started < 5


def test_a_pattern_that_takes_exponential_time_to_compile_is_stopped() -> None:
    # Given counted repeats nested four deep (compiling takes minutes and gigabytes)
    evil = rule("aaaa", "matches", r"(((a{100}){100}){100}){100}")

    # When it is evaluated, and when a workflow holding it is checked
    started = time.perf_counter()
    with pytest.raises(ExecutionError) as caught:
        asyncio.run(evaluate_rule(evil, 2))
    config = ConditionNodeConfig(conditions=[evil])
    problems = condition.check_config(config)

    # Then both end quickly with a clear error, in a sandbox process, not in this one
    assert caught.value.code in {"CONDITION_REGEX_TIMEOUT", "CONDITION_REGEX_FAILED"}
    assert "rule 2" in caught.value.message
    assert [problem.field for problem in problems] == ["conditions.0.value"]
    assert "regular expression" in problems[0].message
    assert time.perf_counter() - started < 15
    # And checking it again (the editor does at every change) answers at once
    again = time.perf_counter()
    assert condition.check_config(config) == problems
    assert time.perf_counter() - again < 0.1


def test_matches_needs_a_string_pattern() -> None:
    with pytest.raises(ValueError, match="regular expression"):
        rule("x", "matches", 5)
