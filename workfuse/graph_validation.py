"""``validateGraph`` from the seed: every problem at once, each tied to a node or edge.

Limits: at most :data:`MAX_NODES` nodes and :data:`MAX_EDGES` edges; a larger graph
gets one ``GRAPH_TOO_LARGE`` error and no further checks (they would cost seconds).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx
from pydantic import BaseModel, ValidationError

from workfuse.graph import (
    GraphParseError,
    IssueCode,
    Severity,
    ValidationIssue,
    ValidationResult,
    WorkflowGraph,
    error_location,
    parse_graph,
)
from workfuse.nodes.condition import ConditionNodeConfig
from workfuse.nodes.registry import REGISTRY, NodeRegistry

MAX_NODES = 5_000
MAX_EDGES = 20_000
TRIGGER_TYPE = "trigger"


def validate_graph(graph: WorkflowGraph, registry: NodeRegistry = REGISTRY) -> ValidationResult:
    """Check the seed's rules and WorkFuse's own; never raises for a bad graph."""
    return _Validator(graph, registry).run()


def check_graph_data(
    data: Any, registry: NodeRegistry = REGISTRY
) -> tuple[WorkflowGraph | None, ValidationResult]:
    """Parse and validate raw JSON-like data; the graph is ``None`` if it did not parse."""
    try:
        graph = parse_graph(data)
    except GraphParseError as error:
        return None, ValidationResult(errors=error.issues)
    return graph, validate_graph(graph, registry)


def execution_order(graph: WorkflowGraph) -> list[str]:
    """Node ids in a deterministic topological order (ties broken by position in the list).

    Raises ``networkx.NetworkXUnfeasible`` if the graph has a cycle; validate first.
    """
    index = {node.id: position for position, node in enumerate(graph.nodes)}
    return list(nx.lexicographical_topological_sort(build_digraph(graph), key=index.__getitem__))


def build_digraph(graph: WorkflowGraph) -> nx.DiGraph:
    """The graph as networkx sees it: nodes by id, edges whose endpoints both exist."""
    digraph: nx.DiGraph = nx.DiGraph()
    digraph.add_nodes_from(node.id for node in graph.nodes)
    digraph.add_edges_from(
        (edge.source, edge.target)
        for edge in graph.edges
        if edge.source in digraph and edge.target in digraph
    )
    return digraph


def parse_config(node_type: str, config: dict[str, Any], registry: NodeRegistry = REGISTRY) -> BaseModel:
    """A node's typed config (raises ``pydantic.ValidationError`` if it does not match)."""
    return registry.get(node_type).config_model.model_validate(config)


class _Validator:
    def __init__(self, graph: WorkflowGraph, registry: NodeRegistry) -> None:
        self.graph = graph
        self.registry = registry
        self.issues: list[ValidationIssue] = []
        self.configs: dict[str, BaseModel] = {}

    def add(self, code: IssueCode, message: str, **where: Any) -> None:
        severity = Severity.WARNING if code is IssueCode.UNREACHABLE_NODE else Severity.ERROR
        self.issues.append(ValidationIssue(code=code, message=message, severity=severity, **where))

    def run(self) -> ValidationResult:
        if not self._check_size():
            self._check_ids()
            self._check_nodes()
            self._check_edges()
            self._check_triggers()
            self._check_branches()
            self._check_structure()
        return ValidationResult(
            errors=[issue for issue in self.issues if issue.severity is Severity.ERROR],
            warnings=[issue for issue in self.issues if issue.severity is Severity.WARNING],
        )

    def _check_size(self) -> bool:
        nodes, edges = len(self.graph.nodes), len(self.graph.edges)
        if nodes > MAX_NODES or edges > MAX_EDGES:
            self.add(
                IssueCode.GRAPH_TOO_LARGE,
                f"the graph has {nodes} nodes and {edges} edges; "
                f"the limits are {MAX_NODES} nodes and {MAX_EDGES} edges",
            )
            return True
        return False

    def _check_ids(self) -> None:
        for node_id, count in Counter(node.id for node in self.graph.nodes).items():
            if count > 1:
                self.add(
                    IssueCode.DUPLICATE_NODE_ID,
                    f"{count} nodes share the id {node_id!r}; node ids must be unique",
                    node_id=node_id,
                )
        for edge_id, count in Counter(edge.id for edge in self.graph.edges).items():
            if count > 1:
                self.add(
                    IssueCode.DUPLICATE_EDGE_ID,
                    f"{count} edges share the id {edge_id!r}; edge ids must be unique",
                    edge_id=edge_id,
                )

    def _check_nodes(self) -> None:
        for node in self.graph.nodes:
            if node.type not in self.registry:
                known = ", ".join(self.registry.types())
                self.add(
                    IssueCode.UNKNOWN_NODE_TYPE,
                    f"node {node.id!r} has the unknown type {node.type!r} (known: {known})",
                    node_id=node.id,
                    field="type",
                )
                continue
            try:
                self.configs[node.id] = parse_config(node.type, node.data.config, self.registry)
            except ValidationError as error:
                for detail in error.errors(include_url=False):
                    field = error_location(tuple(detail["loc"])) or "config"
                    self.add(
                        IssueCode.INVALID_CONFIG,
                        f"node {node.data.label!r} ({node.type}): config.{field}: {detail['msg']}",
                        node_id=node.id,
                        field=f"config.{field}",
                    )

    def _check_edges(self) -> None:
        node_ids = {node.id for node in self.graph.nodes}
        for edge in self.graph.edges:
            if edge.source not in node_ids:
                self.add(
                    IssueCode.EDGE_SOURCE_MISSING,
                    f"edge {edge.id!r} starts at {edge.source!r}, which is not a node",
                    edge_id=edge.id,
                )
            if edge.target not in node_ids:
                self.add(
                    IssueCode.EDGE_TARGET_MISSING,
                    f"edge {edge.id!r} ends at {edge.target!r}, which is not a node",
                    edge_id=edge.id,
                )
            if edge.source == edge.target:
                self.add(
                    IssueCode.SELF_LOOP,
                    f"edge {edge.id!r} connects node {edge.source!r} to itself",
                    edge_id=edge.id,
                    node_id=edge.source,
                )

    def _check_triggers(self) -> None:
        triggers = [node for node in self.graph.nodes if node.type == TRIGGER_TYPE]
        if not triggers:
            self.add(IssueCode.NO_TRIGGER, "the workflow needs exactly one trigger node; it has none")
        for extra in triggers[1:]:
            self.add(
                IssueCode.MULTIPLE_TRIGGERS,
                f"the workflow needs exactly one trigger node; {extra.id!r} is trigger number "
                f"{triggers.index(extra) + 1} of {len(triggers)}",
                node_id=extra.id,
            )
        trigger_ids = {node.id for node in triggers}
        for edge in self.graph.edges:
            if edge.target in trigger_ids and edge.source != edge.target:
                self.add(
                    IssueCode.TRIGGER_HAS_INCOMING_EDGE,
                    f"edge {edge.id!r} leads into the trigger {edge.target!r}; "
                    "a trigger starts the run and takes no input",
                    edge_id=edge.id,
                    node_id=edge.target,
                )

    def _check_branches(self) -> None:
        outgoing: dict[str, list[Any]] = {}
        for edge in self.graph.edges:
            outgoing.setdefault(edge.source, []).append(edge)
        for node_id, config in self.configs.items():
            if not isinstance(config, ConditionNodeConfig):
                continue
            branches = config.branches()
            edges = outgoing.get(node_id, [])
            for edge in edges:
                if edge.source_handle not in branches:
                    handle = "no branch" if edge.source_handle is None else repr(edge.source_handle)
                    self.add(
                        IssueCode.UNKNOWN_BRANCH_HANDLE,
                        f"edge {edge.id!r} leaves condition {node_id!r} through {handle}; "
                        f"its branches are {', '.join(branches)}",
                        edge_id=edge.id,
                        node_id=node_id,
                    )
            used = {edge.source_handle for edge in edges}
            for branch in branches:
                if branch not in used:
                    self.add(
                        IssueCode.BRANCH_WITHOUT_EDGE,
                        f"branch {branch!r} of condition {node_id!r} is not connected to any node",
                        node_id=node_id,
                        field=f"branch:{branch}",
                    )

    def _check_structure(self) -> None:
        digraph = build_digraph(self.graph)
        digraph.remove_edges_from(list(nx.selfloop_edges(digraph)))
        if not nx.is_directed_acyclic_graph(digraph):
            for component in nx.strongly_connected_components(digraph):
                if len(component) < 2:
                    continue
                cycle = [source for source, _ in nx.find_cycle(digraph.subgraph(component))]
                path = " → ".join([*cycle, cycle[0]])
                for node_id in cycle:
                    self.add(
                        IssueCode.CYCLE,
                        f"nodes form a cycle: {path}; a workflow must be acyclic",
                        node_id=node_id,
                    )
        triggers = [node.id for node in self.graph.nodes if node.type == TRIGGER_TYPE]
        if len(triggers) == 1:
            reachable = nx.descendants(digraph, triggers[0]) | {triggers[0]}
            for node in self.graph.nodes:
                if node.id not in reachable:
                    self.add(
                        IssueCode.UNREACHABLE_NODE,
                        f"node {node.data.label!r} cannot be reached from the trigger; it will never run",
                        node_id=node.id,
                    )
