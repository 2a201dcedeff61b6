"""The scheduler on its own: which nodes are ready, which are skipped, when a run is
done. Pure: plans built in memory, no database."""

from __future__ import annotations

from typing import Any

from tests.engine.helpers import edge, jsonata, node
from workfuse.engine.plan import ExecutionPlan, build_plan
from workfuse.engine.scheduler import Scheduler, Step
from workfuse.graph import WorkflowGraph


def plan(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> ExecutionPlan:
    graph = WorkflowGraph.model_validate({"name": "test", "nodes": nodes, "edges": edges})
    return build_plan("workflow", 1, graph)


def condition(node_id: str, *branches: str) -> dict[str, Any]:
    """A condition whose first branch is chosen when the trigger says so, else the last."""
    rules = [
        {"field": "{{ trigger.data.branch }}", "operator": "eq", "value": b, "branch": b}
        for b in branches[:-1]
    ]
    return node(node_id, "condition", {"conditions": rules, "defaultBranch": branches[-1]})


def ids(step: Step | None) -> tuple[list[str], list[str]]:
    """The ids of the step's nodes to run and to skip."""
    assert step is not None, "a node should be ready"
    return [n.id for n in step.run], [n.id for n in step.skip]


def branching() -> ExecutionPlan:
    """start -> route; route -yes-> yes -> after-yes; route -no-> no -> after-no."""
    return plan(
        [
            node("start", "trigger", {}),
            condition("route", "yes", "no"),
            jsonata("yes", "1"),
            jsonata("after-yes", "1"),
            jsonata("no", "1"),
            jsonata("after-no", "1"),
        ],
        [
            edge("start", "route"),
            edge("route", "yes", "yes"),
            edge("yes", "after-yes"),
            edge("route", "no", "no"),
            edge("no", "after-no"),
        ],
    )


def test_each_node_is_ready_once_every_node_before_it_succeeded() -> None:
    # Given: start -> a -> b, and start -> c
    scheduler = Scheduler(
        plan(
            [node("start", "trigger", {}), jsonata("a", "1"), jsonata("b", "1"), jsonata("c", "1")],
            [edge("start", "a"), edge("a", "b"), edge("start", "c")],
        )
    )

    # When / Then: the trigger first; nothing more until it is reported
    assert ids(scheduler.step()) == (["start"], [])
    assert scheduler.step() is None and not scheduler.done

    # Then: the nodes after it are ready together, in plan order
    scheduler.succeeded("start", {})
    assert ids(scheduler.step()) == (["a", "c"], [])

    # Then: b waits for a only; the run is done when every node succeeded
    scheduler.succeeded("a", {})
    assert ids(scheduler.step()) == (["b"], [])
    scheduler.succeeded("c", {})
    scheduler.succeeded("b", {})
    assert scheduler.step() is None
    assert scheduler.done


def test_a_branch_not_taken_is_skipped_to_its_end() -> None:
    # Given: a condition that took "yes"
    scheduler = Scheduler(branching())
    scheduler.step()
    scheduler.succeeded("start", {})
    scheduler.step()
    scheduler.succeeded("route", {"branch": "yes", "matchedRule": 0})

    # When / Then: the "yes" node runs and the "no" node is skipped in the same step
    assert ids(scheduler.step()) == (["yes"], ["no"])

    # Then: what follows the skipped node is skipped at the next step, while "yes" runs
    assert ids(scheduler.step()) == ([], ["after-no"])
    assert not scheduler.done

    # Then: the taken branch goes on to its end
    scheduler.succeeded("yes", {})
    assert ids(scheduler.step()) == (["after-yes"], [])
    scheduler.succeeded("after-yes", {})
    assert scheduler.done


def test_a_node_joining_a_taken_and_an_untaken_branch_runs() -> None:
    # Given: join has an edge from the "yes" branch (taken) and one from "no" (not)
    scheduler = Scheduler(
        plan(
            [
                node("start", "trigger", {}),
                condition("route", "yes", "no"),
                jsonata("yes", "1"),
                jsonata("no", "1"),
                jsonata("join", "1"),
            ],
            [
                edge("start", "route"),
                edge("route", "yes", "yes"),
                edge("route", "no", "no"),
                edge("yes", "join"),
                edge("no", "join"),
            ],
        ),
        succeeded={"start": {}, "route": {"branch": "yes", "matchedRule": 0}},
    )

    # When: the branches are scheduled and the taken one succeeds
    assert ids(scheduler.step()) == (["yes"], ["no"])
    scheduler.succeeded("yes", {})

    # Then: the join runs (an edge from a node that ran carries the run)
    assert ids(scheduler.step()) == (["join"], [])


def test_a_node_whose_every_edge_leaves_through_untaken_branches_is_skipped() -> None:
    # Given: join is wired straight to two branches of a condition that took a third
    scheduler = Scheduler(
        plan(
            [
                node("start", "trigger", {}),
                condition("route", "a", "b", "c"),
                jsonata("join", "1"),
                jsonata("c", "1"),
            ],
            [
                edge("start", "route"),
                edge("route", "join", "a"),
                {**edge("route", "join", "b"), "id": "route-join-b"},
                edge("route", "c", "c"),
            ],
        ),
        succeeded={"start": {}, "route": {"branch": "c", "matchedRule": None}},
    )

    # When / Then: the join is skipped, the chosen branch runs
    assert ids(scheduler.step()) == (["c"], ["join"])


def test_a_node_that_chose_no_output_lets_every_edge_carry_the_run() -> None:
    # Given: a condition whose stored output names no branch (so no choice is known)
    scheduler = Scheduler(branching(), succeeded={"start": {}, "route": {"result": 1}})

    # When / Then: both branches run
    assert ids(scheduler.step()) == (["yes", "no"], [])


def test_a_resumed_run_starts_after_what_its_memo_says_is_done() -> None:
    # Given: the memo of a run that took "no", ran "no" and was stopped there
    scheduler = Scheduler(
        branching(),
        succeeded={"start": {}, "route": {"branch": "no", "matchedRule": None}, "no": {}},
        skipped=["yes"],
    )

    # When / Then: it goes on from there, skipping what follows the skipped node
    assert ids(scheduler.step()) == (["after-no"], ["after-yes"])
    scheduler.succeeded("after-no", {})
    assert scheduler.done


def test_a_memo_that_has_every_node_done_leaves_nothing_to_run() -> None:
    # Given: a finished run's memo
    scheduler = Scheduler(
        branching(),
        succeeded={"start": {}, "route": {"branch": "yes"}, "yes": {}, "after-yes": {}},
        skipped=["no", "after-no"],
    )

    # Then: nothing is ready and the run is done
    assert scheduler.step() is None
    assert scheduler.done
