"""The explicit list of node types. Adding a node type means adding it here.

Node types from elsewhere (an operator's own package) register themselves when the
modules named in ``WORKFUSE_NODE_MODULES`` are imported, which happens the first time
the registry is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workfuse.nodes import ai, condition, http, transform, trigger
from workfuse.nodes.base import NodeSpec
from workfuse.settings import get_settings

DEFAULT_VERSION = 1  #: the version of a stored node that does not say (``typeVersion``)


class UnknownNodeType(KeyError):
    """No node type of that name (or no such version of it) is registered."""


class NodeRegistry:
    """Node types by name and version, in registration order.

    Registering a (type, version) twice is an error; ``get`` without a version gives
    the newest one, which is what a new node is created with.
    """

    def __init__(
        self,
        specs: Iterable[NodeSpec] = (),
        extra_modules: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        """``extra_modules`` names modules to import before the registry is first read
        (each registers its own types); read lazily, so that importing the registry
        does not read the settings."""
        self._versions: dict[str, dict[int, NodeSpec]] = {}
        self._extra_modules = extra_modules
        for spec in specs:
            self.register(spec)

    def _load_extra_modules(self) -> None:
        if self._extra_modules is not None:
            names, self._extra_modules = self._extra_modules(), None
            for name in names:
                importlib.import_module(name)

    def register(self, spec: NodeSpec) -> NodeSpec:
        versions = self._versions.setdefault(spec.type, {})
        if spec.version in versions:
            raise ValueError(f"node type {spec.type!r} version {spec.version} is registered twice")
        versions[spec.version] = spec
        self._versions[spec.type] = dict(sorted(versions.items()))
        return spec

    def get(self, node_type: str, version: int | None = None) -> NodeSpec:
        """The spec of ``node_type`` at ``version`` (the newest when ``None``)."""
        self._load_extra_modules()
        versions = self._versions.get(node_type) if isinstance(node_type, str) else None
        if not versions:
            raise UnknownNodeType(node_type)
        if version is None:
            return versions[max(versions)]
        try:
            return versions[version]
        except KeyError:
            raise UnknownNodeType(node_type) from None

    def spec_of(self, node: Mapping[str, Any]) -> NodeSpec | None:
        """The type of a stored node (raw JSON) at its ``typeVersion`` (1 when absent),
        or ``None`` if this server does not have it."""
        version = node.get("typeVersion")
        try:
            return self.get(
                str(node.get("type", "")), version if isinstance(version, int) else DEFAULT_VERSION
            )
        except UnknownNodeType:
            return None

    def versions(self, node_type: str) -> list[int]:
        """The registered versions of ``node_type``, oldest first (empty if unknown)."""
        self._load_extra_modules()
        return list(self._versions.get(node_type, {}))

    def __contains__(self, node_type: object) -> bool:
        self._load_extra_modules()
        return isinstance(node_type, str) and node_type in self._versions

    def types(self) -> list[str]:
        self._load_extra_modules()
        return list(self._versions)

    def specs(self) -> list[NodeSpec]:
        """The newest version of every type, in registration order."""
        return [self.get(node_type) for node_type in self.types()]

    def trigger_types(self) -> frozenset[str]:
        """The types whose nodes start a run."""
        return frozenset(spec.type for spec in self.specs() if spec.trigger)

    def default_trigger(self) -> NodeSpec:
        """The trigger a new workflow starts with: the first registered one."""
        return next(spec for spec in self.specs() if spec.trigger)

    def trigger_node(self, nodes: Iterable[Any]) -> Mapping[str, Any] | None:
        """The first trigger node among a stored graph's ``nodes`` (raw JSON), if any."""
        triggers = self.trigger_types()
        return next(
            (node for node in nodes if isinstance(node, dict) and node.get("type") in triggers),
            None,
        )

    def unregister(self, node_type: str, version: int | None = None) -> None:
        """Forget a type (or one version of it): for tests that register their own."""
        if version is None:
            self._versions.pop(node_type, None)
        else:
            self._versions.get(node_type, {}).pop(version, None)
            if not self._versions.get(node_type, True):
                del self._versions[node_type]


#: The node types that come with WorkFuse, in palette order.
BUILT_IN: tuple[NodeSpec, ...] = (trigger.SPEC, http.SPEC, transform.SPEC, condition.SPEC, ai.SPEC)

REGISTRY = NodeRegistry(
    BUILT_IN,
    extra_modules=lambda: get_settings().node_modules,
)
