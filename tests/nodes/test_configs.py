"""Node config models: the seed's config shapes, camelCase in and out, strict about the rest."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from workfuse.graph import error_location
from workfuse.nodes.ai import AINodeConfig
from workfuse.nodes.base import NodeConfigModel
from workfuse.nodes.condition import MAX_RULES, ConditionNodeConfig
from workfuse.nodes.http import MAX_TIMEOUT_MS, HTTPAuth, HTTPNodeConfig
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.transform import TransformNodeConfig
from workfuse.nodes.trigger import TriggerNodeConfig

MINIMAL: dict[type[NodeConfigModel], dict[str, Any]] = {
    TriggerNodeConfig: {},
    HTTPNodeConfig: {"url": "https://api.example.com"},
    TransformNodeConfig: {"code": "$.items"},
    ConditionNodeConfig: {},
    AINodeConfig: {"model": "gpt-4o-mini", "prompt": "Hello"},
}


def _refused(model: type[BaseModel], data: dict[str, Any]) -> dict[str, str]:
    """Validate ``data`` expecting failure; the errors as {path: message}."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return {
        error_location(tuple(error["loc"])): error["msg"]
        for error in caught.value.errors(include_url=False)
    }


# --- every model ---------------------------------------------------------------------


@pytest.mark.parametrize("model", list(MINIMAL), ids=lambda model: model.__name__)
def test_the_minimal_config_is_accepted(model: type[NodeConfigModel]) -> None:
    # Given the smallest config the type allows
    # When it is validated
    config = model.model_validate(MINIMAL[model])

    # Then it is an instance of the model
    assert isinstance(config, model)


@pytest.mark.parametrize("model", list(MINIMAL), ids=lambda model: model.__name__)
def test_unknown_fields_are_refused(model: type[NodeConfigModel]) -> None:
    # Given a minimal config with a field the type does not have
    data = {**MINIMAL[model], "timeoutSeconds": 5}

    # When it is validated
    errors = _refused(model, data)

    # Then the unknown field is named
    assert errors == {"timeoutSeconds": "Extra inputs are not permitted"}


@pytest.mark.parametrize("model", list(MINIMAL), ids=lambda model: model.__name__)
def test_configs_dump_camel_case_json_that_validates_back(model: type[NodeConfigModel]) -> None:
    # Given a minimal config
    config = model.model_validate(MINIMAL[model])

    # When it is dumped to JSON and to a dict
    dumped = json.loads(config.model_dump_json())

    # Then every key is the field's camelCase alias, and the JSON validates back equal
    aliases = {field.alias or name for name, field in model.model_fields.items()}
    assert set(dumped) == aliases
    assert set(config.model_dump()) == aliases
    assert all("_" not in key for key in dumped)
    assert model.model_validate(dumped) == config
    assert model.model_validate_json(config.model_dump_json()) == config


@pytest.mark.parametrize("model", list(MINIMAL), ids=lambda model: model.__name__)
def test_configs_are_frozen(model: type[NodeConfigModel]) -> None:
    # Given a validated config
    config = model.model_validate(MINIMAL[model])
    name = next(iter(model.model_fields))

    # When a field is assigned
    # Then it is refused
    with pytest.raises(ValidationError):
        setattr(config, name, None)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None`` or ``list[X]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        for argument in typing.get_args(annotation):
            found = _model_of(argument)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("spec", REGISTRY.specs(), ids=lambda spec: spec.type)
def test_declared_template_and_credential_fields_exist(spec: Any) -> None:
    # Given a spec's template and credential field paths (camelCase, dotted)
    paths = [*spec.template_fields, *(use.path for use in spec.credentials)]

    # When each path is followed through the config model by alias
    for path in paths:
        model: type[BaseModel] | None = spec.config_model
        for part in path.split("."):
            assert model is not None, f"{spec.type}: {path} goes past a plain field"
            by_alias = {field.alias or name: field for name, field in model.model_fields.items()}
            # Then every step is a field of the model
            assert part in by_alias, f"{spec.type}: {path}: no field {part!r}"
            model = _model_of(by_alias[part].annotation)


# --- http ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GETT", "get", "HEAD", "", "OPTIONS"])
def test_http_refuses_a_method_outside_the_seeds_five(method: str) -> None:
    # Given an http config with a method the seed does not list
    data = {"url": "https://x.test", "method": method}

    # When it is validated
    errors = _refused(HTTPNodeConfig, data)

    # Then the method is the one problem
    assert list(errors) == ["method"]
    assert "'GET', 'POST', 'PUT', 'DELETE' or 'PATCH'" in errors["method"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH"])
def test_http_accepts_the_seeds_five_methods(method: str) -> None:
    # Given each method the seed lists
    # When an http config with it is validated
    # Then it is kept
    assert HTTPNodeConfig.model_validate({"url": "u", "method": method}).method == method


@pytest.mark.parametrize("timeout", [0, -1, MAX_TIMEOUT_MS + 1, 10**9])
def test_http_refuses_a_timeout_outside_its_range(timeout: int) -> None:
    # Given an http timeout of zero, negative, or over five minutes
    data = {"url": "https://x.test", "timeout": timeout}

    # When it is validated
    errors = _refused(HTTPNodeConfig, data)

    # Then the timeout is named
    assert list(errors) == ["timeout"]


@pytest.mark.parametrize("timeout", [1, 30_000, MAX_TIMEOUT_MS])
def test_http_accepts_a_timeout_inside_its_range(timeout: int) -> None:
    # Given an http timeout at or inside the limits
    # When it is validated
    config = HTTPNodeConfig.model_validate({"url": "u", "timeout": timeout})

    # Then it is kept, in milliseconds
    assert config.timeout == timeout


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"url": 123}, "url"),
        ({"url": ""}, "url"),
        ({}, "url"),
        ({"url": "u", "timeout": "soon"}, "timeout"),
        ({"url": "u", "timeout": 1.5}, "timeout"),
        ({"url": "u", "headers": ["Accept: */*"]}, "headers"),
        ({"url": "u", "auth": {"type": "oauth", "secretArn": "arn"}}, "auth.type"),
        ({"url": "u", "auth": {"type": "bearer"}}, "auth.secretArn"),
        ({"url": "u", "auth": {"type": "bearer", "secretArn": "a", "token": "x"}}, "auth.token"),
    ],
)
def test_http_refuses_wrong_types(data: dict[str, Any], path: str) -> None:
    # Given an http config with one field of the wrong type or shape
    # When it is validated
    errors = _refused(HTTPNodeConfig, data)

    # Then that field (camelCase path) is the problem
    assert list(errors) == [path]


def test_http_reads_camel_case_auth_and_writes_it_back() -> None:
    # Given an http config with apiKey auth, written in camelCase
    data = {
        "method": "POST",
        "url": "https://api.example.com/v1/items",
        "headers": {"Accept": "application/json"},
        "body": {"name": "{{ input.name }}"},
        "auth": {"type": "apiKey", "secretArn": "arn:aws:secret:1", "headerName": "X-Token"},
        "timeout": 5000,
    }

    # When it is validated and dumped again
    config = HTTPNodeConfig.model_validate(data)
    dumped = json.loads(config.model_dump_json())

    # Then the attributes are set and the JSON is the input
    assert config.auth == HTTPAuth(
        type="apiKey", secret_arn="arn:aws:secret:1", header_name="X-Token"
    )
    assert dumped == data


def test_http_auth_header_defaults_to_x_api_key() -> None:
    # Given apiKey auth without a header name
    # When it is validated
    auth = HTTPAuth.model_validate({"type": "apiKey", "secretArn": "arn"})

    # Then the header is X-API-Key
    assert auth.header_name == "X-API-Key"
    assert auth.model_dump() == {"type": "apiKey", "secretArn": "arn", "headerName": "X-API-Key"}


def test_snake_case_names_are_accepted_too() -> None:
    # Given config written with Python attribute names
    # When it is validated
    auth = HTTPAuth.model_validate({"type": "bearer", "secret_arn": "arn"})

    # Then they are read (populate_by_name), and dumps still use camelCase
    assert auth.secret_arn == "arn"
    assert "secretArn" in auth.model_dump()


# --- transform -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"code": "x", "language": "python"}, "language"),
        ({"code": ""}, "code"),
        ({"code": 42}, "code"),
        ({"code": "x", "timeout": 60_001}, "timeout"),
        ({"code": "x", "timeout": 0}, "timeout"),
    ],
)
def test_transform_refuses_bad_fields(data: dict[str, Any], path: str) -> None:
    # Given a transform config with one bad field
    # When it is validated
    errors = _refused(TransformNodeConfig, data)

    # Then that field is named
    assert list(errors) == [path]


def test_transform_defaults_to_jsonata() -> None:
    # Given a transform config with code only
    # When it is validated
    config = TransformNodeConfig.model_validate({"code": "$.a"})

    # Then the language is JSONata and there is no timeout
    assert (config.language, config.timeout) == ("jsonata", None)


# --- ai --------------------------------------------------------------------------------


def test_ai_reads_and_writes_camel_case() -> None:
    # Given an AI config with every camelCase field
    data = {
        "provider": "anthropic",
        "model": "claude-3-5-haiku",
        "prompt": "Summarise {{ input }}",
        "systemPrompt": "Be brief.",
        "temperature": 0.2,
        "maxTokens": 512,
        "stream": True,
        "secretArn": "arn:aws:secret:ai",
        "baseUrl": None,
    }

    # When it is validated and dumped
    config = AINodeConfig.model_validate(data)

    # Then the attributes are set and the dump is the input
    assert (config.system_prompt, config.max_tokens, config.secret_arn) == (
        "Be brief.",
        512,
        "arn:aws:secret:ai",
    )
    assert json.loads(config.model_dump_json()) == data


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"provider": "mistral"}, "provider"),
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"maxTokens": 0}, "maxTokens"),
        ({"maxTokens": "many"}, "maxTokens"),
        ({"model": ""}, "model"),
        ({"prompt": None}, "prompt"),
    ],
)
def test_ai_refuses_bad_fields(extra: dict[str, Any], path: str) -> None:
    # Given an AI config with one bad field
    data = {**MINIMAL[AINodeConfig], **extra}

    # When it is validated
    errors = _refused(AINodeConfig, data)

    # Then that field is named
    assert list(errors) == [path]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_ai_accepts_the_three_providers(provider: str) -> None:
    # Given each supported provider
    # When a config with it is validated
    # Then it is kept
    config = AINodeConfig.model_validate({**MINIMAL[AINodeConfig], "provider": provider})
    assert config.provider == provider


# --- condition -------------------------------------------------------------------------


def test_condition_branches_are_in_rule_order_then_default_without_repeats() -> None:
    # Given rules for 'vip', 'bulk', 'vip' again, and default 'other'
    config = ConditionNodeConfig.model_validate(
        {
            "conditions": [
                {"field": "{{ input.tier }}", "operator": "eq", "value": "gold", "branch": "vip"},
                {"field": "{{ input.qty }}", "operator": "gt", "value": 100, "branch": "bulk"},
                {"field": "{{ input.tier }}", "operator": "eq", "value": "plat", "branch": "vip"},
            ],
            "defaultBranch": "other",
        }
    )

    # When its branches are listed
    # Then each appears once, in first-use order, default last
    assert config.branches() == ["vip", "bulk", "other"]


def test_condition_default_branch_is_named_default() -> None:
    # Given a condition with no rules and no default named
    # When it is validated
    config = ConditionNodeConfig.model_validate({})

    # Then its one branch is 'default', dumped as defaultBranch
    assert config.branches() == ["default"]
    assert config.model_dump() == {"conditions": [], "defaultBranch": "default"}


def test_a_default_branch_that_is_also_a_rule_branch_is_listed_once() -> None:
    # Given a rule whose branch is the default branch
    config = ConditionNodeConfig.model_validate(
        {
            "conditions": [{"field": "a", "operator": "eq", "branch": "main"}],
            "defaultBranch": "main",
        }
    )

    # When its branches are listed
    # Then 'main' appears once
    assert config.branches() == ["main"]


@pytest.mark.parametrize(
    ("rule", "path"),
    [
        ({"field": "a", "operator": "like", "branch": "b"}, "conditions[0].operator"),
        ({"field": "a", "operator": "matches", "value": 5, "branch": "b"}, "conditions[0]"),
        ({"field": "a", "operator": "eq", "branch": ""}, "conditions[0].branch"),
        ({"field": "a", "operator": "eq"}, "conditions[0].branch"),
        ({"field": "a", "operator": "eq", "branch": "b", "negate": True}, "conditions[0].negate"),
    ],
)
def test_condition_refuses_bad_rules(rule: dict[str, Any], path: str) -> None:
    # Given a condition with one bad rule
    # When it is validated
    errors = _refused(ConditionNodeConfig, {"conditions": [rule]})

    # Then the rule's field is named by index
    assert list(errors) == [path]


@pytest.mark.parametrize("operator", ["eq", "ne", "gt", "lt", "contains", "matches"])
def test_condition_accepts_the_seeds_operators(operator: str) -> None:
    # Given each operator the seed lists
    value: Any = "^a$" if operator == "matches" else [1, {"x": None}]
    rule = {"field": "a", "operator": operator, "value": value, "branch": "b"}

    # When it is validated
    config = ConditionNodeConfig.model_validate({"conditions": [rule]})

    # Then the rule keeps it, and any JSON value
    assert config.conditions[0].operator == operator
    assert config.conditions[0].value == value


def test_condition_refuses_more_than_the_maximum_rules() -> None:
    # Given one rule more than allowed
    rule = {"field": "a", "operator": "eq", "branch": "b"}

    # When it is validated
    errors = _refused(ConditionNodeConfig, {"conditions": [rule] * (MAX_RULES + 1)})

    # Then the list is refused as too long
    assert list(errors) == ["conditions"]


def test_condition_refuses_an_empty_default_branch() -> None:
    # Given an empty default branch name
    # When it is validated
    errors = _refused(ConditionNodeConfig, {"defaultBranch": ""})

    # Then defaultBranch (camelCase) is named
    assert list(errors) == ["defaultBranch"]


# --- trigger ---------------------------------------------------------------------------


def test_trigger_reads_and_writes_camel_case() -> None:
    # Given a manual trigger with a sample payload
    data = {"source": "manual", "samplePayload": {"order": {"id": 7, "total": 120.5}}}

    # When it is validated and dumped
    config = TriggerNodeConfig.model_validate(data)

    # Then the payload is kept and the dump is the input (plus the webhook defaults)
    assert config.sample_payload == {"order": {"id": 7, "total": 120.5}}
    assert config.model_dump(exclude_defaults=True) == data


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"source": "cron"}, "source"),
        ({"samplePayload": ["not", "an", "object"]}, "samplePayload"),
    ],
)
def test_trigger_refuses_bad_fields(data: dict[str, Any], path: str) -> None:
    # Given a trigger config with one bad field
    # When it is validated
    errors = _refused(TriggerNodeConfig, data)

    # Then that field is named
    assert list(errors) == [path]
