"""What the pages that follow a run share: how a live update changes the shown
statuses, and how a node's input, output or error is shown as JSON text."""

from __future__ import annotations

import json
from typing import Any

from workfuse.engine.events import UpdateType
from workfuse.engine.state import TERMINAL

MAX_SHOWN_JSON = 20_000  #: characters of a node's input, output or error shown on a page

#: Execution statuses after which nothing changes (as text, the way pages hold them).
FINISHED = frozenset(status.value for status in TERMINAL)

#: How a live update changes a node's shown status.
NODE_STATUS = {
    UpdateType.NODE_STARTED: "RUNNING",
    UpdateType.NODE_COMPLETED: "SUCCEEDED",
    UpdateType.NODE_FAILED: "FAILED",
    UpdateType.NODE_SKIPPED: "SKIPPED",
    UpdateType.RETRYING: "RETRYING",
}
#: How a live update changes the execution's shown status.
EXECUTION_STATUS = {
    UpdateType.STARTED: "RUNNING",
    UpdateType.RETRYING: "RETRYING",
    UpdateType.COMPLETED: "COMPLETED",
    UpdateType.FAILED: "FAILED",
    UpdateType.CANCELLED: "CANCELLED",
}


def shown_json(value: Any) -> str:
    """``value`` as indented JSON, cut at :data:`MAX_SHOWN_JSON` characters; None is ""."""
    if value is None:
        return ""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_SHOWN_JSON else text[:MAX_SHOWN_JSON] + "\n…"
