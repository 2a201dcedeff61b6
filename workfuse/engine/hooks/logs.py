"""The execution's log lines (``ExecutionLog``): one per node that finished an attempt.

``INFO "<label> succeeded in <n> ms"``, ``WARN "<label> failed, retrying: <message>"``
or ``ERROR "<label> failed: <message>"``, redacted, written with the next checkpoint
(so a line lands in the same transaction as its node run). Other changes log nothing
here; the process's own log (``logging``) is separate.
"""

from __future__ import annotations

from workfuse.engine.hooks.base import Change, Hook
from workfuse.engine.memo import Memo
from workfuse.models import LogLevel, NodeRunStatus
from workfuse.secrets.redaction import Redactor

N = NodeRunStatus


class LogsHook(Hook):
    def __init__(self, memo: Memo, redactor: Redactor) -> None:
        self.memo = memo
        self.redactor = redactor

    def after_change(self, change: Change) -> None:
        node, run = change.node, change.run
        if node is None or run is None:
            return
        if change.status is N.SUCCEEDED:
            level, message = LogLevel.INFO, f"{node.label} succeeded in {run.duration} ms"
        elif change.status is N.RETRYING:
            level, message = LogLevel.WARN, f"{node.label} failed, retrying: {_message(run.error)}"
        elif change.status is N.FAILED:
            level, message = LogLevel.ERROR, f"{node.label} failed: {_message(run.error)}"
        else:
            return
        self.memo.log(node.id, level, self.redactor.redact_text(message))


def _message(error: dict[str, object] | None) -> object:
    return (error or {}).get("message")
