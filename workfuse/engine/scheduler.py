"""Which nodes of an execution run next: the seed's scheduling rule, as a pure object.

A node is *ready* when every node it has an edge from is finished (succeeded or
skipped). A ready node *runs* when some incoming edge carries the run, else it is
*skipped*: an edge carries it unless its source was skipped, or its source chose one
output (a condition's branch, ``NodeSpec.chosen_output``) and the edge leaves through
another. So a node reached only through untaken branches is skipped, and one that also
has an edge from a taken branch (or a plain edge from a node that ran) runs. A trigger
(no incoming edge) always runs.

:class:`Scheduler` reads only the plan and what it is told (the node runs loaded from
the memo, then each success); it touches no database, clock or event, so it is tested
on its own. One :meth:`Scheduler.step` is one round of the step loop: the ready nodes
of the moment in the plan's order, split into those to run and those to skip.

Limits: the plan must be acyclic (:func:`~workfuse.engine.plan.build_plan` refuses a
cycle); a node handed out to run stays out of later steps until it is reported
(:meth:`Scheduler.succeeded`); a node that failed is never reported, and the runner
stops at a failure (it retries with a new message, or fails the execution).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workfuse.engine.plan import ExecutionPlan, NodePlan


@dataclass(slots=True)
class Step:
    """One round: the ready nodes to run (side by side) and to skip, in plan order
    (at least one of them)."""

    run: list[NodePlan]
    skip: list[NodePlan]


class Scheduler:
    """The scheduling state of one execution.

    Parameters:
      plan: what the execution runs.
      succeeded: the outputs of the nodes that succeeded already, by node id (a
        resumed run's memo). Default none.
      skipped: the nodes skipped already. Default none.
    """

    def __init__(
        self,
        plan: ExecutionPlan,
        *,
        succeeded: Mapping[str, Any] | None = None,
        skipped: Iterable[str] = (),
    ) -> None:
        self.plan = plan
        #: finished nodes (succeeded or skipped)
        self._finished: set[str] = set()
        self._skipped: set[str] = set()
        #: succeeded node -> the one output it continued through (None: every output)
        self._chosen: dict[str, str | None] = {}
        for node_id, output in (succeeded or {}).items():
            self._finished.add(node_id)
            self._chosen[node_id] = self._choice(node_id, output)
        for node_id in skipped:
            self._finished.add(node_id)
            self._skipped.add(node_id)
        #: nodes neither finished nor handed out, in plan order
        self._waiting = [node_id for node_id in plan.order if node_id not in self._finished]
        self._running: set[str] = set()

    @property
    def done(self) -> bool:
        """Has every node succeeded or been skipped?"""
        return not self._waiting and not self._running

    def step(self) -> Step | None:
        """The nodes ready now: those to run are handed out (they stay out of later
        steps until :meth:`succeeded`), those to skip count as finished at once (so the
        next step may skip their successors in turn). None when nothing is ready: the
        run is :attr:`done`, or waits for the nodes handed out."""
        nodes = self.plan.nodes
        finished = self._finished
        ready = [
            nodes[node_id] for node_id in self._waiting if nodes[node_id].predecessors <= finished
        ]
        if not ready:
            return None
        taken = {node.id for node in ready}
        self._waiting = [node_id for node_id in self._waiting if node_id not in taken]
        # None of them is a predecessor of another, so the order they are looked at in
        # does not matter.
        run = [node for node in ready if self._is_live(node)]
        if len(run) == len(ready):
            self._running |= taken
            return Step(run, [])
        skip = [node for node in ready if node not in run]
        self._running.update(node.id for node in run)
        for node in skip:
            finished.add(node.id)
            self._skipped.add(node.id)
        return Step(run, skip)

    def succeeded(self, node_id: str, output: Any) -> None:
        """Node ``node_id``, handed out by :meth:`step`, succeeded with ``output``."""
        self._running.discard(node_id)
        self._finished.add(node_id)
        self._chosen[node_id] = self._choice(node_id, output)

    def _choice(self, node_id: str, output: Any) -> str | None:
        """The one output a node that succeeded with ``output`` continued through
        (None: every output)."""
        node = self.plan.nodes.get(node_id)
        choose = node.spec.chosen_output if node is not None else None
        return choose(output) if choose is not None and isinstance(output, dict) else None

    def _is_live(self, node: NodePlan) -> bool:
        """Does some incoming edge carry the run here?"""
        if not node.incoming:
            return True
        for edge in node.incoming:
            if edge.source in self._skipped:
                continue
            chosen = self._chosen[edge.source]
            if edge.source_handle is None or chosen is None or edge.source_handle == chosen:
                return True
        return False
