"""The editor's draft graph: edits as pure functions, and what the canvas draws.

A draft is the stored body of a workflow (``{"nodes": [...], "edges": [...]}``, the
seed's JSON). Functions return a new draft and never mutate their argument, so the
state can compare before and after. Validation is the seed's ``validateGraph``
(:func:`workfuse.graph_validation.check_graph_data`), run on every change.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workfuse.graph import ValidationIssue, ValidationResult
from workfuse.graph_validation import check_graph_data
from workfuse.nodes.base import FALLBACK_COLOUR
from workfuse.nodes.registry import REGISTRY

Draft = dict[str, Any]

NEW_NODE_SPACING = 260  #: px between a new node and the rightmost one


@dataclass
class ProblemRow:
    """A validation problem as the problems list shows it."""

    code: str
    severity: str
    message: str
    node_id: str
    edge_id: str


def empty_draft() -> Draft:
    return {"nodes": [], "edges": []}


def validate(name: str, draft: Draft) -> ValidationResult:
    _, result = check_graph_data({**draft, "name": name or "untitled"})
    return result


def find_node(draft: Draft, node_id: str) -> dict[str, Any] | None:
    return next((node for node in draft["nodes"] if node.get("id") == node_id), None)


def _unique_id(base: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]", "-", base) or "node"
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def add_node(draft: Draft, node_type: str, x: float | None, y: float | None) -> tuple[Draft, str]:
    """A draft with a new node of ``node_type`` (its default config) and the new id.

    Without a position the node goes right of the rightmost node.
    """
    spec = REGISTRY.get(node_type)
    taken = {str(node.get("id")) for node in draft["nodes"]}
    node_id = _unique_id(node_type, taken)
    if x is None or y is None:
        positions = [node.get("position") or {} for node in draft["nodes"]]
        rightmost = max(positions, key=lambda p: p.get("x", 0), default={"x": -NEW_NODE_SPACING})
        x, y = rightmost.get("x", 0) + NEW_NODE_SPACING, rightmost.get("y", 0)
    labels = {str((node.get("data") or {}).get("label")) for node in draft["nodes"]}
    label = spec.label
    number = 2
    while label in labels:
        label, number = f"{spec.label} {number}", number + 1
    node = spec.new_node(node_id, x, y)
    node["data"]["label"] = label
    return {**draft, "nodes": [*draft["nodes"], node]}, node_id


LAYER_SPACING = (260, 110)  #: px between layers (x) and between nodes of a layer (y)


def laid_out(draft: Draft) -> Draft:
    """The draft with positions by layer (left to right, a node right of all its
    sources) when its nodes have none of their own: a graph written by hand or by an
    API client usually leaves every node at (0, 0). A drawn graph comes back as is."""
    spots = {
        (
            float((node.get("position") or {}).get("x", 0)),
            float((node.get("position") or {}).get("y", 0)),
        )
        for node in draft["nodes"]
    }
    if len(draft["nodes"]) < 2 or len(spots) == len(draft["nodes"]):
        return draft
    ids = [str(node.get("id")) for node in draft["nodes"]]
    sources: dict[str, list[str]] = defaultdict(list)
    for edge in draft["edges"]:
        sources[str(edge.get("target"))].append(str(edge.get("source")))
    layer: dict[str, int] = {}
    for _ in ids:  # longest path from a root; at most one pass per node (cycles stop)
        changed = False
        for node_id in ids:
            depth = max((layer.get(source, 0) + 1 for source in sources[node_id]), default=0)
            if layer.get(node_id) != depth and depth <= len(ids):
                layer[node_id], changed = depth, True
        if not changed:
            break
    rows: dict[int, int] = defaultdict(int)
    nodes = []
    for node in draft["nodes"]:
        depth = layer.get(str(node.get("id")), 0)
        position = {"x": depth * LAYER_SPACING[0], "y": rows[depth] * LAYER_SPACING[1]}
        rows[depth] += 1
        nodes.append({**node, "position": position})
    return {**draft, "nodes": nodes}


def replace_node(draft: Draft, updated: dict[str, Any]) -> Draft:
    nodes = [updated if node.get("id") == updated.get("id") else node for node in draft["nodes"]]
    return {**draft, "nodes": nodes}


def move_nodes(draft: Draft, moves: list[dict[str, Any]]) -> Draft:
    """Apply ``[{id, x, y}]`` (the end of a drag); unknown ids are ignored."""
    where = {
        str(move["id"]): {"x": float(move["x"]), "y": float(move["y"])}
        for move in moves
        if isinstance(move, dict) and {"id", "x", "y"} <= move.keys()
    }
    nodes = [
        {**node, "position": where[node["id"]]} if node.get("id") in where else node
        for node in draft["nodes"]
    ]
    return {**draft, "nodes": nodes}


def connect(draft: Draft, source: str, source_handle: str | None, target: str) -> Draft:
    """A draft with an edge ``source[handle] -> target``; a repeat or dangling one is ignored.

    Edges that break a rule (a cycle, into the trigger) are kept and shown as problems,
    as n8n does, so the user sees why rather than a refused gesture.
    """
    ids = {node.get("id") for node in draft["nodes"]}
    if source not in ids or target not in ids:
        return draft
    handle = source_handle or None
    for edge in draft["edges"]:
        if (edge.get("source"), edge.get("sourceHandle"), edge.get("target")) == (
            source,
            handle,
            target,
        ):
            return draft
    taken = {str(edge.get("id")) for edge in draft["edges"]}
    new_edge: dict[str, Any] = {
        "id": _unique_id(f"e-{source}-{handle or 'out'}-{target}", taken),
        "source": source,
        "target": target,
    }
    if handle is not None:
        new_edge["sourceHandle"] = handle
    return {**draft, "edges": [*draft["edges"], new_edge]}


def delete_items(draft: Draft, node_ids: list[str], edge_ids: list[str]) -> Draft:
    """Remove nodes (and every edge touching them) and edges."""
    gone_nodes, gone_edges = set(node_ids), set(edge_ids)
    nodes = [node for node in draft["nodes"] if node.get("id") not in gone_nodes]
    edges = [
        edge
        for edge in draft["edges"]
        if edge.get("id") not in gone_edges
        and edge.get("source") not in gone_nodes
        and edge.get("target") not in gone_nodes
    ]
    return {**draft, "nodes": nodes, "edges": edges}


def with_user_defaults(node: dict[str, Any], defaults: dict[str, str]) -> dict[str, Any]:
    """A copy of a new node whose top-level config fields that ask for a user default
    (``userDefault`` hint, e.g. ``ai.model``) hold the user's value for it, if any."""
    spec = REGISTRY.spec_of(node)
    if spec is None or not defaults:
        return node
    config = dict(node["data"]["config"])
    for name, field_schema in spec.config_schema().get("properties", {}).items():
        wanted = field_schema.get("ui", {}).get("userDefault")
        if wanted in defaults:
            config[name] = defaults[wanted]
    return {**node, "data": {**node["data"], "config": config}}


def output_handles(node: dict[str, Any]) -> list[str]:
    """The node's output handles, as its type declares them (a condition's come from
    its branches); one ``out`` handle for a node of an unknown type."""
    spec = REGISTRY.spec_of(node)
    if spec is None:
        return ["out"]
    config = (node.get("data") or {}).get("config")
    return spec.handles(config if isinstance(config, dict) else {})


def short_message(issue: ValidationIssue) -> str:
    """The message without the "node 'x' (...): config.y: " prefix the list shows anyway."""
    if issue.field and f"{issue.field}: " in issue.message:
        return issue.message.split(f"{issue.field}: ", 1)[1]
    return issue.message


def form_path_of(issue: ValidationIssue) -> str | None:
    """Where in the panel an issue belongs, by path: ``label``, ``retry`` (the retry
    policy), ``config`` (the config as a whole) or ``config.<path>`` with list indexes
    as steps (``config.conditions.0.branch``); ``None`` for an issue about no field of
    the node's data (its type, an edge, a branch)."""
    if not issue.field:
        return None
    # Parse errors say ``nodes[2].data.label`` or ``config.conditions[0].branch``.
    path = re.sub(r"^nodes\[\d+\]\.", "", issue.field)
    parts = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
    if parts[0] == "data" and len(parts) > 1:
        parts = parts[1:]
    if parts[0] == "label":
        return "label"
    if parts[0] == "retryPolicy":
        return "retry"
    if parts[0] != "config":
        return None
    return ".".join(parts)


def form_errors(issues: Iterable[ValidationIssue]) -> dict[str, str]:
    """One node's issues as the panel places them: the first message of each form path
    (see :func:`form_path_of`), without the prefix the path already says."""
    errors: dict[str, str] = {}
    for issue in issues:
        where = form_path_of(issue)
        if where is not None:
            errors.setdefault(where, short_message(issue))
    return errors


def problem_rows(result: ValidationResult) -> list[ProblemRow]:
    return [
        ProblemRow(
            code=issue.code.value,
            severity=issue.severity.value,
            message=issue.message,
            node_id=issue.node_id or "",
            edge_id=issue.edge_id or "",
        )
        for issue in result.issues()
    ]


def canvas_nodes(
    draft: Draft, result: ValidationResult, statuses: dict[str, str], selected: str
) -> list[dict[str, Any]]:
    """What ``canvas.jsx`` draws for each node (no config: the canvas does not need it)."""
    problems: dict[str, list[str]] = defaultdict(list)
    for issue in result.errors:
        if issue.node_id:
            problems[issue.node_id].append(short_message(issue))
    shown = []
    for node in draft["nodes"]:
        node_id = str(node.get("id", ""))
        node_type = str(node.get("type", ""))
        spec = REGISTRY.spec_of(node)
        shown.append(
            {
                "id": node_id,
                "nodeId": node_id,
                "nodeType": node_type,
                "position": node.get("position") or {"x": 0, "y": 0},
                "label": str((node.get("data") or {}).get("label") or node_id),
                "typeLabel": spec.label if spec else f"unknown type {node_type!r}",
                "icon": spec.icon if spec else "",
                "description": spec.description if spec else "",
                "colour": spec.colour if spec else FALLBACK_COLOUR,
                "hasInput": spec is None or spec.inputs > 0,
                "outputs": output_handles(node),
                "problems": problems.get(node_id, []),
                "status": statuses.get(node_id, ""),
                "selected": node_id == selected,
            }
        )
    return shown


def canvas_edges(
    draft: Draft, result: ValidationResult, statuses: dict[str, str], selected: str
) -> list[dict[str, Any]]:
    problems = {issue.edge_id: short_message(issue) for issue in result.errors if issue.edge_id}
    return [
        {
            "id": edge.get("id"),
            "source": edge.get("source"),
            "target": edge.get("target"),
            "sourceHandle": edge.get("sourceHandle"),
            "targetHandle": edge.get("targetHandle"),
            "problem": problems.get(str(edge.get("id")), ""),
            "selected": edge.get("id") == selected,
            "animated": statuses.get(str(edge.get("source"))) == "SUCCEEDED"
            and statuses.get(str(edge.get("target"))) == "RUNNING",
        }
        for edge in draft["edges"]
    ]
