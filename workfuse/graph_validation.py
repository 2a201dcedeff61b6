"""``validateGraph`` from the seed: every problem at once, each tied to a node or edge.

Limits: at most :data:`MAX_NODES` nodes and :data:`MAX_EDGES` edges; a larger graph
gets one ``GRAPH_TOO_LARGE`` error and no further checks (they would cost seconds).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from workfuse.db_types import MAX_JSON_DEPTH, json_too_deep
from workfuse.graph import (
    GraphParseError,
    IssueCode,
    Severity,
    ValidationIssue,
    ValidationResult,
    WorkflowEdge,
    WorkflowGraph,
    WorkflowNode,
    error_location,
    parse_graph,
)
from workfuse.nodes.base import NodeSpec
from workfuse.nodes.registry import REGISTRY, NodeRegistry, UnknownNodeType

if TYPE_CHECKING:
    import networkx as nx
from workfuse.templating import TemplateProblem, validate_template

MAX_NODES = 5_000
MAX_EDGES = 20_000
MAX_CYCLE_IN_MESSAGE = 20  #: nodes of a cycle named in its message


def validate_graph(graph: WorkflowGraph, registry: NodeRegistry = REGISTRY) -> ValidationResult:
    """Check the seed's rules and WorkFuse's own; never raises for a bad graph."""
    return _Validator(graph, registry).run()


def check_graph_data(
    data: Any, registry: NodeRegistry = REGISTRY
) -> tuple[WorkflowGraph | None, ValidationResult]:
    """Parse and validate raw JSON-like data; the graph is ``None`` if it did not parse.

    Data with too many nodes or edges is refused before parsing (which would cost
    seconds for a huge payload, and would hide the size behind format errors). A node
    config nested more than ``MAX_JSON_DEPTH`` levels deep is a format error too.
    """
    if isinstance(data, dict):
        nodes, edges = data.get("nodes"), data.get("edges")
        too_large = _size_issue(
            len(nodes) if isinstance(nodes, list) else 0,
            len(edges) if isinstance(edges, list) else 0,
        )
        if too_large is not None:
            return None, ValidationResult(errors=[too_large])
    try:
        graph = parse_graph(data)
    except GraphParseError as error:
        return None, ValidationResult(errors=error.issues)
    # Configs are the only free-form part: one nested deeper than responses can
    # serialize is refused with the data, never stored.
    too_deep = [
        ValidationIssue(
            code=IssueCode.INVALID_FORMAT,
            message=f"node {node.id!r}: its config is nested more than {MAX_JSON_DEPTH} "
            "levels deep",
            node_id=node.id,
            field="data.config",
        )
        for node in graph.nodes
        if json_too_deep(node.data.config)
    ]
    if too_deep:
        return None, ValidationResult(errors=too_deep)
    return graph, validate_graph(graph, registry)


def _size_issue(nodes: int, edges: int) -> ValidationIssue | None:
    """The ``GRAPH_TOO_LARGE`` error for a graph of that size, if it is over a limit."""
    if nodes <= MAX_NODES and edges <= MAX_EDGES:
        return None
    return ValidationIssue(
        code=IssueCode.GRAPH_TOO_LARGE,
        message=f"the graph has {nodes} nodes and {edges} edges; "
        f"the limits are {MAX_NODES} nodes and {MAX_EDGES} edges",
    )


def execution_order(graph: WorkflowGraph) -> list[str]:
    """Node ids in a deterministic topological order (ties broken by position in the list).

    Raises ``networkx.NetworkXUnfeasible`` if the graph has a cycle; validate first.
    The result is ``networkx.lexicographical_topological_sort`` of :func:`build_digraph`
    keyed by list position, computed on plain lists (networkx needs about 4x longer).
    """
    ids, successors = _adjacency(graph)
    order = _topological_order(successors)
    if len(order) < len(successors):
        import networkx as nx  # only here and for cycle reports: it costs about 20 MB

        raise nx.NetworkXUnfeasible("Graph contains a cycle or graph changed during iteration")
    return [node_id for node_id in map(ids.__getitem__, order) if node_id is not None]


def build_digraph(graph: WorkflowGraph) -> nx.DiGraph[str]:
    """The graph as networkx sees it: nodes by id, edges whose endpoints both exist."""
    import networkx as nx

    digraph: nx.DiGraph[str] = nx.DiGraph()
    digraph.add_nodes_from(node.id for node in graph.nodes)
    digraph.add_edges_from(
        (edge.source, edge.target)
        for edge in graph.edges
        if edge.source in digraph and edge.target in digraph
    )
    return digraph


def _adjacency(graph: WorkflowGraph) -> tuple[list[str | None], list[list[int]]]:
    """The edges of :func:`build_digraph` as successor lists over node-list positions.

    A node id stands for the position of its last occurrence in the list (the key
    :func:`execution_order` sorts by); ``ids[position]`` is that id, or ``None`` at the
    earlier positions of a repeated id (which get no edges).
    """
    position = {node.id: index for index, node in enumerate(graph.nodes)}
    ids: list[str | None] = [None] * len(graph.nodes)
    for node_id, index in position.items():
        ids[index] = node_id
    successors: list[list[int]] = [[] for _ in graph.nodes]
    get = position.get
    for edge in graph.edges:
        source, target = get(edge.source), get(edge.target)
        if source is not None and target is not None:
            successors[source].append(target)
    return ids, successors


def _topological_order(successors: list[list[int]]) -> list[int]:
    """Kahn's algorithm, smallest position first; shorter than the graph if it has a cycle."""
    indegree = [0] * len(successors)
    for targets in successors:
        for target in targets:
            indegree[target] += 1
    ready = [index for index, degree in enumerate(indegree) if degree == 0]  # sorted: a heap
    order: list[int] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for target in successors[node]:
            indegree[target] -= 1
            if not indegree[target]:
                heapq.heappush(ready, target)
    return order


def parse_config(
    node_type: str, config: dict[str, Any], registry: NodeRegistry = REGISTRY
) -> BaseModel:
    """A node's typed config at the newest version of its type (raises
    ``pydantic.ValidationError`` if it does not match)."""
    return registry.get(node_type).config_model.model_validate(config)


def _template_sources(value: Any, keys: list[str], prefix: str) -> Iterator[tuple[str, str]]:
    """``(field path, template)`` for each string under the dotted ``keys`` of a raw
    config; lists on the way are walked item by item, and a dict or list at the end
    yields every string inside it (a JSON body, a headers dict)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _template_sources(item, keys, f"{prefix}{index}.")
    elif keys:
        if isinstance(value, dict) and keys[0] in value:
            yield from _template_sources(value[keys[0]], keys[1:], f"{prefix}{keys[0]}.")
    elif isinstance(value, str):
        yield prefix.rstrip("."), value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _template_sources(item, [], f"{prefix}{key}.")


class _Validator:
    def __init__(self, graph: WorkflowGraph, registry: NodeRegistry) -> None:
        self.graph = graph
        self.registry = registry
        self.issues: list[ValidationIssue] = []
        # The output handles of each node whose handles come from its config (a
        # condition's branches), by node id; None where that config did not parse.
        self.derived_handles: dict[str, list[str] | None] = {}
        # Computed once, shared by the checks: a node id's (last) position in the list,
        # and the trigger nodes.
        self.position: dict[str, int] = {}
        self.triggers: list[WorkflowNode] = []
        # Successor positions by node position (as in ``_adjacency``, without self-loops).
        self.successors: list[list[int]] = []
        # validate_template's findings by template source, for this graph's node ids.
        self.template_problems: dict[str, list[TemplateProblem]] = {}

    def add(self, code: IssueCode, message: str, **where: Any) -> None:
        severity = Severity.WARNING if code is IssueCode.UNREACHABLE_NODE else Severity.ERROR
        self.issues.append(ValidationIssue(code=code, message=message, severity=severity, **where))

    def run(self) -> ValidationResult:
        if not self._check_size():
            self.position = {node.id: index for index, node in enumerate(self.graph.nodes)}
            trigger_types = self.registry.trigger_types()
            self.triggers = [node for node in self.graph.nodes if node.type in trigger_types]
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
        too_large = _size_issue(len(self.graph.nodes), len(self.graph.edges))
        if too_large is not None:
            self.issues.append(too_large)
        return too_large is not None

    def _check_ids(self) -> None:
        nodes, edges = self.graph.nodes, self.graph.edges
        if len(self.position) < len(nodes):  # counting only when some id repeats
            for node_id, count in Counter(node.id for node in nodes).items():
                if count > 1:
                    self.add(
                        IssueCode.DUPLICATE_NODE_ID,
                        f"{count} nodes share the id {node_id!r}; node ids must be unique",
                        node_id=node_id,
                    )
        if len({edge.id for edge in edges}) < len(edges):
            for edge_id, count in Counter(edge.id for edge in edges).items():
                if count > 1:
                    self.add(
                        IssueCode.DUPLICATE_EDGE_ID,
                        f"{count} edges share the id {edge_id!r}; edge ids must be unique",
                        edge_id=edge_id,
                    )

    def _spec(self, node: WorkflowNode) -> NodeSpec | None:
        """The node's type at its version, or ``None`` after reporting it unknown."""
        try:
            return self.registry.get(node.type, node.version)
        except UnknownNodeType:
            pass
        if node.type in self.registry:
            versions = ", ".join(str(v) for v in self.registry.versions(node.type))
            message = (
                f"node {node.id!r} has version {node.version} of type {node.type!r}, "
                f"which this server does not have (it has: {versions})"
            )
        else:
            known = ", ".join(self.registry.types())
            message = f"node {node.id!r} has the unknown type {node.type!r} (known: {known})"
        self.add(IssueCode.UNKNOWN_NODE_TYPE, message, node_id=node.id, field="type")
        return None

    def _check_nodes(self) -> None:
        known_nodes = frozenset(self.position)
        for node in self.graph.nodes:
            spec = self._spec(node)
            if spec is None:
                continue
            try:
                # The validator itself: ``model_validate`` adds about 1 µs per call.
                config = spec.config_model.__pydantic_validator__.validate_python(node.data.config)
            except ValidationError as error:
                for detail in error.errors(include_url=False):
                    field = error_location(tuple(detail["loc"])) or "config"
                    self._config_issue(IssueCode.INVALID_CONFIG, node, field, detail["msg"])
                continue
            self._check_templates(node, spec, known_nodes)
            for problem in spec.check_config(config) if spec.check_config else ():
                self._config_issue(IssueCode.INVALID_CONFIG, node, problem.field, problem.message)
            # Parsed configs are dropped at once (thousands of live models would make
            # the garbage collector scan them). Of a repeated id, the last node counts.
            self.derived_handles[node.id] = (
                spec.handles(node.data.config) if spec.handles_of is not None else None
            )

    def _config_issue(self, code: IssueCode, node: WorkflowNode, field: str, message: str) -> None:
        self.add(
            code,
            f"node {node.id!r} ({node.data.label!r}, {node.type}): config.{field}: {message}",
            node_id=node.id,
            field=f"config.{field}",
        )

    def _check_templates(
        self, node: WorkflowNode, spec: NodeSpec, known_nodes: frozenset[str]
    ) -> None:
        """Syntax errors (line, column), unknown names and unknown node ids in templates."""
        for path in spec.template_fields:
            for field, source in _template_sources(node.data.config, path.split("."), ""):
                if "{" not in source:  # no tags, nothing to parse: most fields
                    continue
                problems = self.template_problems.get(source)
                if problems is None:  # a template repeated across the graph is parsed once
                    problems = validate_template(source, known_nodes)
                    self.template_problems[source] = problems
                for problem in problems:
                    where = f"line {problem.line}" if problem.line is not None else ""
                    if problem.column is not None:
                        where += f", column {problem.column}"
                    message = f"{where}: {problem.message}" if where else problem.message
                    self._config_issue(IssueCode.INVALID_TEMPLATE, node, field, message)

    def _check_edges(self) -> None:
        position = self.position
        successors: list[list[int]] = [[] for _ in self.graph.nodes]
        self.successors = successors
        for edge in self.graph.edges:
            source, target = position.get(edge.source), position.get(edge.target)
            if source is None:
                self.add(
                    IssueCode.EDGE_SOURCE_MISSING,
                    f"edge {edge.id!r} starts at {edge.source!r}, which is not a node",
                    edge_id=edge.id,
                )
            if target is None:
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
            elif source is not None and target is not None:
                successors[source].append(target)

    def _check_triggers(self) -> None:
        triggers = self.triggers
        if not triggers:
            self.add(
                IssueCode.NO_TRIGGER, "the workflow needs exactly one trigger node; it has none"
            )
        for number, extra in enumerate(triggers[1:], start=2):
            self.add(
                IssueCode.MULTIPLE_TRIGGERS,
                f"the workflow needs exactly one trigger node; {extra.id!r} is trigger number "
                f"{number} of {len(triggers)}",
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
        """Edges out of a node whose handles come from its config (a condition's
        branches) leave through one of them, and each of them has an edge."""
        derived = {
            node_id: handles
            for node_id, handles in self.derived_handles.items()
            if handles is not None
        }
        if not derived:
            return
        node_types = {node.id: node.type for node in self.graph.nodes}
        outgoing: dict[str, list[WorkflowEdge]] = {node_id: [] for node_id in derived}
        for edge in self.graph.edges:
            if edge.source in outgoing:
                outgoing[edge.source].append(edge)
        for node_id, branches in derived.items():
            node_type = node_types[node_id]
            edges = outgoing[node_id]
            for edge in edges:
                if edge.source_handle not in branches:
                    handle = "no branch" if edge.source_handle is None else repr(edge.source_handle)
                    self.add(
                        IssueCode.UNKNOWN_BRANCH_HANDLE,
                        f"edge {edge.id!r} leaves {node_type} {node_id!r} through {handle}; "
                        f"its branches are {', '.join(branches)}",
                        edge_id=edge.id,
                        node_id=node_id,
                    )
            used = {edge.source_handle for edge in edges}
            for branch in branches:
                if branch not in used:
                    self.add(
                        IssueCode.BRANCH_WITHOUT_EDGE,
                        f"branch {branch!r} of {node_type} {node_id!r} is not connected to any "
                        "node",
                        node_id=node_id,
                        field=f"branch:{branch}",
                    )

    def _check_structure(self) -> None:
        successors = self.successors
        if len(_topological_order(successors)) < len(successors):
            self._report_cycles()
        if len(self.triggers) == 1:
            position = self.position
            start = position[self.triggers[0].id]
            reachable = {start}
            pending = [start]
            while pending:
                for target in successors[pending.pop()]:
                    if target not in reachable:
                        reachable.add(target)
                        pending.append(target)
            if len(reachable) == len(position):  # every node id is reachable
                return
            for node in self.graph.nodes:
                if position[node.id] not in reachable:
                    self.add(
                        IssueCode.UNREACHABLE_NODE,
                        f"node {node.id!r} ({node.data.label!r}) cannot be reached from the "
                        "trigger; it will never run",
                        node_id=node.id,
                    )

    def _report_cycles(self) -> None:
        import networkx as nx

        digraph = build_digraph(self.graph)
        digraph.remove_edges_from(list(nx.selfloop_edges(digraph)))
        for component in nx.strongly_connected_components(digraph):
            if len(component) < 2:
                continue
            # A copy in node-list order: a subgraph view would walk the component set,
            # whose order (and so the cycle named) changes from run to run.
            members = sorted(component, key=self.position.__getitem__)
            cyclic: nx.DiGraph[str] = nx.DiGraph()
            cyclic.add_nodes_from(members)
            cyclic.add_edges_from(
                (source, target)
                for source in members
                for target in digraph.successors(source)
                if target in component
            )
            cycle = [source for source, _ in nx.find_cycle(cyclic)]
            shown = cycle[:MAX_CYCLE_IN_MESSAGE]
            if len(cycle) > len(shown):  # each node's message repeats the path: keep it short
                shown = [*shown, f"… ({len(cycle) - len(shown)} more)"]
            path = " → ".join([*shown, cycle[0]])
            for node_id in cycle:
                self.add(
                    IssueCode.CYCLE,
                    f"nodes form a cycle: {path}; a workflow must be acyclic",
                    node_id=node_id,
                )
