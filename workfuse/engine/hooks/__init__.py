"""The hooks of a run: what happens around its status changes, in an explicit order.

Like Dramatiq's middleware list, every cross-cutting concern of the step loop is one
hook, and :func:`default_hooks` lists them in the order they run:

1. :class:`RedactionHook` (``redaction``): credential values out of what is recorded
   and published; first, so every later hook sees redacted values.
2. :class:`UpdatesHook` (``updates``): each change published as an ``ExecutionUpdate``.
3. :class:`LogsHook` (``logs``): a log line per finished node attempt.
4. :class:`HeartbeatHook` (``heartbeat``): heartbeats and late checkpoints.

The status changes themselves go through
:class:`~workfuse.engine.transitions.Transitions`, which hands each to the hooks.
"""

from __future__ import annotations

from workfuse.engine.events import EventBus
from workfuse.engine.hooks.base import Change, Hook, Hooks
from workfuse.engine.hooks.heartbeat import HeartbeatHook
from workfuse.engine.hooks.logs import LogsHook
from workfuse.engine.hooks.redaction import RedactionHook
from workfuse.engine.hooks.updates import UpdatesHook
from workfuse.engine.memo import Memo
from workfuse.secrets.redaction import Redactor

__all__ = [
    "Change",
    "HeartbeatHook",
    "Hook",
    "Hooks",
    "LogsHook",
    "RedactionHook",
    "UpdatesHook",
    "default_hooks",
]


def default_hooks(*, bus: EventBus, memo: Memo, redactor: Redactor) -> list[Hook]:
    """The hooks of a run of ``memo``'s execution, in order."""
    return [
        RedactionHook(redactor),
        UpdatesHook(bus, memo.execution_id),
        LogsHook(memo, redactor),
        HeartbeatHook(memo),
    ]
