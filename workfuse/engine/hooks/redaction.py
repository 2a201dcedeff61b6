"""Keeping credential values out of what a run records and publishes.

The run's :class:`~workfuse.secrets.redaction.Redactor` knows the values of the
credentials the execution reads. Before a change is recorded, this hook replaces them
with ``[REDACTED]`` in a node run's ``input`` and ``output`` and in the ``message`` of
its ``error``, and in the execution's ``error``; the later nodes see the redacted
output too. A streaming node's text is redacted across pieces: the tail that might be
the start of a value is held back, and arrives with the node's redacted output.

Limits: those of :class:`~workfuse.secrets.redaction.Redactor` (exact substrings only).
"""

from __future__ import annotations

from workfuse.engine.hooks.base import Change, Hook
from workfuse.models import NodeRunStatus
from workfuse.secrets.redaction import Redactor, StreamRedactor


class RedactionHook(Hook):
    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._streams: dict[str, StreamRedactor] = {}  #: by node id, for the attempt

    def before_change(self, change: Change) -> None:
        values = change.values
        if change.node is None:
            error = values.get("error")
            if isinstance(error, str):
                values["error"] = self.redactor.redact_text(error)
        elif change.status is NodeRunStatus.RUNNING:  # sets nothing to redact
            self._streams.pop(change.node.id, None)  # a new attempt streams anew
        else:
            for name in ("input", "output"):
                if name in values:
                    values[name] = self.redactor.redact(values[name])
            error = values.get("error")
            if error:
                message = self.redactor.redact_text(error["message"])
                values["error"] = {**error, "message": message}

    def token(self, node_id: str, text: str) -> str:
        stream = self._streams.get(node_id)
        if stream is None:
            stream = self._streams[node_id] = StreamRedactor(self.redactor)
        return stream.feed(text)
