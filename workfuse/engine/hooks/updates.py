"""Publishing a run's status changes as the seed's ``ExecutionUpdate`` events.

Each recorded change becomes one update on the event bus (:mod:`workfuse.engine.events`):

| change | update | data |
|---|---|---|
| execution PENDING -> RUNNING (its first start) | ``started`` | none |
| execution -> COMPLETED | ``completed`` | ``{duration}`` |
| execution -> FAILED | ``failed`` | ``{error}`` |
| node -> RUNNING | ``node_started`` | ``{attempt}`` |
| node -> SUCCEEDED | ``node_completed`` | ``{output, duration, attempt}`` |
| node -> RETRYING | ``retrying`` | ``{error, attempt, delayMs}`` (the error without ``retryAt``) |
| node -> FAILED | ``node_failed`` | ``{error}`` |
| node -> SKIPPED | ``node_skipped`` | none |

An execution resumed (RETRYING or RUNNING -> RUNNING) or waiting for a retry (->
RETRYING) publishes nothing: its nodes' updates say it. ``cancelled`` is published by
whoever cancels (``services.executions.cancel_execution``), not by a run. A streaming
node's text is published as ``token`` updates. Publishing never fails the run (see the
buses).
"""

from __future__ import annotations

from typing import Any

from workfuse.engine.events import EventBus, ExecutionUpdate, UpdateType
from workfuse.engine.hooks.base import Change, Hook
from workfuse.engine.retry import RETRY_AT
from workfuse.models import ExecutionStatus, NodeRunStatus

S = ExecutionStatus
N = NodeRunStatus

#: by status (keyed by the plain string: node-run and execution statuses share names)
_NODE_UPDATES: dict[str, UpdateType] = {
    N.RUNNING: UpdateType.NODE_STARTED,
    N.SUCCEEDED: UpdateType.NODE_COMPLETED,
    N.RETRYING: UpdateType.RETRYING,
    N.FAILED: UpdateType.NODE_FAILED,
    N.SKIPPED: UpdateType.NODE_SKIPPED,
}
_EXECUTION_UPDATES: dict[str, UpdateType] = {
    S.COMPLETED: UpdateType.COMPLETED,
    S.FAILED: UpdateType.FAILED,
}


class UpdatesHook(Hook):
    def __init__(self, bus: EventBus, execution_id: str) -> None:
        self.bus = bus
        self.execution_id = execution_id

    def after_change(self, change: Change) -> None:
        node, run = change.node, change.run
        kind: UpdateType | None
        data: Any = None
        if node is None or run is None:
            kind = _EXECUTION_UPDATES.get(change.status)
            if change.status is S.RUNNING and change.previous is S.PENDING:
                kind = UpdateType.STARTED
            elif kind is UpdateType.COMPLETED:
                data = {"duration": change.values["duration"]}
            elif kind is UpdateType.FAILED:
                data = {"error": change.values["error"]}
            if kind is not None:
                self._publish(kind, None, data)
            return
        kind = _NODE_UPDATES[change.status]
        if kind is UpdateType.NODE_STARTED:
            data = {"attempt": run.attempt}
        elif kind is UpdateType.NODE_COMPLETED:
            data = {"output": run.output, "duration": run.duration, "attempt": run.attempt}
        elif kind is UpdateType.RETRYING:
            error = {key: value for key, value in (run.error or {}).items() if key != RETRY_AT}
            data = {"error": error, "attempt": run.attempt, "delayMs": change.delay_ms}
        elif kind is UpdateType.NODE_FAILED:
            data = {"error": run.error}
        self._publish(kind, node.id, data)

    def token(self, node_id: str, text: str) -> str:
        self._publish(UpdateType.TOKEN, node_id, text)
        return text

    def _publish(self, kind: UpdateType, node_id: str | None, data: Any) -> None:
        self.bus.publish(
            ExecutionUpdate(execution_id=self.execution_id, type=kind, node_id=node_id, data=data)
        )
