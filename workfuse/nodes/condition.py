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
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from workfuse.nodes.base import (
    ConfigProblem,
    NodeConfigModel,
    NodeExample,
    NodeOutputModel,
    NodeSpec,
)
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.hints import ui
from workfuse.sandbox import SandboxError
from workfuse.sandbox import pool as sandbox

MAX_RULES = 100
REGEX_TIMEOUT_MS = 250  #: ms one ``matches`` may take (compiling and searching)

Operator = Literal["eq", "ne", "gt", "lt", "contains", "matches"]


class ConditionRule(NodeConfigModel):
    field: Any = Field(
        description="A template such as {{ nodes.fetch.body.status }}.",
        json_schema_extra=ui(
            widget="text", label="If", template=True, placeholder="{{ nodes.fetch.status }}"
        ),
    )
    operator: Operator
    value: Any = Field(
        default=None, json_schema_extra=ui(widget="loose", template=True, placeholder="value")
    )
    branch: str = Field(min_length=1, max_length=100, json_schema_extra=ui(label="then branch"))

    @model_validator(mode="after")
    def _pattern_is_text(self) -> ConditionRule:
        if self.operator == "matches" and not isinstance(self.value, str):
            raise ValueError("a 'matches' rule needs a regular expression as its value")
        return self


class ConditionNodeConfig(NodeConfigModel):
    conditions: list[ConditionRule] = Field(
        default_factory=list,
        max_length=MAX_RULES,
        description="Rules are tried in order; the first that matches picks its branch.",
        json_schema_extra=ui(widget="list", label="Rules", item_label="Rule"),
    )
    default_branch: str = Field(
        default="default",
        min_length=1,
        max_length=100,
        json_schema_extra=ui(label="Otherwise, branch", placeholder="default"),
    )

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


def branch_handles(config: Mapping[str, Any]) -> list[str]:
    """The branches of a stored config, valid or not: each rule's (in order, no
    repeats), then the default branch. What :meth:`ConditionNodeConfig.branches` gives
    for a valid config."""
    rules = config.get("conditions")
    handles: list[str] = []
    for rule in rules if isinstance(rules, list) else []:
        branch = rule.get("branch") if isinstance(rule, dict) else None
        if isinstance(branch, str) and branch and branch not in handles:
            handles.append(branch)
    default = config.get("defaultBranch")
    default = default if isinstance(default, str) and default else "default"
    if default not in handles:
        handles.append(default)
    return handles


def chosen_branch(output: Mapping[str, Any]) -> str | None:
    """The branch a finished condition took (its edges through other branches skip)."""
    branch = output.get("branch")
    return branch if isinstance(branch, str) else None


DOCS = """\
Routes the run: each rule compares its `field` (usually a template such as
`{{ nodes.fetch.status }}`) with its `value` using `operator`; the first rule that
matches names the branch the run continues on, otherwise `defaultBranch`. Each branch
is an output handle on the canvas, and every branch needs an edge; nodes reached only
through branches not taken are skipped. The output is `{branch, matchedRule}`.

- `eq` / `ne`: a number and a numeric string compare as numbers (`"42"` equals `42`);
  `"true"` / `"false"` compare with booleans; otherwise the values must be equal as JSON.
- `gt` / `lt`: numbers (or numeric strings) by value, two strings by text (ISO dates
  order correctly); any other pair does not match.
- `contains`: a substring of a string, an element of a list, a key of an object.
- `matches`: `value` is a regular expression searched in the field as text; it is
  checked when the workflow is saved and has a 250 ms time limit.
"""

SPEC = NodeSpec(
    type="condition",
    label="Condition",
    icon="git-branch",
    colour="#0d9488",
    category="flow",
    description="Route the run down one branch by rules on the data.",
    docs=DOCS,
    config_model=ConditionNodeConfig,
    output_model=ConditionNodeOutput,
    execute=execute,
    outputs=(),
    handles_of=branch_handles,
    chosen_output=chosen_branch,
    template_fields=("conditions.field", "conditions.value"),
    default_config={"conditions": [], "defaultBranch": "default"},
    check_config=check_config,
    examples=(
        NodeExample(
            request="If the HTTP status of the fetch node is 200 go to ok, otherwise to failed.",
            label="Fetched?",
            config={
                "conditions": [
                    {
                        "field": "{{ nodes.fetch.status }}",
                        "operator": "eq",
                        "value": 200,
                        "branch": "ok",
                    }
                ],
                "defaultBranch": "failed",
            },
        ),
        NodeExample(
            request="Route urgent tickets (priority above 3, or the subject contains 'outage').",
            label="Urgent?",
            config={
                "conditions": [
                    {
                        "field": "{{ trigger.data.priority }}",
                        "operator": "gt",
                        "value": 3,
                        "branch": "urgent",
                    },
                    {
                        "field": "{{ trigger.data.subject }}",
                        "operator": "contains",
                        "value": "outage",
                        "branch": "urgent",
                    },
                ],
                "defaultBranch": "normal",
            },
        ),
    ),
)
