"""The evaluation cases (``cases.json``) and how an answer is compared with them.

A case is one plain-English request for one node type, as a user would type it in the
magic input panel:

* ``id``, ``nodeType``, ``prompt`` (one line, unique across cases);
* ``context``: what the panel would send (:class:`MagicContext`: upstream nodes with
  sample outputs, a trigger sample, the current config);
* ``credentials``: names of the user's credentials (each gets the ARN
  :func:`credential_arn`; the model sees only the names);
* ``expect``: key fields, as dotted paths into ``{label, config}`` (``config.method``,
  ``config.conditions.0.operator``; a number segment indexes a list) mapped to an
  expected value or a matcher (see :func:`field_problem`);
* ``reference``: a correct proposal (``{label, config, reasoning, confidence}``), what
  the scripted server answers, with credentials written ``credential:<name>``;
* ``mistakes``: wrong proposals (bad template, wrong schema, unknown credential) the
  scripted server answers first, so retries with feedback run; at most
  ``MAX_ATTEMPTS - 1`` of them.

Answers are compared after normalising: the config goes through its node type's model
(defaults filled in, so an omitted ``method`` counts as ``GET``) and credential ARNs
are written back as ``credential:<name>``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from workfuse.ai.magic_input import (
    CREDENTIAL_PREFIX,
    MAX_ATTEMPTS,
    MAX_PROMPT_CHARS,
    MagicContext,
)
from workfuse.nodes.registry import REGISTRY

CASES_PATH = Path(__file__).with_name("cases.json")
ARN_PREFIX = "arn:workfuse:eval:credential/"
MATCHERS = frozenset(
    {"equals", "oneOf", "sameItems", "contains", "regex", "startsWith", "references", "absent"}
)
_MISSING = object()
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class EvalCase(BaseModel):
    """One request, what it must produce, and the scripted answers."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]{3,60}$")
    node_type: str
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    context: MagicContext = Field(default_factory=MagicContext)
    credentials: list[str] = Field(default_factory=list)
    expect: dict[str, Any] = Field(min_length=1)
    reference: dict[str, Any]
    mistakes: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ATTEMPTS - 1)

    @model_validator(mode="after")
    def _consistent(self) -> EvalCase:
        REGISTRY.get(self.node_type)  # raises for an unknown type
        if "\n" in self.prompt:
            raise ValueError("prompts are one line (the scripted server finds cases by them)")
        for path, expected in self.expect.items():
            if path != "label" and not path.startswith("config."):
                raise ValueError(f"expect path {path!r} must be 'label' or start with 'config.'")
            if _is_matcher(expected):
                unknown = set(expected) - MATCHERS
                if unknown:
                    raise ValueError(f"{path}: unknown matcher(s) {sorted(unknown)}")
        return self

    def credential_arns(self) -> dict[str, str]:
        """The user's credentials for this case: name -> ARN."""
        return {name: credential_arn(name) for name in self.credentials}

    def script(self) -> list[dict[str, Any]]:
        """What the scripted server answers, call by call: the mistakes, then the reference."""
        return [*self.mistakes, self.reference]


def credential_arn(name: str) -> str:
    """The stand-in ARN of the credential ``name`` (never a real secret)."""
    return ARN_PREFIX + name


def load_cases(path: Path = CASES_PATH) -> list[EvalCase]:
    """The cases of ``path``; ids and prompts are unique (the scripted server needs it)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = [EvalCase.model_validate(item) for item in data["cases"]]
    for attribute in ("id", "prompt"):
        values = [getattr(case, attribute) for case in cases]
        repeated = sorted({value for value in values if values.count(value) > 1})
        if repeated:
            raise ValueError(f"repeated case {attribute}s in {path.name}: {repeated}")
    return cases


def normalised(case: EvalCase, proposal: dict[str, Any]) -> dict[str, Any]:
    """``{label, config}`` as compared with ``expect``: the config validated by its node
    type's model (defaults filled in), credential ARNs written as ``credential:<name>``.
    Raises ``pydantic.ValidationError`` for a config its model refuses."""
    spec = REGISTRY.get(case.node_type)
    config = spec.config_model.model_validate(proposal.get("config", {}))
    names = {arn: CREDENTIAL_PREFIX + name for name, arn in case.credential_arns().items()}
    dumped = _rename(config.model_dump(mode="json", by_alias=True), names)
    return {"label": proposal.get("label"), "config": dumped}


def _rename(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: _rename(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_rename(item, names) for item in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value


def key_field_problems(case: EvalCase, proposal: dict[str, Any]) -> list[str]:
    """One line per key field of ``case`` that ``proposal`` gets wrong (empty: all match).

    ``proposal`` is ``{label, config}`` as :func:`~workfuse.ai.magic_input.generate_config`
    returns it (credentials resolved to ARNs)."""
    answer = normalised(case, proposal)
    problems = []
    for path, expected in case.expect.items():
        problem = field_problem(lookup(answer, path), expected)
        if problem is not None:
            problems.append(f"{path}: {problem}")
    return problems


def lookup(document: Any, path: str) -> Any:
    """The value at dotted ``path`` (a number segment indexes a list), or a sentinel
    that no expected value equals when the path leads nowhere."""
    value = document
    for segment in path.split("."):
        if isinstance(value, dict) and segment in value:
            value = value[segment]
        elif isinstance(value, list) and segment.isdigit() and int(segment) < len(value):
            value = value[int(segment)]
        else:
            return _MISSING
    return value


def _is_matcher(expected: Any) -> bool:
    return isinstance(expected, dict) and bool(expected) and set(expected) <= MATCHERS


def _equal(actual: Any, expected: Any) -> bool:
    """JSON equality, except that ``True`` is not ``1`` (``200 == 200.0`` still holds)."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    return bool(actual == expected)


def _references(value: Any, path: str) -> bool:
    """Whether a ``{{ … }}`` expression in ``value`` (a string, or any JSON as text)
    mentions the dotted ``path`` as a whole (``trigger.data.id`` is not in
    ``trigger.data.idx``, but is in ``trigger.data.id.x``); spaces inside the braces are
    ignored."""
    text = value if isinstance(value, str) else json.dumps(value)
    wanted = re.compile(r"(?<![\w.])" + re.escape(re.sub(r"\s+", "", path)) + r"(?!\w)")
    return any(wanted.search(re.sub(r"\s+", "", match)) for match in _TEMPLATE.findall(text))


def field_problem(actual: Any, expected: Any) -> str | None:
    """Why ``actual`` does not meet ``expected``, or ``None`` when it does.

    ``expected`` is a plain JSON value (equality), or a dict whose keys are all matchers
    (every one must hold):

    * ``equals``: equality (for an expected value that is itself such a dict);
    * ``oneOf``: equal to one of a list;
    * ``sameItems``: a list with the same items in any order;
    * ``contains``: a substring, case-insensitive (for a string), or an element (a list);
    * ``regex``: ``re.search`` finds it in the string;
    * ``startsWith``: the string starts with it;
    * ``references``: a ``{{ … }}`` template in the value mentions this dotted path;
    * ``absent``: ``true`` for a missing or null field.
    """
    shown = "(missing)" if actual is _MISSING else json.dumps(actual)[:120]
    if not _is_matcher(expected):
        return None if _equal(actual, expected) else f"expected {json.dumps(expected)}, got {shown}"
    for matcher, wanted in expected.items():
        if not _holds(matcher, actual, wanted):
            return f"expected {matcher} {json.dumps(wanted)}, got {shown}"
    return None


def _holds(matcher: str, actual: Any, wanted: Any) -> bool:
    if matcher == "absent":
        return (actual is _MISSING or actual is None) == bool(wanted)
    if actual is _MISSING:
        return False
    if matcher == "equals":
        return _equal(actual, wanted)
    if matcher == "oneOf":
        return any(_equal(actual, option) for option in wanted)
    if matcher == "sameItems":
        return isinstance(actual, list) and sorted(map(json.dumps, actual)) == sorted(
            map(json.dumps, wanted)
        )
    if matcher == "contains":
        if isinstance(actual, str):
            return str(wanted).lower() in actual.lower()
        return isinstance(actual, list) and any(_equal(item, wanted) for item in actual)
    if matcher == "regex":
        return isinstance(actual, str) and re.search(wanted, actual) is not None
    if matcher == "startsWith":
        return isinstance(actual, str) and actual.startswith(wanted)
    return _references(actual, wanted)  # "references"
