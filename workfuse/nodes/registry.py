"""The explicit list of node types. Adding a node type means adding it here."""

from __future__ import annotations

from collections.abc import Iterable

from workfuse.nodes import ai, condition, http, transform, trigger
from workfuse.nodes.base import NodeSpec


class UnknownNodeType(KeyError):
    """No node type of that name is registered."""


class NodeRegistry:
    """Node types by name; registering a name twice is an error."""

    def __init__(self, specs: Iterable[NodeSpec] = ()) -> None:
        self._specs: dict[str, NodeSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: NodeSpec) -> None:
        if spec.type in self._specs:
            raise ValueError(f"node type {spec.type!r} is registered twice")
        self._specs[spec.type] = spec

    def get(self, node_type: str) -> NodeSpec:
        try:
            return self._specs[node_type]
        except KeyError:
            raise UnknownNodeType(node_type) from None

    def __contains__(self, node_type: object) -> bool:
        return node_type in self._specs

    def types(self) -> list[str]:
        return list(self._specs)

    def specs(self) -> list[NodeSpec]:
        return list(self._specs.values())


REGISTRY = NodeRegistry([trigger.SPEC, http.SPEC, transform.SPEC, condition.SPEC, ai.SPEC])
