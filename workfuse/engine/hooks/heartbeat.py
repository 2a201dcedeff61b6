"""The pace of a run's background writes: heartbeats and late checkpoints.

While the run goes on, a task in its event loop writes the finished pure nodes (and log
lines) at least every :data:`CHECKPOINT_S`, so someone reloading the page sees them
done while slow nodes run (fast runs never wait for it: the step loop writes them at
the next side-effecting node, a failure or the end), and beats at least every
:data:`HEARTBEAT_S` otherwise. While a side-effecting node's call is in flight, a beat
goes out every :data:`HEARTBEAT_S` from a thread (the call may hold the loop's thread
in a blocking library). A runner that holds an execution must beat well within
:data:`~workfuse.engine.state.STALE_AFTER_S`, after which another may take it over.

Limits: a node that blocks the event loop's thread (a pure node's executor is not
supposed to) holds the periodic task back as well.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

from workfuse.engine.hooks.base import Hook
from workfuse.engine.memo import Memo
from workfuse.engine.plan import NodePlan

HEARTBEAT_S = 10.0  #: seconds between heartbeats while a run holds its execution
CHECKPOINT_S = 0.2  #: seconds the results of finished pure nodes may wait to be written

T = TypeVar("T")


class HeartbeatHook(Hook):
    def __init__(self, memo: Memo) -> None:
        self.memo = memo
        self._task: asyncio.Future[None] | None = None

    def run_started(self) -> None:
        self._task = asyncio.ensure_future(self._checkpoint_periodically())

    def run_stopped(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def wrap_attempt(self, node: NodePlan, work: Awaitable[T]) -> Awaitable[T]:
        return self._with_heartbeat(work) if node.spec.side_effects else work

    async def _checkpoint_periodically(self) -> None:
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(CHECKPOINT_S)
            if self.memo.pending or self.memo.pending_logs:
                self.memo.flush()
                last_beat = time.monotonic()
            elif time.monotonic() - last_beat >= HEARTBEAT_S:
                self.memo.beat()
                last_beat = time.monotonic()

    async def _with_heartbeat(self, work: Awaitable[T]) -> T:
        """``work``, with a heartbeat every :data:`HEARTBEAT_S` while it runs."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_S)
                if done:
                    return task.result()
                await asyncio.to_thread(self.memo.beat)
        finally:
            task.cancel()  # a no-op when it finished; stops it on timeout or cancellation
