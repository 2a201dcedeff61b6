"""Condition: picks one branch; the seed's ``ConditionNodeConfig``.

Each rule names a branch; the first rule that matches wins, otherwise
``defaultBranch``. Edges leave a condition node through a handle per branch
(``sourceHandle`` = branch name).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from workfuse.nodes.base import NodeConfigModel, NodeSpec

MAX_RULES = 100


class ConditionRule(NodeConfigModel):
    field: str = Field(min_length=1, max_length=1000)
    operator: Literal["eq", "ne", "gt", "lt", "contains", "matches"]
    value: Any = None
    branch: str = Field(min_length=1, max_length=100)


class ConditionNodeConfig(NodeConfigModel):
    conditions: list[ConditionRule] = Field(default_factory=list, max_length=MAX_RULES)
    default_branch: str = Field(default="default", min_length=1, max_length=100)

    def branches(self) -> list[str]:
        """Every branch name, in rule order, then the default (no repeats)."""
        names = [rule.branch for rule in self.conditions] + [self.default_branch]
        return list(dict.fromkeys(names))


SPEC = NodeSpec(
    type="condition",
    label="Condition",
    icon="git-branch",
    description="Route the run down one branch by rules on the data.",
    config_model=ConditionNodeConfig,
    outputs=(),
    dynamic_outputs=True,
    template_fields=("conditions.field", "conditions.value"),
    default_config={"conditions": [], "defaultBranch": "default"},
)
