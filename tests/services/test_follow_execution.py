"""Following an execution live: the stored state first, then every later update, so a
browser that connects (or reconnects) mid-run misses nothing."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session

from tests.engine.helpers import edge, jsonata, make_workflow, node, wait_for, wait_node_status
from workfuse.engine.events import FINAL_TYPES
from workfuse.models import NodeRunStatus, User
from workfuse.services.errors import NotFound
from workfuse.services.executions import follow_execution, start_execution

SLOW_JS = "let t = Date.now(); while (Date.now() - t < 400) {} return 1"


def test_a_subscriber_that_connects_mid_run_sees_every_node(
    engine: str, session: Session, user: User
) -> None:
    # Given: start -> quick -> slow -> last, running, with "quick" already done
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            jsonata("quick", "1"),
            node("slow", "transform", {"language": "javascript", "code": SLOW_JS}),
            jsonata("last", "2"),
        ],
        [edge("start", "quick"), edge("quick", "slow"), edge("slow", "last")],
    )
    execution = start_execution(
        session=session, workflow=workflow, trigger={"source": "manual", "data": {}}
    )
    wait_node_status(execution.id, "start", NodeRunStatus.SUCCEEDED)

    # When: a subscriber follows it from here
    async def follow() -> tuple[set[str], list[tuple[str, str | None]]]:
        async with follow_execution(user=user, execution_id=execution.id) as (snapshot, updates):
            done = {
                node_id
                for node_id, run in snapshot.nodes.items()
                if run.status is NodeRunStatus.SUCCEEDED
            }
            seen: list[tuple[str, str | None]] = []
            async for update in updates:
                seen.append((update.type.value, update.node_id))
                if update.type in FINAL_TYPES:
                    break
            return done, seen

    done, seen = asyncio.run(asyncio.wait_for(follow(), 20))

    # Then: what the snapshot lacks, the updates bring, ending with "completed"
    completed = done | {node_id for kind, node_id in seen if kind == "node_completed"}
    assert completed >= {"start", "quick", "slow", "last"}
    assert seen[-1] == ("completed", None)
    assert wait_for(execution.id)[0].status == "COMPLETED"


def test_following_another_users_execution_is_not_found(
    engine: str, session: Session, user: User, other_user: User
) -> None:
    workflow = make_workflow(session, user, [node("start", "trigger", {})], [])
    execution = start_execution(
        session=session, workflow=workflow, trigger={"source": "manual", "data": {}}
    )

    async def follow() -> None:
        async with follow_execution(user=other_user, execution_id=execution.id):
            pass

    with pytest.raises(NotFound):
        asyncio.run(follow())
