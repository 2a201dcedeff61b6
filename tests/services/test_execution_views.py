"""What the executions pages read: the latest run per workflow, the pinned graph's nodes,
and node runs in the order they ran (skipped nodes where they fall in the graph)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from tests.engine.helpers import edge, jsonata, make_workflow, node, wait_for
from workfuse.db_types import utcnow
from workfuse.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, User, Workflow
from workfuse.services.executions import (
    in_execution_order,
    latest_executions,
    node_runs,
    pinned_nodes,
    start_execution,
)
from workfuse.services.workflows import WorkflowCreate, create_workflow


def _workflow(session: Session, user: User, name: str) -> Workflow:
    graph = {"nodes": [node("start", "trigger", {})], "edges": []}
    workflow = create_workflow(
        session=session, user=user, data=WorkflowCreate(name=name, graph=graph)
    )
    session.commit()
    return workflow


def _execution(session: Session, workflow: Workflow, minutes_ago: int, **fields: Any) -> Execution:
    execution = Execution(
        status=fields.pop("status", ExecutionStatus.COMPLETED),
        trigger_data={},
        workflow_version=workflow.version,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        started_at=utcnow() - timedelta(minutes=minutes_ago),
        **fields,
    )
    session.add(execution)
    session.commit()
    return execution


def test_latest_executions_gives_the_newest_run_of_each_workflow(
    session: Session, user: User, other_user: User
) -> None:
    # Given: two workflows with runs, one that never ran, and another user's workflow
    busy = _workflow(session, user, "Busy")
    quiet = _workflow(session, user, "Quiet")
    never = _workflow(session, user, "Never")
    theirs = _workflow(session, other_user, "Theirs")
    _execution(session, busy, 30)
    newest = _execution(session, busy, 1, status=ExecutionStatus.FAILED)
    _execution(session, busy, 10)
    only = _execution(session, quiet, 5)
    _execution(session, theirs, 0)

    # When: the workflows page asks for the latest runs of all of them
    latest = latest_executions(
        session=session, user=user, workflow_ids=[busy.id, quiet.id, never.id, theirs.id]
    )

    # Then: one per workflow that ran, the newest, and nothing of the other user's
    assert {key: value.id for key, value in latest.items()} == {
        busy.id: newest.id,
        quiet.id: only.id,
    }
    assert latest[busy.id].status is ExecutionStatus.FAILED
    assert latest_executions(session=session, user=user, workflow_ids=[]) == {}


def _run(node_id: str, status: NodeRunStatus, started_s: float | None) -> NodeRun:
    base = utcnow()
    return NodeRun(
        execution_id="x",
        node_id=node_id,
        status=status,
        started_at=None if started_s is None else base + timedelta(seconds=started_s),
    )


def test_in_execution_order_sorts_by_start_and_places_skipped_nodes_in_graph_order() -> None:
    # Given: a graph order a, b, skip, c, late, and runs where c started before b
    runs = [
        _run("late", NodeRunStatus.SKIPPED, None),
        _run("c", NodeRunStatus.SUCCEEDED, 1.0),
        _run("skip", NodeRunStatus.SKIPPED, None),
        _run("b", NodeRunStatus.SUCCEEDED, 2.0),
        _run("a", NodeRunStatus.SUCCEEDED, 0.0),
        _run("stray", NodeRunStatus.SKIPPED, None),
    ]

    # When
    ordered = in_execution_order(runs, ["a", "b", "skip", "c", "late"])

    # Then: by start time, each unstarted node right after its graph predecessor,
    # and a node the graph does not know last
    assert [run.node_id for run in ordered] == ["a", "c", "late", "b", "skip", "stray"]


def test_a_skipped_branch_is_listed_where_it_falls_not_first(
    engine: str, session: Session, user: User
) -> None:
    # Given: a condition that takes the "big" branch, skipping "small"
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node(
                "route",
                "condition",
                {
                    "conditions": [
                        {
                            "field": "{{ trigger.data.total }}",
                            "operator": "gt",
                            "value": 100,
                            "branch": "big",
                        }
                    ],
                    "defaultBranch": "small",
                },
            ),
            jsonata("big", "'big'"),
            jsonata("small", "'small'"),
            jsonata("after", "'after'"),
        ],
        [
            edge("start", "route"),
            edge("route", "big", "big"),
            edge("route", "small", "small"),
            edge("big", "after"),
        ],
    )
    execution = start_execution(
        session=session, workflow=workflow, trigger={"source": "manual", "data": {"total": 500}}
    )
    wait_for(execution.id)

    # When: the detail page reads its nodes
    pinned = pinned_nodes(session=session, execution=execution)
    ordered = in_execution_order(
        node_runs(session=session, execution=execution), [item.id for item in pinned]
    )

    # Then: the pinned graph gives labels and types, and "small" is not listed first
    assert [(item.id, item.type) for item in pinned][:2] == [
        ("start", "trigger"),
        ("route", "condition"),
    ]
    ids = [run.node_id for run in ordered]
    assert ids[:2] == ["start", "route"]
    assert ids.index("small") > ids.index("route")
    assert set(ids) == {"start", "route", "big", "small", "after"}
