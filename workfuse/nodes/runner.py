"""Running one node: render its templates, check its config, call its executor.

This is the seed's ``resolveTemplates`` + ``executeNode`` for a single step; the
engine decides when, and stores what comes back.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from workfuse.graph import error_location
from workfuse.nodes.base import NodeConfigModel, NodeSpec
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.registry import REGISTRY, NodeRegistry
from workfuse.templating import TemplateError, render_limits, render_value


def resolve_templates(
    spec: NodeSpec, config: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """A copy of ``config`` with every declared template field rendered, all of them
    within one render's limits (time, memory: see :mod:`workfuse.templating`)."""
    resolved = copy.deepcopy(dict(config))
    with render_limits():
        for path in spec.template_fields:
            try:
                _render_path(resolved, path.split("."), context)
            except TemplateError as error:
                raise ExecutionError(
                    f"template in config.{path}: {error}", code="TEMPLATE_ERROR"
                ) from None
    return resolved


def _render_path(container: Any, keys: list[str], context: Mapping[str, Any]) -> None:
    """Render ``container[keys[0]]...`` in place; lists on the way are walked item by item."""
    if isinstance(container, list):
        for item in container:
            _render_path(item, keys, context)
    elif isinstance(container, dict) and keys[0] in container:
        if len(keys) == 1:
            container[keys[0]] = render_value(container[keys[0]], context)
        else:
            _render_path(container[keys[0]], keys[1:], context)


def prepare_config(
    spec: NodeSpec, config: Mapping[str, Any], context: NodeContext
) -> NodeConfigModel:
    """The node's typed config with its templates rendered (``ExecutionError`` if a
    template fails or the rendered config does not fit the type's model)."""
    resolved = resolve_templates(spec, config, context.template_context())
    try:
        return spec.config_model.model_validate(resolved)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = error_location(tuple(first["loc"])) or "config"
        raise ExecutionError(
            f"config.{where} after templates: {first['msg']}", code="CONFIG_INVALID"
        ) from None


async def run_node(
    node_type: str,
    config: Mapping[str, Any],
    context: NodeContext,
    registry: NodeRegistry = REGISTRY,
) -> dict[str, Any]:
    """Execute one node and return its output as JSON-ready data (camelCase keys)."""
    spec = registry.get(node_type)
    output = await spec.execute(prepare_config(spec, config, context), context)
    return output.model_dump(mode="json", by_alias=True)
