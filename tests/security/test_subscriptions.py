"""Subscriptions to another user's execution get nothing: ``follow_execution`` refuses
Grace with ``NotFound`` before it yields a snapshot or a single update, while Ada,
following the same run at the same time, gets all of it. With the embedded event bus
(SQLite) and the Redis one (PostgreSQL), as the ``engine`` fixture sets them up.

Limit: this is the service every live page uses (the editor's and the execution
page's ``follow``); which Reflex state a websocket may address is Reflex's concern.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session

from tests.engine.helpers import edge, jsonata, make_workflow, node, wait_node_status
from workfuse.engine.events import FINAL_TYPES
from workfuse.models import NodeRunStatus, User
from workfuse.services.errors import NotFound
from workfuse.services.executions import follow_execution, start_execution

SLOW_JS = "let t = Date.now(); while (Date.now() - t < 400) {} return 1"
WAIT_S = 20.0  #: seconds the run may take


def test_another_users_subscription_gets_nothing(
    engine: str, session: Session, user: User, other_user: User
) -> None:
    # Given: Ada's run, under way (its first node done, a slow one to come)
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {}),
            node("slow", "transform", {"language": "javascript", "code": SLOW_JS}),
            jsonata("last", "2"),
        ],
        [edge("start", "slow"), edge("slow", "last")],
    )
    execution = start_execution(
        session=session, workflow=workflow, trigger={"source": "manual", "data": {}}
    )
    wait_node_status(execution.id, "start", NodeRunStatus.SUCCEEDED)
    grace_got: list[object] = []

    async def as_grace(execution_id: str) -> None:
        async with follow_execution(user=other_user, execution_id=execution_id) as (
            snapshot,
            updates,
        ):
            grace_got.append(snapshot)
            async for update in updates:
                grace_got.append(update)

    async def as_ada() -> list[str]:
        seen: list[str] = []
        async with follow_execution(user=user, execution_id=execution.id) as (_, updates):
            async for update in updates:
                seen.append(update.type.value)
                if update.type in FINAL_TYPES:
                    break
        return seen

    async def both() -> tuple[BaseException | None, BaseException | None, list[str]]:
        ada = asyncio.create_task(as_ada())
        grace, unknown = await asyncio.gather(
            as_grace(execution.id), as_grace("no-such-execution"), return_exceptions=True
        )
        return grace, unknown, await ada

    # When: Grace subscribes to Ada's run (and to an id that does not exist) meanwhile
    grace, unknown, ada_seen = asyncio.run(asyncio.wait_for(both(), WAIT_S))

    # Then: Grace is refused as for an unknown id, before any snapshot or update
    assert isinstance(grace, NotFound), grace
    assert isinstance(unknown, NotFound), unknown
    assert grace_got == []
    # ... while Ada follows her run to its end
    assert ada_seen and ada_seen[-1] == "completed"


@pytest.mark.parametrize("execution_id", ["", "../x", "*"])
def test_odd_ids_are_not_found_either(engine: str, other_user: User, execution_id: str) -> None:
    async def follow() -> None:
        async with follow_execution(user=other_user, execution_id=execution_id):
            pytest.fail("a subscription to nothing yielded")

    with pytest.raises(NotFound):
        asyncio.run(follow())
