"""Building workflows and waiting for executions in engine tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlmodel import Session, select

from workfuse.db import session_scope
from workfuse.engine.state import TERMINAL
from workfuse.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, User, Workflow
from workfuse.services.executions import node_runs
from workfuse.services.workflows import WorkflowCreate, create_workflow

WAIT_S = 30.0  #: seconds an execution may take in a test


def node(node_id: str, node_type: str, config: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": node_id, "config": config, **data}}


def jsonata(node_id: str, code: str, **data: Any) -> dict[str, Any]:
    return node(node_id, "transform", {"language": "jsonata", "code": code}, **data)


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    wired = {"id": f"{source}-{target}", "source": source, "target": target}
    return {**wired, "sourceHandle": handle} if handle else wired


def make_workflow(
    session: Session, user: User, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> Workflow:
    workflow = create_workflow(
        session=session,
        user=user,
        data=WorkflowCreate(name="test", graph={"nodes": nodes, "edges": edges}),
    )
    session.commit()
    assert workflow.is_active, "the test workflow should be valid"
    return workflow


def stored_execution(
    session: Session,
    workflow: Workflow,
    status: ExecutionStatus = ExecutionStatus.RUNNING,
    **values: Any,
) -> Execution:
    """An execution of ``workflow`` put straight into the database with ``status`` (no
    message sent), as a runner that crashed would have left it; ``values``: other
    columns."""
    execution = Execution(
        status=status,
        trigger_data={"source": "manual", "data": {}, "headers": {}},
        workflow_version=workflow.version,
        workflow_id=workflow.id,
        user_id=workflow.user_id,
        **values,
    )
    session.add(execution)
    session.flush()
    return execution


def wait_for(execution_id: str, timeout: float = WAIT_S) -> tuple[Execution, dict[str, NodeRun]]:
    """Poll until the execution is terminal; its row and node runs by node id."""
    deadline = time.monotonic() + timeout
    while True:
        with session_scope() as session:
            execution = session.get(Execution, execution_id)
            assert execution is not None
            if execution.status in TERMINAL:
                runs = {run.node_id: run for run in node_runs(session=session, execution=execution)}
                return execution, runs
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_id} still {execution.status}")
        time.sleep(0.02)


def wait_status(execution_id: str, status: ExecutionStatus, timeout: float = 10) -> None:
    """Poll until the execution has ``status``."""
    _poll(
        lambda session: getattr(session.get(Execution, execution_id), "status", None) is status,
        f"execution {execution_id} never became {status}",
        timeout,
    )


def wait_node_status(
    execution_id: str, node_id: str, status: NodeRunStatus, timeout: float = 10
) -> None:
    """Poll until the node's run is on record with ``status``."""

    def reached(session: Session) -> bool:
        run = session.exec(
            select(NodeRun).where(NodeRun.execution_id == execution_id, NodeRun.node_id == node_id)
        ).first()
        return run is not None and run.status is status

    _poll(reached, f"node {node_id} never became {status}", timeout)


def _poll(check: Callable[[Session], bool], failure: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with session_scope() as session:
            if check(session):
                return
        time.sleep(0.005)
    raise AssertionError(failure)
