"""What an execution runs: its pinned graph, prepared once per workflow version.

A plan is immutable and cached per ``(workflow id, version)`` (a version never
changes once saved), so the parsed graph, the order, the node specs and the wiring
are computed once per process, not per execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from workfuse.caching import BoundedCache
from workfuse.graph import RetryPolicy, WorkflowEdge, WorkflowGraph
from workfuse.graph_validation import execution_order
from workfuse.models import WorkflowVersion
from workfuse.nodes.base import NodeSpec
from workfuse.nodes.registry import REGISTRY

MAX_CACHED_PLANS = 1024


@dataclass(frozen=True)
class NodePlan:
    id: str
    label: str
    spec: NodeSpec
    config: dict[str, Any]
    retry_policy: RetryPolicy | None
    incoming: tuple[WorkflowEdge, ...]
    predecessors: frozenset[str]


@dataclass(frozen=True)
class ExecutionPlan:
    workflow_id: str
    version: int
    order: tuple[str, ...]
    nodes: dict[str, NodePlan]
    secret_arns: frozenset[str]


class PlanNotFound(LookupError):
    """The pinned version of the workflow is gone (the workflow was deleted)."""


_cache: BoundedCache[tuple[str, int], ExecutionPlan] = BoundedCache(MAX_CACHED_PLANS)


def load_plan(session: Session, workflow_id: str, version: int) -> ExecutionPlan:
    key = (workflow_id, version)
    plan = _cache.get(key)
    if plan is not None:
        return plan
    row = session.exec(
        select(WorkflowVersion).where(
            WorkflowVersion.workflow_id == workflow_id, WorkflowVersion.version == version
        )
    ).first()
    if row is None:
        raise PlanNotFound(f"version {version} of workflow {workflow_id} no longer exists")
    graph = WorkflowGraph.model_validate({**row.graph, "name": row.name})
    return _cache.put(key, build_plan(workflow_id, version, graph))


def build_plan(workflow_id: str, version: int, graph: WorkflowGraph) -> ExecutionPlan:
    incoming: dict[str, list[WorkflowEdge]] = {node.id: [] for node in graph.nodes}
    for edge in graph.edges:
        incoming[edge.target].append(edge)
    nodes = {
        node.id: NodePlan(
            id=node.id,
            label=node.data.label,
            spec=REGISTRY.get(node.type, node.version),
            config=node.data.config,
            retry_policy=node.data.retry_policy,
            incoming=tuple(incoming[node.id]),
            predecessors=frozenset(edge.source for edge in incoming[node.id]),
        )
        for node in graph.nodes
    }
    arns = {
        arn
        for node in graph.nodes
        for arn in nodes[node.id].spec.credential_references(node.data.config, run_only=True)
    }
    return ExecutionPlan(
        workflow_id=workflow_id,
        version=version,
        order=tuple(execution_order(graph)),
        nodes=nodes,
        secret_arns=frozenset(arns),
    )
