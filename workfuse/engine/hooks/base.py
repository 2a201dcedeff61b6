"""What a hook is, what it is told, and the ordered list that tells it.

A :class:`Hook` overrides the methods it needs; the base ones do nothing. :class:`Hooks`
calls them in list order (the runner's list is
:func:`~workfuse.engine.hooks.default_hooks`), and calls only the hooks that override a
method, so a method nobody overrides costs nothing per node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from workfuse.engine.memo import RunRow
from workfuse.engine.plan import NodePlan
from workfuse.models import ExecutionStatus, NodeRunStatus

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class Change:
    """One status change: of the execution (``node`` None) or of one node's run.

    - ``status``: the status it changes to; ``previous``: the one it had, when known
      (a node run's always; an execution's only when it is claimed, since its other
      changes are compare-and-sets in the database).
    - ``values``: the columns set with the status: a node run's (``input``,
      ``output``, ``error``, ``started_at``, ``finished_at``, ``duration``,
      ``attempt``) or the execution's (``error``, ``duration``, ``node_results``).
      Hooks may rewrite them in :meth:`Hook.before_change`; afterwards a node run's
      are on ``run`` too.
    - ``run``: the node's run (None for the execution).
    - ``delay_ms``: a node run going RETRYING: how long until its next attempt.
    """

    status: NodeRunStatus | ExecutionStatus
    previous: NodeRunStatus | ExecutionStatus | None = None
    node: NodePlan | None = None
    run: RunRow | None = None
    values: dict[str, Any] = field(default_factory=dict)
    delay_ms: int | None = None


class Hook:
    """One cross-cutting concern of a run, told about it at fixed points."""

    def before_change(self, change: Change) -> None:
        """``change`` is about to be recorded; its ``values`` may be rewritten. Not
        every such call is followed by :meth:`after_change`: the database may refuse
        an execution's change."""

    def after_change(self, change: Change) -> None:
        """``change`` is recorded: in the database, or (a node run's) in the memo,
        to be written by the next checkpoint."""

    def token(self, node_id: str, text: str) -> str:
        """A streaming node produced ``text``; returns what the later hooks get (an
        empty string stops it there)."""
        return text

    def wrap_attempt(self, node: NodePlan, work: Awaitable[T]) -> Awaitable[T]:
        """``work`` (one attempt of ``node``), or what runs it; the runner awaits the
        result under the node's timeout."""
        return work

    def run_started(self) -> None:
        """The run holds the execution and is about to run its nodes (in its loop)."""

    def run_stopped(self) -> None:
        """The run stops running nodes, however it ends."""


class Hooks:
    """An ordered list of hooks. ``before_change``, ``after_change``, ``token`` and
    ``run_started`` go through it first to last, ``run_stopped`` last to first; the
    runner applies :attr:`wraps` first to last (each wraps what the ones before it
    returned)."""

    def __init__(self, hooks: Sequence[Hook]) -> None:
        self.hooks = tuple(hooks)
        #: the ``before_change``, ``after_change`` and ``wrap_attempt`` methods that do
        #: something, in order (what runs per node calls them without going through a
        #: method here)
        self.before: tuple[Callable[[Change], None], ...] = _overriding(self.hooks, "before_change")
        self.after: tuple[Callable[[Change], None], ...] = _overriding(self.hooks, "after_change")
        self.wraps: tuple[Callable[[NodePlan, Awaitable[Any]], Awaitable[Any]], ...] = _overriding(
            self.hooks, "wrap_attempt"
        )
        self._token = _overriding(self.hooks, "token")

    def before_change(self, change: Change) -> None:
        for call in self.before:
            call(change)

    def after_change(self, change: Change) -> None:
        for call in self.after:
            call(change)

    def token(self, node_id: str, text: str) -> None:
        for call in self._token:
            text = call(node_id, text)
            if not text:
                return

    def run_started(self) -> None:
        for hook in self.hooks:
            hook.run_started()

    def run_stopped(self) -> None:
        for hook in reversed(self.hooks):
            hook.run_stopped()


def _overriding(hooks: Sequence[Hook], name: str) -> tuple[Callable[..., Any], ...]:
    """The bound method ``name`` of each hook whose class overrides :class:`Hook`'s."""
    return tuple(getattr(hook, name) for hook in hooks if _overrides(type(hook), name))


def _overrides(cls: type, name: str) -> bool:
    """Does class ``cls`` (a hook's) override :class:`Hook`'s method ``name``? (Known
    once per class: a run builds its hooks anew.)"""
    known = _OVERRIDES.get((cls, name))
    if known is None:
        known = _OVERRIDES[cls, name] = getattr(cls, name) is not getattr(Hook, name)
    return known


_OVERRIDES: dict[tuple[type, str], bool] = {}
