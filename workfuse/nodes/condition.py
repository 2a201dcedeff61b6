"""Condition: picks one branch; the seed's ``ConditionNodeConfig``.

Each rule compares its (templated) ``field`` with its ``value``; the first rule that
matches names the branch, otherwise ``defaultBranch``. Edges leave a condition node
through one handle per branch (``sourceHandle`` = branch name).

Comparison rules (documented in the README):
- ``eq``/``ne``: a number and a numeric string compare as numbers (``"42" eq 42``);
  ``"true"``/``"false"`` compare with booleans; otherwise values must be equal as JSON.
- ``gt``/``lt``: numbers (or numeric strings) numerically, two strings by text
  (ISO dates order correctly); any other pair does not match.
- ``contains``: substring of a string, element of a list (with ``eq``'s rules), key
  of an object.
- ``matches``: ``value`` is a regular expression searched in the field as text,
  checked when the workflow is saved, with a time limit against catastrophic
  backtracking (:data:`REGEX_TIMEOUT_MS`). Patterns are compiled and searched in a
  sandbox process (:mod:`workfuse.sandbox.pool`): compiling one can take exponential
  time, which only a process kill bounds.
"""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Literal

from pydantic import Field, model_validator

from workfuse.nodes.base import ConfigProblem, NodeConfigModel, NodeOutputModel, NodeSpec
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.sandbox import SandboxError
from workfuse.sandbox import pool as sandbox

MAX_RULES = 100
REGEX_TIMEOUT_MS = 250  #: ms one ``matches`` may take (compiling and searching)

Operator = Literal["eq", "ne", "gt", "lt", "contains", "matches"]


class ConditionRule(NodeConfigModel):
    field: Any = Field(description="A template such as {{ nodes.fetch.body.status }}.")
    operator: Operator
    value: Any = None
    branch: str = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _pattern_is_text(self) -> ConditionRule:
        if self.operator == "matches" and not isinstance(self.value, str):
            raise ValueError("a 'matches' rule needs a regular expression as its value")
        return self


class ConditionNodeConfig(NodeConfigModel):
    conditions: list[ConditionRule] = Field(default_factory=list, max_length=MAX_RULES)
    default_branch: str = Field(default="default", min_length=1, max_length=100)

    def branches(self) -> list[str]:
        """Every branch name, in rule order, then the default (no repeats)."""
        names = [rule.branch for rule in self.conditions] + [self.default_branch]
        return list(dict.fromkeys(names))


class ConditionNodeOutput(NodeOutputModel):
    branch: str
    matched_rule: int | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def values_equal(left: Any, right: Any) -> bool:
    """``eq`` with the coercions described in the module docstring."""
    if isinstance(left, bool) or isinstance(right, bool):
        return _boolean(left) is not None and _boolean(left) == _boolean(right)
    left_number, right_number = _number(left), _number(right)
    if (
        left_number is not None
        and right_number is not None
        and (not isinstance(left, str) or not isinstance(right, str))
    ):
        return left_number == right_number
    return bool(left == right)


def _ordered(left: Any, right: Any, operator: str) -> bool:
    left_number, right_number = _number(left), _number(right)
    if left_number is not None and right_number is not None:
        pair: tuple[Any, Any] = (left_number, right_number)
    elif isinstance(left, str) and isinstance(right, str):
        pair = (left, right)
    else:
        return False
    return bool(pair[0] > pair[1]) if operator == "gt" else bool(pair[0] < pair[1])


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return _as_text(item) in container
    if isinstance(container, list):
        return any(values_equal(element, item) for element in container)
    if isinstance(container, dict):
        return _as_text(item) in container
    return False


async def _matches(field: Any, pattern: Any, rule_index: int) -> bool:
    try:
        return await sandbox.default_pool().search_regex_async(
            str(pattern), _as_text(field), timeout_ms=REGEX_TIMEOUT_MS
        )
    except SandboxError as error:
        code = {
            "syntax": "CONDITION_INVALID_REGEX",
            "timeout": "CONDITION_REGEX_TIMEOUT",
        }.get(error.kind, "CONDITION_REGEX_FAILED")
        raise ExecutionError(
            f"rule {rule_index}: {error.message}", code=code, retryable=error.kind == "crashed"
        ) from None


async def evaluate_rule(rule: ConditionRule, index: int = 0) -> bool:
    """The seed's ``evaluateCondition`` for an already templated rule."""
    if rule.operator == "eq":
        return values_equal(rule.field, rule.value)
    if rule.operator == "ne":
        return not values_equal(rule.field, rule.value)
    if rule.operator in ("gt", "lt"):
        return _ordered(rule.field, rule.value, rule.operator)
    if rule.operator == "contains":
        return _contains(rule.field, rule.value)
    return await _matches(rule.field, rule.value, index)


async def execute(config: ConditionNodeConfig, context: NodeContext) -> ConditionNodeOutput:
    for index, rule in enumerate(config.conditions):
        if await evaluate_rule(rule, index):
            return ConditionNodeOutput(branch=rule.branch, matched_rule=index)
    return ConditionNodeOutput(branch=config.default_branch)


def check_config(config: ConditionNodeConfig) -> list[ConfigProblem]:
    """Every ``matches`` pattern without a template must compile (checked in a sandbox
    process, at most :data:`~workfuse.sandbox.limits.CHECK_TIMEOUT_MS` each)."""
    problems = []
    for index, rule in enumerate(config.conditions):
        if rule.operator != "matches" or "{{" in rule.value:
            continue
        try:
            error = _pattern_error(rule.value)
        except SandboxError as failure:  # the sandbox process stopped: not cached
            error = _unchecked(failure)
        if error is not None:
            problems.append(ConfigProblem(f"conditions.{index}.value", error))
    return problems


@functools.lru_cache(maxsize=1024)
def _pattern_error(pattern: str) -> str | None:
    # A pattern whose compilation ran out of time or memory will do so again: cached.
    try:
        return sandbox.default_pool().check_regex(pattern)
    except SandboxError as failure:
        if failure.kind == "crashed":
            raise
        return _unchecked(failure)


def _unchecked(failure: SandboxError) -> str:
    return f"the regular expression could not be checked: {failure.message}"


SPEC = NodeSpec(
    type="condition",
    label="Condition",
    icon="git-branch",
    description="Route the run down one branch by rules on the data.",
    config_model=ConditionNodeConfig,
    output_model=ConditionNodeOutput,
    execute=execute,
    outputs=(),
    dynamic_outputs=True,
    template_fields=("conditions.field", "conditions.value"),
    default_config={"conditions": [], "defaultBranch": "default"},
    check_config=check_config,
)
