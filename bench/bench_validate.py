"""Benchmark graph validation on the largest graph WorkFuse accepts.

Generates a valid DAG of 5,000 nodes and 10,000 edges (one trigger, a mix of http,
transform, ai and condition nodes with valid configs, every condition branch wired)
and times:

* ``validate_graph`` + ``execution_order`` on an already parsed graph (the target:
  median under 100 ms), and each of the two on its own;
* ``parse_graph`` and ``check_graph_data`` (parse + validate) from raw JSON-like dicts,
  which is what saving a workflow costs.

Run: ``.venv/bin/python bench/bench_validate.py`` (``--runs N`` to change the run count).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import record
from workfuse.graph import parse_graph
from workfuse.graph_validation import (
    check_graph_data,
    execution_order,
    validate_graph,
)

NODE_COUNT = 5_000
EDGE_COUNT = 10_000
CONDITION_COUNT = 50
TARGET_MS = 100.0

_CONFIGS: dict[str, dict[str, Any]] = {
    "http": {"method": "POST", "url": "https://api.example.com/items", "timeout": 5_000},
    "transform": {"language": "jsonata", "code": "$.items[price > 10]"},
    "ai": {
        "provider": "anthropic",
        "model": "claude-haiku",
        "prompt": "Summarise {{ trigger.data }}",
    },
}
_BRANCHES = ("high", "low", "default")


def make_graph_data(
    nodes: int = NODE_COUNT,
    edges: int = EDGE_COUNT,
    conditions: int = CONDITION_COUNT,
    seed: int = 7,
) -> dict[str, Any]:
    """A valid workflow graph as JSON-like data: a DAG, every node reachable."""
    rng = random.Random(seed)
    # Conditions sit early enough to have a later node for each branch.
    condition_positions = set(rng.sample(range(1, nodes - len(_BRANCHES)), conditions))
    node_list: list[dict[str, Any]] = []
    for index in range(nodes):
        config: dict[str, Any]
        if index == 0:
            node_type, config = "trigger", {"source": "webhook"}
        elif index in condition_positions:
            node_type = "condition"
            config = {
                "conditions": [
                    {
                        "field": "{{ trigger.data.total }}",
                        "operator": "gt",
                        "value": 100,
                        "branch": "high",
                    },
                    {
                        "field": "{{ trigger.data.total }}",
                        "operator": "lt",
                        "value": 10,
                        "branch": "low",
                    },
                ],
                "defaultBranch": "default",
            }
        else:
            node_type = ("http", "transform", "ai")[index % 3]
            config = dict(_CONFIGS[node_type])
        node_list.append(
            {
                "id": f"n{index}",
                "type": node_type,
                "position": {"x": float(index % 100) * 220, "y": float(index // 100) * 120},
                "data": {"label": f"{node_type} {index}", "config": config},
            }
        )

    edge_set: set[tuple[int, int]] = set()
    edge_list: list[dict[str, Any]] = []

    def connect(source: int, target: int, handle: str | None = None) -> None:
        edge_set.add((source, target))
        edge = {"id": f"e{len(edge_list)}", "source": f"n{source}", "target": f"n{target}"}
        if handle is not None:
            edge["sourceHandle"] = handle
        edge_list.append(edge)

    # Every condition wires each branch to a distinct later node.
    for position in sorted(condition_positions):
        later = rng.sample(range(position + 1, nodes), len(_BRANCHES))
        for branch, target in zip(_BRANCHES, later, strict=True):
            connect(position, target, branch)
    # Every non-trigger node gets a parent earlier in the list (so all are reachable);
    # edges only go forward in the list, so the graph is acyclic.
    for target in range(1, nodes):
        candidates = [
            s for s in (rng.randrange(target), target - 1, 0) if s not in condition_positions
        ]
        source = candidates[0] if candidates else 0
        if (source, target) not in edge_set:
            connect(source, target)
    while len(edge_list) < edges:
        source = rng.randrange(nodes - 1)
        target = rng.randrange(source + 1, nodes)
        if source in condition_positions or (source, target) in edge_set:
            continue
        connect(source, target)
    return {"name": "Benchmark: 5k nodes", "nodes": node_list, "edges": edge_list}


def measure(label: str, action: Callable[[], object], runs: int) -> float:
    """Run ``action`` ``runs`` times (after one warm-up); print and return the median (ms)."""
    action()
    timings = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    median = statistics.median(timings)
    print(
        f"{label:<34} median {median:8.2f} ms   min {min(timings):8.2f} ms   "
        f"max {max(timings):8.2f} ms   ({runs} runs)"
    )
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per benchmark")
    args = parser.parse_args(argv)

    data = make_graph_data()
    graph = parse_graph(data)
    result = validate_graph(graph)
    if not result.valid or result.warnings:
        print("generated graph is not clean:", *[i.describe() for i in result.issues()][:5])
        return 1
    python = sys.version.split()[0]
    print(f"graph: {len(graph.nodes)} nodes, {len(graph.edges)} edges; Python {python}")

    def validate_and_order() -> None:
        validate_graph(graph)
        execution_order(graph)

    combined = measure("validate_graph + execution_order", validate_and_order, args.runs)
    validate = measure("validate_graph", lambda: validate_graph(graph), args.runs)
    order = measure("execution_order", lambda: execution_order(graph), args.runs)
    parse = measure("parse_graph (raw dict)", lambda: parse_graph(data), args.runs)
    check = measure("check_graph_data (raw dict)", lambda: check_graph_data(data), args.runs)
    verdict = "OK" if combined < TARGET_MS else "OVER TARGET"
    print(f"target: validate + order under {TARGET_MS:.0f} ms -> {verdict}")
    record("validate.validate_graph + execution_order", combined, "ms", ("<", TARGET_MS))
    record("validate.validate_graph", validate, "ms")
    record("validate.execution_order", order, "ms")
    record("validate.parse_graph (raw dict)", parse, "ms")
    record("validate.check_graph_data (raw dict)", check, "ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
