"""``validate_graph``, ``check_graph_data`` and ``execution_order``.

Each ``IssueCode`` has its own test below asserting the code, the severity, the node
or edge the issue is tied to and that the message names them; ``test_every_issue_code
_has_a_scenario`` fails when a code is added without one. No database is needed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workfuse.graph import (
    IssueCode,
    Severity,
    ValidationIssue,
    ValidationResult,
    WorkflowGraph,
    parse_graph,
)
from workfuse.graph_validation import (
    MAX_EDGES,
    MAX_NODES,
    build_digraph,
    check_graph_data,
    execution_order,
    validate_graph,
)

VALID_CONFIGS: dict[str, dict[str, Any]] = {
    "trigger": {"source": "webhook"},
    "http": {"method": "GET", "url": "https://api.example.com/orders"},
    "transform": {"language": "jsonata", "code": "$.orders"},
    "ai": {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Summarise {{ trigger.data }}"},
    "condition": {
        "conditions": [
            {"field": "{{ trigger.data.total }}", "operator": "gt", "value": 100, "branch": "big"}
        ],
        "defaultBranch": "small",
    },
}


def node(
    node_id: str,
    node_type: str = "transform",
    *,
    label: str | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": node_type,
        "position": {"x": 0.0, "y": 0.0},
        "data": {
            "label": label if label is not None else f"{node_type} {node_id}",
            "config": VALID_CONFIGS.get(node_type, {}) if config is None else config,
        },
    }


def edge(edge_id: str, source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    data = {"id": edge_id, "source": source, "target": target}
    if handle is not None:
        data["sourceHandle"] = handle
    return data


def graph_data(
    nodes: Iterable[dict[str, Any]], edges: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:
    return {"name": "Test workflow", "nodes": list(nodes), "edges": list(edges)}


def make_graph(
    nodes: Iterable[dict[str, Any]], edges: Iterable[dict[str, Any]] = ()
) -> WorkflowGraph:
    return parse_graph(graph_data(nodes, edges))


def chain(*node_ids: str) -> list[dict[str, Any]]:
    """Edges a -> b -> c ..., named after their ends."""
    return [edge(f"{a}-{b}", a, b) for a, b in pairwise(node_ids)]


def issues_of(result: ValidationResult, code: IssueCode) -> list[ValidationIssue]:
    return [issue for issue in result.issues() if issue.code is code]


def codes_of(result: ValidationResult) -> set[IssueCode]:
    return {issue.code for issue in result.issues()}


def cycle_in(message: str) -> list[str]:
    """The node ids a CYCLE message names, first one repeated at the end."""
    return message.split(": ", 1)[1].split(";", 1)[0].split(" → ")


def only(result: ValidationResult, code: IssueCode) -> ValidationIssue:
    """The single issue of ``code``; fails if there are none or several."""
    found = issues_of(result, code)
    assert len(found) == 1, [issue.describe() for issue in result.issues()]
    return found[0]


def valid_workflow() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """start -> fetch -> route -(big)-> summarise, -(small)-> reshape."""
    nodes = [
        node("start", "trigger"),
        node("fetch", "http"),
        node("route", "condition"),
        node("summarise", "ai"),
        node("reshape", "transform"),
    ]
    edges = [
        edge("e1", "start", "fetch"),
        edge("e2", "fetch", "route"),
        edge("e3", "route", "summarise", "big"),
        edge("e4", "route", "reshape", "small"),
    ]
    return nodes, edges


# --- a valid graph ----------------------------------------------------------------------


def test_a_valid_workflow_has_no_issues() -> None:
    # Given a workflow with every node type, wired correctly
    nodes, edges = valid_workflow()

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then there is nothing to report
    assert result.valid
    assert result.issues() == []


def test_check_graph_data_parses_and_validates_raw_data() -> None:
    # Given the same workflow as raw JSON-like data
    nodes, edges = valid_workflow()

    # When it is checked
    graph, result = check_graph_data(graph_data(nodes, edges))

    # Then it parsed and is valid
    assert graph is not None
    assert [n.id for n in graph.nodes] == ["start", "fetch", "route", "summarise", "reshape"]
    assert result.valid
    assert result.issues() == []


# --- one test per issue code --------------------------------------------------------------


def test_invalid_format_comes_back_from_check_graph_data_with_path_and_node() -> None:
    # Given raw data whose node has a label of the wrong type
    nodes, edges = valid_workflow()
    nodes[1]["data"]["label"] = ["not", "text"]

    # When it is checked
    graph, result = check_graph_data(graph_data(nodes, edges))

    # Then nothing parsed and the one error names the field path and node 'fetch'
    assert graph is None
    issue = only(result, IssueCode.INVALID_FORMAT)
    assert issue.severity is Severity.ERROR
    assert issue.node_id == "fetch"
    assert issue.edge_id is None
    assert issue.field == "nodes[1].data.label"
    assert "nodes[1].data.label" in issue.message
    assert "'fetch'" in issue.message
    assert result.errors == [issue]


def test_graph_too_large_for_ten_thousand_nodes_comes_back_quickly() -> None:
    # Given a parsed graph of 10,000 nodes (twice the limit) and a chain of edges
    ids = [f"n{i}" for i in range(10_000)]
    graph = make_graph([node(node_id) for node_id in ids], chain(*ids))

    # When it is validated
    started = time.perf_counter()
    result = validate_graph(graph)
    elapsed = time.perf_counter() - started

    # Then the only issue is GRAPH_TOO_LARGE, found without running the other checks
    issue = only(result, IssueCode.GRAPH_TOO_LARGE)
    assert result.errors == [issue]
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == (None, None)
    assert "10000 nodes" in issue.message
    assert f"{MAX_NODES} nodes" in issue.message
    assert elapsed < 0.5


def test_graph_too_large_is_found_before_parsing_raw_data() -> None:
    # Given raw data of 10,000 nodes that would each fail to parse
    data = {"name": "huge", "nodes": [{"broken": True}] * 10_000, "edges": []}

    # When it is checked
    started = time.perf_counter()
    graph, result = check_graph_data(data)
    elapsed = time.perf_counter() - started

    # Then the size is the one error (no 10,000 format errors), and it came back at once
    assert graph is None
    assert [issue.code for issue in result.errors] == [IssueCode.GRAPH_TOO_LARGE]
    assert elapsed < 0.5


def test_graph_too_large_counts_edges_too() -> None:
    # Given raw data within the node limit but over the edge limit
    data = graph_data(
        [node("start", "trigger")],
        [edge(f"e{i}", "start", "start") for i in range(MAX_EDGES + 1)],
    )

    # When it is checked
    _, result = check_graph_data(data)

    # Then the edge count is named
    issue = only(result, IssueCode.GRAPH_TOO_LARGE)
    assert f"{MAX_EDGES + 1} edges" in issue.message


def test_a_graph_of_exactly_the_limits_is_not_too_large() -> None:
    # Given a chain of exactly MAX_NODES nodes
    ids = [f"n{i}" for i in range(MAX_NODES)]
    nodes = [node(ids[0], "trigger"), *(node(node_id) for node_id in ids[1:])]

    # When it is validated
    result = validate_graph(make_graph(nodes, chain(*ids)))

    # Then it is valid
    assert result.valid, [issue.describe() for issue in result.issues()[:3]]


def test_duplicate_node_id() -> None:
    # Given two nodes that share the id 'fetch'
    nodes, edges = valid_workflow()
    nodes.append(node("fetch", "http"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then one error names the id and how many share it
    issue = only(result, IssueCode.DUPLICATE_NODE_ID)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == ("fetch", None)
    assert "'fetch'" in issue.message
    assert "2 nodes" in issue.message


def test_duplicate_edge_id() -> None:
    # Given two edges that share the id 'e2'
    nodes, edges = valid_workflow()
    edges.append(edge("e2", "start", "reshape"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then one error is tied to the edge id
    issue = only(result, IssueCode.DUPLICATE_EDGE_ID)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == (None, "e2")
    assert "'e2'" in issue.message
    assert "2 edges" in issue.message


def test_unknown_node_type() -> None:
    # Given a node of a type nobody registered
    nodes, edges = valid_workflow()
    nodes.append(node("mail", "email"))
    edges.append(edge("e5", "fetch", "mail"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the error names the node, its type and the known types
    issue = only(result, IssueCode.UNKNOWN_NODE_TYPE)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id, issue.field) == ("mail", None, "type")
    assert "'mail'" in issue.message
    assert "'email'" in issue.message
    assert "http" in issue.message and "trigger" in issue.message
    assert result.errors == [issue]


def test_invalid_config_reports_each_bad_field_of_the_node() -> None:
    # Given an http node with a misspelt method and a timeout over the maximum
    nodes, edges = valid_workflow()
    nodes[1] = node(
        "fetch", "http", config={"method": "GETT", "url": "https://x.test", "timeout": 10**9}
    )

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then each field is its own error, tied to the node and naming it
    found = issues_of(result, IssueCode.INVALID_CONFIG)
    assert {issue.field for issue in found} == {"config.method", "config.timeout"}
    for issue in found:
        assert issue.severity is Severity.ERROR
        assert (issue.node_id, issue.edge_id) == ("fetch", None)
        assert "'fetch'" in issue.message
        assert issue.field is not None and issue.field in issue.message
    assert codes_of(result) == {IssueCode.INVALID_CONFIG}


@pytest.mark.parametrize(
    ("node_type", "config", "field"),
    [
        ("http", {}, "config.url"),
        ("http", {"url": "https://x.test", "retries": 3}, "config.retries"),
        ("transform", {"language": "python", "code": "x"}, "config.language"),
        (
            "ai",
            {"provider": "openai", "model": "m", "prompt": "p", "temperature": 3},
            "config.temperature",
        ),
        ("trigger", {"source": "cron"}, "config.source"),
        (
            "condition",
            {"conditions": [{"field": "a", "operator": "~", "branch": "b"}]},
            "config.conditions[0].operator",
        ),
    ],
)
def test_invalid_config_for_each_node_type(
    node_type: str, config: dict[str, Any], field: str
) -> None:
    # Given a node whose config breaks its type's schema
    nodes = [node("start", "trigger"), node("bad", node_type, config=config)]
    if node_type == "trigger":
        nodes = [node("bad", "trigger", config=config)]

    # When it is validated
    result = validate_graph(make_graph(nodes, chain(*(n["id"] for n in nodes))))

    # Then the error names the config field (camelCase path) and the node
    issue = only(result, IssueCode.INVALID_CONFIG)
    assert (issue.node_id, issue.field) == ("bad", field)
    assert field in issue.message


# --- templates and code, checked before saving ------------------------------------------


def test_a_template_syntax_error_is_reported_with_its_line_and_column() -> None:
    # Given an AI node whose prompt's second line has an unclosed expression
    nodes, edges = valid_workflow()
    config = {**VALID_CONFIGS["ai"], "prompt": "Hello\nTotal: {{ trigger.data.total "}
    nodes.append(node("write", "ai", config=config))
    edges.append(edge("to-write", "start", "write"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then one INVALID_TEMPLATE error points at the field, the line and the column
    issue = only(result, IssueCode.INVALID_TEMPLATE)
    assert (issue.node_id, issue.field, issue.severity) == (
        "write",
        "config.prompt",
        Severity.ERROR,
    )
    assert "line 2, column" in issue.message
    assert "'write'" in issue.message


def test_a_template_naming_a_missing_node_or_an_unknown_name_is_an_error() -> None:
    # Given templates in a condition rule, a header and a JSON body that refer to a
    # node id that is not in the workflow and to a name templates cannot see
    nodes, edges = valid_workflow()
    nodes.append(
        node(
            "post",
            "http",
            config={
                "method": "POST",
                "url": "https://x.test/{{ trigger.data.id }}",
                "headers": {"X-Total": "{{ nodes.fetchh.body.total }}"},
                "body": {"items": [{"name": "{{ input.name }}"}]},
            },
        )
    )
    edges.append(edge("to-post", "start", "post"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then each bad template is reported at its own field; the good URL is not
    found = {issue.field: issue.message for issue in issues_of(result, IssueCode.INVALID_TEMPLATE)}
    assert set(found) == {"config.headers.X-Total", "config.body.items.0.name"}
    assert "unknown node 'fetchh'" in found["config.headers.X-Total"]
    assert "unknown name 'input'" in found["config.body.items.0.name"]
    assert codes_of(result) == {IssueCode.INVALID_TEMPLATE}


def test_templates_may_refer_to_any_node_of_the_workflow() -> None:
    # Given a condition that reads an earlier node's output by id
    nodes, edges = valid_workflow()
    config = {
        "conditions": [
            {"field": "{{ nodes.fetch.body.total }}", "operator": "gt", "value": 1, "branch": "big"}
        ],
        "defaultBranch": "small",
    }
    nodes = [
        node_ if node_["id"] != "route" else node("route", "condition", config=config)
        for node_ in nodes
    ]

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then it is valid
    assert result.valid, [issue.describe() for issue in result.issues()]


@pytest.mark.parametrize(
    ("language", "code", "hint"),
    [
        ("javascript", "return trigger.data.n *;", "SyntaxError"),
        ("jsonata", "$sum(nodes.fetch.body.items.price", ""),
    ],
)
def test_transform_code_that_does_not_compile_is_an_invalid_config(
    language: str, code: str, hint: str
) -> None:
    # Given a transform whose code has a syntax error
    nodes, edges = valid_workflow()
    nodes.append(node("calc", "transform", config={"language": language, "code": code}))
    edges.append(edge("to-calc", "start", "calc"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the error is on config.code and says what is wrong
    issue = only(result, IssueCode.INVALID_CONFIG)
    assert (issue.node_id, issue.field) == ("calc", "config.code")
    assert hint in issue.message


def test_edge_source_missing() -> None:
    # Given an edge that starts at a node that does not exist
    nodes, edges = valid_workflow()
    edges.append(edge("ghost-edge", "ghost", "reshape"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the error is tied to the edge and names the missing node
    issue = only(result, IssueCode.EDGE_SOURCE_MISSING)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == (None, "ghost-edge")
    assert "'ghost-edge'" in issue.message
    assert "'ghost'" in issue.message
    assert codes_of(result) == {IssueCode.EDGE_SOURCE_MISSING}


def test_edge_target_missing() -> None:
    # Given an edge that ends at a node that does not exist
    nodes, edges = valid_workflow()
    edges.append(edge("dangling", "reshape", "nowhere"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the error is tied to the edge and names the missing node
    issue = only(result, IssueCode.EDGE_TARGET_MISSING)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == (None, "dangling")
    assert "'dangling'" in issue.message
    assert "'nowhere'" in issue.message
    assert codes_of(result) == {IssueCode.EDGE_TARGET_MISSING}


def test_an_edge_between_two_missing_nodes_reports_both_ends() -> None:
    # Given an edge whose two ends are missing
    nodes, edges = valid_workflow()
    edges.append(edge("lost", "from-nowhere", "to-nowhere"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then both ends are reported for that edge
    assert codes_of(result) == {IssueCode.EDGE_SOURCE_MISSING, IssueCode.EDGE_TARGET_MISSING}
    assert {issue.edge_id for issue in result.errors} == {"lost"}


def test_self_loop() -> None:
    # Given an edge from 'reshape' back to itself
    nodes, edges = valid_workflow()
    edges.append(edge("again", "reshape", "reshape"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then it is a SELF_LOOP tied to both the edge and the node (and not also a CYCLE)
    issue = only(result, IssueCode.SELF_LOOP)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == ("reshape", "again")
    assert "'again'" in issue.message
    assert "'reshape'" in issue.message
    assert codes_of(result) == {IssueCode.SELF_LOOP}


def test_cycle_names_every_node_on_it() -> None:
    # Given fetch -> a -> b -> c -> a, with d hanging off c (d is not on the cycle)
    nodes = [node("start", "trigger"), node("fetch", "http"), *(node(n) for n in "abcd")]
    edges = [*chain("start", "fetch", "a", "b", "c", "a"), edge("c-d", "c", "d")]

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then there is one CYCLE error per node on the cycle, each naming the whole cycle,
    # starting from the node listed first
    found = issues_of(result, IssueCode.CYCLE)
    assert [issue.node_id for issue in found] == ["a", "b", "c"]
    for issue in found:
        assert issue.severity is Severity.ERROR
        assert issue.edge_id is None
        assert cycle_in(issue.message) == ["a", "b", "c", "a"]
        assert "acyclic" in issue.message
    assert codes_of(result) == {IssueCode.CYCLE}


def test_two_separate_cycles_are_both_reported() -> None:
    # Given two disjoint cycles: x <-> y and p -> q -> r -> p
    nodes = [node("start", "trigger"), *(node(n) for n in ("x", "y", "p", "q", "r"))]
    edges = [*chain("start", "x", "y", "x"), *chain("start", "p", "q", "r", "p")]

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then each node on either cycle is reported, with its own cycle in the message
    by_node = {
        issue.node_id: cycle_in(issue.message) for issue in issues_of(result, IssueCode.CYCLE)
    }
    assert set(by_node) == {"x", "y", "p", "q", "r"}
    assert by_node["x"] == by_node["y"] == ["x", "y", "x"]
    assert by_node["p"] == by_node["q"] == by_node["r"] == ["p", "q", "r", "p"]


def test_a_long_cycle_message_stays_short_but_every_node_is_reported() -> None:
    # Given a cycle through 300 nodes
    ids = [f"n{i}" for i in range(300)]
    nodes = [node("start", "trigger"), *(node(n) for n in ids)]
    edges = [*chain("start", *ids), edge("back", ids[-1], ids[0])]

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then all 300 nodes get a CYCLE error, and the message lists the first ones only
    found = issues_of(result, IssueCode.CYCLE)
    assert sorted(issue.node_id or "" for issue in found) == sorted(ids)
    message = found[0].message
    assert cycle_in(message) == [*ids[:20], "… (280 more)", "n0"]
    assert len(message) < 400


CYCLE_SCRIPT = """
from workfuse.graph import parse_graph
from workfuse.graph_validation import validate_graph
ids = [f"n{i}" for i in range(12)]
nodes = [{"id": "t", "type": "trigger", "data": {"label": "T"}}] + [
    {"id": i, "type": "transform", "data": {"label": i, "config": {"code": "$"}}} for i in ids
]
edges = [{"id": "e" + a + b, "source": a, "target": b} for a, b in
         [("t", "n0"), ("n3", "n4"), ("n4", "n5"), ("n5", "n3"), ("n8", "n9"), ("n9", "n8")]]
result = validate_graph(parse_graph({"name": "c", "nodes": nodes, "edges": edges}))
print([(issue.node_id, issue.message) for issue in result.errors])
"""


def test_cycle_issues_do_not_depend_on_string_hashing() -> None:
    # Given the same cyclic graph validated in processes with different hash seeds
    outputs = set()
    for seed in ("0", "1", "2", "3", "4"):
        # When it is validated
        done = subprocess.run(
            [sys.executable, "-c", CYCLE_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout)

    # Then every process names the same cycles, in the same order
    assert len(outputs) == 1
    assert "n3 → n4 → n5 → n3" in outputs.pop()


def test_no_trigger() -> None:
    # Given a workflow without a trigger
    nodes = [node("fetch", "http"), node("reshape")]

    # When it is validated
    result = validate_graph(make_graph(nodes, chain("fetch", "reshape")))

    # Then one error, tied to no node, says so
    issue = only(result, IssueCode.NO_TRIGGER)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == (None, None)
    assert "trigger" in issue.message
    assert codes_of(result) == {IssueCode.NO_TRIGGER}


def test_an_empty_graph_has_no_trigger() -> None:
    # Given a graph with no nodes at all
    # When it is validated
    result = validate_graph(make_graph([]))

    # Then the only problem is the missing trigger
    assert [issue.code for issue in result.issues()] == [IssueCode.NO_TRIGGER]


def test_multiple_triggers_names_every_extra_trigger() -> None:
    # Given three triggers
    nodes, edges = valid_workflow()
    nodes += [node("hook2", "trigger"), node("hook3", "trigger")]
    edges += [edge("e5", "hook2", "fetch"), edge("e6", "hook3", "fetch")]

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the second and third are each an error naming them and their number
    found = issues_of(result, IssueCode.MULTIPLE_TRIGGERS)
    assert [(issue.node_id, issue.edge_id) for issue in found] == [
        ("hook2", None),
        ("hook3", None),
    ]
    assert "'hook2'" in found[0].message and "2 of 3" in found[0].message
    assert "'hook3'" in found[1].message and "3 of 3" in found[1].message
    assert all(issue.severity is Severity.ERROR for issue in found)
    assert codes_of(result) == {IssueCode.MULTIPLE_TRIGGERS}


def test_identical_repeated_triggers_are_numbered_by_position() -> None:
    # Given two triggers that are equal in every field (same id too)
    nodes = [node("start", "trigger"), node("start", "trigger")]

    # When it is validated
    result = validate_graph(make_graph(nodes))

    # Then the second is "number 2", not mistaken for the first
    issue = only(result, IssueCode.MULTIPLE_TRIGGERS)
    assert "number 2 of 2" in issue.message


def test_many_triggers_are_checked_in_linear_time() -> None:
    # Given 5,000 triggers (each one too many but the first)
    graph = make_graph([node(f"t{i}", "trigger") for i in range(MAX_NODES)])

    # When it is validated
    started = time.perf_counter()
    result = validate_graph(graph)
    elapsed = time.perf_counter() - started

    # Then every extra trigger is reported, in well under a second
    assert len(issues_of(result, IssueCode.MULTIPLE_TRIGGERS)) == MAX_NODES - 1
    assert elapsed < 2.0


def test_trigger_has_incoming_edge() -> None:
    # Given an edge from 'reshape' into the trigger
    nodes, edges = valid_workflow()
    edges.append(edge("back-to-start", "reshape", "start"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the error is tied to the edge and the trigger, naming both
    issue = only(result, IssueCode.TRIGGER_HAS_INCOMING_EDGE)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == ("start", "back-to-start")
    assert "'back-to-start'" in issue.message
    assert "'start'" in issue.message


def test_branch_without_edge() -> None:
    # Given a condition whose 'small' branch leads nowhere
    nodes, edges = valid_workflow()
    edges = [e for e in edges if e.get("sourceHandle") != "small"]

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the error names the branch and the condition node
    issue = only(result, IssueCode.BRANCH_WITHOUT_EDGE)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id, issue.field) == ("route", None, "branch:small")
    assert "'small'" in issue.message
    assert "'route'" in issue.message
    # ('reshape' is now unreachable, which is a warning only)
    assert {i.code for i in result.errors} == {IssueCode.BRANCH_WITHOUT_EDGE}


def test_every_branch_of_an_unwired_condition_is_reported() -> None:
    # Given a condition with rules for 'a' and 'b', default 'rest', and no outgoing edges
    config = {
        "conditions": [
            {"field": "x", "operator": "eq", "value": 1, "branch": "a"},
            {"field": "x", "operator": "eq", "value": 2, "branch": "b"},
            {"field": "x", "operator": "eq", "value": 3, "branch": "a"},
        ],
        "defaultBranch": "rest",
    }
    nodes = [node("start", "trigger"), node("route", "condition", config=config)]

    # When it is validated
    result = validate_graph(make_graph(nodes, chain("start", "route")))

    # Then each distinct branch is reported once, in rule order, default last
    found = issues_of(result, IssueCode.BRANCH_WITHOUT_EDGE)
    assert [issue.field for issue in found] == ["branch:a", "branch:b", "branch:rest"]


def test_unknown_branch_handle() -> None:
    # Given an extra edge leaving the condition through a handle it does not have
    nodes, edges = valid_workflow()
    edges.append(edge("e-maybe", "route", "reshape", "maybe"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the error is tied to the edge and the condition and names the handle
    issue = only(result, IssueCode.UNKNOWN_BRANCH_HANDLE)
    assert issue.severity is Severity.ERROR
    assert (issue.node_id, issue.edge_id) == ("route", "e-maybe")
    assert "'e-maybe'" in issue.message
    assert "'route'" in issue.message
    assert "'maybe'" in issue.message
    assert "big, small" in issue.message
    assert codes_of(result) == {IssueCode.UNKNOWN_BRANCH_HANDLE}


def test_an_edge_without_a_handle_from_a_condition_is_an_unknown_branch() -> None:
    # Given a condition whose 'small' edge lost its sourceHandle
    nodes, edges = valid_workflow()
    edges[3] = edge("e4", "route", "reshape")

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then that edge is refused, and 'small' is reported as unwired
    issue = only(result, IssueCode.UNKNOWN_BRANCH_HANDLE)
    assert (issue.node_id, issue.edge_id) == ("route", "e4")
    assert "no branch" in issue.message
    assert only(result, IssueCode.BRANCH_WITHOUT_EDGE).field == "branch:small"


def test_handles_on_edges_from_other_node_types_are_not_branch_checked() -> None:
    # Given an http node whose edge carries a handle name
    nodes, edges = valid_workflow()
    edges[1] = edge("e2", "fetch", "route", "out")

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then only condition nodes have branches to check
    assert result.valid


def test_a_condition_with_an_invalid_config_gets_no_branch_checks() -> None:
    # Given a condition whose config does not parse, with an odd handle
    nodes, edges = valid_workflow()
    nodes[2] = node("route", "condition", config={"defaultBranch": ""})

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then the config error is reported, and no branch errors are guessed
    assert codes_of(result) == {IssueCode.INVALID_CONFIG}


def test_unreachable_node_is_a_warning_and_the_graph_stays_valid() -> None:
    # Given a node that no edge leads to
    nodes, edges = valid_workflow()
    nodes.append(node("orphan", label="Forgotten step"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then a warning names the node, and there are no errors
    assert result.valid
    assert result.errors == []
    issue = only(result, IssueCode.UNREACHABLE_NODE)
    assert issue.severity is Severity.WARNING
    assert result.warnings == [issue]
    assert (issue.node_id, issue.edge_id) == ("orphan", None)
    assert "'orphan'" in issue.message
    assert "Forgotten step" in issue.message


def test_nodes_downstream_of_an_unreachable_node_are_unreachable_too() -> None:
    # Given island -> island2, not connected to the trigger
    nodes, edges = valid_workflow()
    nodes += [node("island"), node("island2")]
    edges.append(edge("e9", "island", "island2"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then both are warned about, in node order
    found = issues_of(result, IssueCode.UNREACHABLE_NODE)
    assert [issue.node_id for issue in found] == ["island", "island2"]


def test_reachability_is_not_judged_without_exactly_one_trigger() -> None:
    # Given two triggers and a node neither reaches
    nodes = [node("t1", "trigger"), node("t2", "trigger"), node("alone")]

    # When it is validated
    result = validate_graph(make_graph(nodes))

    # Then there is no UNREACHABLE_NODE (which trigger would it be measured from?)
    assert IssueCode.UNREACHABLE_NODE not in codes_of(result)


def test_a_config_nested_too_deeply_is_a_format_error() -> None:
    """Found by tests/fuzz: a config 300 levels deep passed validation, then saving it
    failed with "Maximum serialization depth exceeded" (a 500)."""
    from workfuse.db_types import MAX_JSON_DEPTH

    # Given trigger configs nested to the limit and one level over it
    deepest: Any = 1
    for _ in range(MAX_JSON_DEPTH - 1):  # the config itself is one level
        deepest = [deepest]
    fits = node("t", "trigger", config={"samplePayload": {}})
    fits["data"]["config"]["samplePayload"] = {"x": deepest[0]}
    over = node("t", "trigger", config={"samplePayload": {"x": deepest}})

    # When they are checked
    parsed, allowed = check_graph_data(graph_data([fits]))
    refused, result = check_graph_data(graph_data([over]))

    # Then the first parses and is valid; the second is one INVALID_FORMAT error
    assert parsed is not None and allowed.valid
    assert refused is None
    issue = only(result, IssueCode.INVALID_FORMAT)
    assert (issue.node_id, issue.field) == ("t", "data.config")
    assert f"more than {MAX_JSON_DEPTH} levels" in issue.message


SCENARIOS: dict[IssueCode, tuple[list[dict[str, Any]], list[dict[str, Any]]] | dict[str, Any]] = {
    IssueCode.INVALID_FORMAT: graph_data([{"id": "x"}]),
    IssueCode.GRAPH_TOO_LARGE: graph_data([node(f"n{i}") for i in range(MAX_NODES + 1)]),
    IssueCode.DUPLICATE_NODE_ID: graph_data([node("t", "trigger"), node("t", "trigger")]),
    IssueCode.DUPLICATE_EDGE_ID: graph_data(
        [node("t", "trigger"), node("a"), node("b")], [edge("e", "t", "a"), edge("e", "t", "b")]
    ),
    IssueCode.UNKNOWN_NODE_TYPE: graph_data([node("t", "trigger"), node("a", "fax")]),
    IssueCode.INVALID_CONFIG: graph_data([node("t", "trigger", config={"bogus": 1})]),
    IssueCode.INVALID_TEMPLATE: graph_data(
        [
            node("t", "trigger"),
            node("a", "ai", config={**VALID_CONFIGS["ai"], "prompt": "{{ nodes.ghost }}"}),
        ],
        chain("t", "a"),
    ),
    IssueCode.EDGE_SOURCE_MISSING: graph_data([node("t", "trigger")], [edge("e", "zz", "t")]),
    IssueCode.EDGE_TARGET_MISSING: graph_data([node("t", "trigger")], [edge("e", "t", "zz")]),
    IssueCode.SELF_LOOP: graph_data([node("t", "trigger"), node("a")], [edge("e", "a", "a")]),
    IssueCode.CYCLE: graph_data(
        [node("t", "trigger"), node("a"), node("b")], chain("t", "a", "b", "a")
    ),
    IssueCode.NO_TRIGGER: graph_data([node("a")]),
    IssueCode.MULTIPLE_TRIGGERS: graph_data([node("t", "trigger"), node("u", "trigger")]),
    IssueCode.TRIGGER_HAS_INCOMING_EDGE: graph_data(
        [node("t", "trigger"), node("a")], chain("t", "a", "t")
    ),
    IssueCode.BRANCH_WITHOUT_EDGE: graph_data(
        [node("t", "trigger"), node("c", "condition")], chain("t", "c")
    ),
    IssueCode.UNKNOWN_BRANCH_HANDLE: graph_data(
        [node("t", "trigger"), node("c", "condition"), node("a")],
        [*chain("t", "c"), edge("x", "c", "a", "nope")],
    ),
    IssueCode.UNREACHABLE_NODE: graph_data([node("t", "trigger"), node("a")]),
}


@pytest.mark.parametrize("code", list(IssueCode), ids=str)
def test_every_issue_code_has_a_scenario(code: IssueCode) -> None:
    # Given the smallest raw graph meant to produce ``code``
    assert code in SCENARIOS, f"add a scenario (and a dedicated test) for {code}"

    # When it is checked
    _, result = check_graph_data(SCENARIOS[code])

    # Then ``code`` is among the issues, with the severity the code implies
    found = issues_of(result, code)
    assert found, [issue.describe() for issue in result.issues()]
    expected = Severity.WARNING if code is IssueCode.UNREACHABLE_NODE else Severity.ERROR
    assert {issue.severity for issue in found} == {expected}


# --- everything at once -------------------------------------------------------------------


def test_every_problem_of_a_graph_is_reported_at_once() -> None:
    # Given a graph with many different problems
    nodes = [
        node("start", "trigger"),
        node("start2", "trigger"),
        node("fetch", "http", config={"method": "GETT", "url": "u"}),
        node("fetch", "transform"),
        node("mail", "email"),
        node("route", "condition"),
        node("a"),
        node("b"),
        node("orphan"),
        node("ask", "ai", config={**VALID_CONFIGS["ai"], "prompt": "{{ nodes.nobody }}"}),
    ]
    edges = [
        edge("e1", "start", "fetch"),
        edge("e1", "fetch", "route"),
        edge("e3", "route", "a", "big"),
        edge("e4", "route", "b", "huge"),
        edge("e5", "a", "b"),
        edge("e6", "b", "a"),
        edge("e7", "b", "b"),
        edge("e8", "ghost", "a"),
        edge("e9", "a", "nowhere"),
        edge("e10", "a", "start"),
    ]

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then every kind of problem is there, each tied to its node or edge
    where = {(issue.code, issue.node_id, issue.edge_id) for issue in result.issues()}
    assert where >= {
        (IssueCode.DUPLICATE_NODE_ID, "fetch", None),
        (IssueCode.DUPLICATE_EDGE_ID, None, "e1"),
        (IssueCode.UNKNOWN_NODE_TYPE, "mail", None),
        (IssueCode.INVALID_CONFIG, "fetch", None),
        (IssueCode.EDGE_SOURCE_MISSING, None, "e8"),
        (IssueCode.EDGE_TARGET_MISSING, None, "e9"),
        (IssueCode.SELF_LOOP, "b", "e7"),
        (IssueCode.MULTIPLE_TRIGGERS, "start2", None),
        (IssueCode.TRIGGER_HAS_INCOMING_EDGE, "start", "e10"),
        (IssueCode.UNKNOWN_BRANCH_HANDLE, "route", "e4"),
        (IssueCode.BRANCH_WITHOUT_EDGE, "route", None),
        (IssueCode.CYCLE, "a", None),
        (IssueCode.CYCLE, "b", None),
        (IssueCode.INVALID_TEMPLATE, "ask", None),
    }
    assert codes_of(result) == set(IssueCode) - {
        IssueCode.INVALID_FORMAT,
        IssueCode.GRAPH_TOO_LARGE,
        IssueCode.NO_TRIGGER,
        IssueCode.UNREACHABLE_NODE,  # two triggers: reachability is not judged
    }


def test_errors_and_warnings_together() -> None:
    # Given a graph with an unreachable node and a missing edge target
    nodes, edges = valid_workflow()
    nodes.append(node("orphan"))
    edges.append(edge("bad", "reshape", "nowhere"))

    # When it is validated
    result = validate_graph(make_graph(nodes, edges))

    # Then both come back, each in its own list
    assert [issue.code for issue in result.errors] == [IssueCode.EDGE_TARGET_MISSING]
    assert [issue.code for issue in result.warnings] == [IssueCode.UNREACHABLE_NODE]
    assert not result.valid


def test_validation_is_deterministic() -> None:
    # Given a graph with several problems
    nodes, edges = valid_workflow()
    nodes += [node("x"), node("y"), node("fetch")]
    edges += [*chain("x", "y", "x"), edge("e1", "y", "zz")]
    graph = make_graph(nodes, edges)

    # When it is validated twice
    first, second = validate_graph(graph), validate_graph(graph)

    # Then the issues are identical, in the same order
    assert first == second
    assert first.issues()


# --- execution order ----------------------------------------------------------------------


def test_execution_order_of_the_valid_workflow() -> None:
    # Given the valid workflow
    nodes, edges = valid_workflow()

    # When its execution order is computed
    order = execution_order(make_graph(nodes, edges))

    # Then it follows the edges, ties by node-list order
    assert order == ["start", "fetch", "route", "summarise", "reshape"]


def test_ties_are_broken_by_the_order_of_the_node_list() -> None:
    # Given a trigger fanning out to three nodes, listed c, a, b
    nodes = [node("t", "trigger"), node("c"), node("a"), node("b")]
    edges = [edge("1", "t", "a"), edge("2", "t", "b"), edge("3", "t", "c")]

    # When the order is computed, and again with the list reversed after the trigger
    order = execution_order(make_graph(nodes, edges))
    reversed_order = execution_order(make_graph([nodes[0], *nodes[:0:-1]], edges))

    # Then the list order decides, not the ids or the edge order
    assert order == ["t", "c", "a", "b"]
    assert reversed_order == ["t", "b", "a", "c"]


def test_a_node_listed_first_still_waits_for_its_inputs() -> None:
    # Given 'last' listed first but fed by 'middle'
    nodes = [node("last"), node("middle"), node("t", "trigger")]
    edges = [*chain("t", "middle", "last")]

    # When the order is computed
    order = execution_order(make_graph(nodes, edges))

    # Then the edges win over list order
    assert order == ["t", "middle", "last"]


def test_the_earliest_ready_node_runs_next() -> None:
    # Given t -> x -> z and t -> y, listed t, z, y, x
    nodes = [node("t", "trigger"), node("z"), node("y"), node("x")]
    edges = [*chain("t", "x", "z"), edge("ty", "t", "y")]

    # When the order is computed
    order = execution_order(make_graph(nodes, edges))

    # Then after t, y (listed before x) runs first; z runs once x is done
    assert order == ["t", "y", "x", "z"]


def test_execution_order_refuses_a_cycle() -> None:
    # Given a graph with a cycle
    nodes = [node("t", "trigger"), node("a"), node("b")]

    # When its order is asked for
    # Then it is refused as networkx refuses it
    with pytest.raises(nx.NetworkXUnfeasible):
        execution_order(make_graph(nodes, chain("t", "a", "b", "a")))


def test_execution_order_refuses_a_self_loop() -> None:
    # Given a graph whose only defect is a self-loop
    nodes = [node("t", "trigger"), node("a")]

    # When its order is asked for
    # Then it is refused
    with pytest.raises(nx.NetworkXUnfeasible):
        execution_order(make_graph(nodes, [*chain("t", "a"), edge("aa", "a", "a")]))


def test_execution_order_ignores_edges_to_missing_nodes() -> None:
    # Given edges into and out of nodes that do not exist
    nodes = [node("t", "trigger"), node("a")]
    edges = [*chain("t", "a"), edge("x", "ghost", "t"), edge("y", "a", "ghost")]

    # When the order is computed
    # Then only existing nodes appear
    assert execution_order(make_graph(nodes, edges)) == ["t", "a"]


def test_execution_order_of_an_empty_graph_is_empty() -> None:
    # Given no nodes
    # When the order is computed
    # Then it is empty
    assert execution_order(make_graph([])) == []


def test_build_digraph_keeps_existing_ends_only() -> None:
    # Given edges with a missing end and a parallel edge
    nodes = [node("t", "trigger"), node("a")]
    edges = [*chain("t", "a"), edge("again", "t", "a"), edge("x", "t", "ghost")]

    # When the networkx graph is built
    digraph = build_digraph(make_graph(nodes, edges))

    # Then it has the nodes and the one real edge
    assert list(digraph.nodes) == ["t", "a"]
    assert list(digraph.edges) == [("t", "a")]


def _reference_order(node_ids: Sequence[str], pairs: Iterable[tuple[str, str]]) -> list[str]:
    """Repeatedly take the earliest-listed node whose inputs have all run."""
    inputs: dict[str, set[str]] = {node_id: set() for node_id in node_ids}
    for source, target in pairs:
        inputs[target].add(source)
    done: list[str] = []
    while len(done) < len(node_ids):
        ready = next(n for n in node_ids if n not in done and inputs[n] <= set(done))
        done.append(ready)
    return done


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """A random DAG: node ids in list order, and edges (some parallel) between them.

    Edges go from lower to higher rank in a hidden topological rank that is shuffled
    independently of the list order, so list order and edge direction disagree often.
    """
    size = draw(st.integers(min_value=0, max_value=25))
    ranked = [f"n{i}" for i in range(size)]
    listed = draw(st.permutations(ranked))
    pairs: list[tuple[str, str]] = []
    if size >= 2:
        index_pairs = draw(
            st.lists(
                st.tuples(
                    st.integers(min_value=0, max_value=size - 1),
                    st.integers(min_value=0, max_value=size - 1),
                ).filter(lambda ab: ab[0] != ab[1]),
                max_size=size * 3,
            )
        )
        pairs = [(ranked[min(a, b)], ranked[max(a, b)]) for a, b in index_pairs]
    return listed, pairs


def _graph_of(listed: Sequence[str], pairs: Sequence[tuple[str, str]]) -> WorkflowGraph:
    return make_graph(
        [node(node_id) for node_id in listed],
        [edge(f"e{i}", source, target) for i, (source, target) in enumerate(pairs)],
    )


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags())
def test_execution_order_property_on_random_dags(
    dag: tuple[list[str], list[tuple[str, str]]],
) -> None:
    # Given a random DAG
    listed, pairs = dag
    graph = _graph_of(listed, pairs)

    # When its execution order is computed
    order = execution_order(graph)

    # Then every node appears once, every edge points forward in the order,
    # the earliest-listed ready node always goes next, and it is what networkx gives
    assert sorted(order) == sorted(listed)
    place = {node_id: index for index, node_id in enumerate(order)}
    assert all(place[source] < place[target] for source, target in pairs)
    assert order == _reference_order(listed, pairs)
    index = {node_id: position for position, node_id in enumerate(listed)}
    expected = nx.lexicographical_topological_sort(build_digraph(graph), key=index.__getitem__)
    assert order == list(expected)
    assert execution_order(graph) == order


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_cycle_detection_agrees_with_networkx(
    dag: tuple[list[str], list[tuple[str, str]]], data: st.DataObject
) -> None:
    # Given a random DAG, sometimes with one edge added backwards
    listed, pairs = dag
    add_back_edge: bool = data.draw(st.booleans())
    if pairs and add_back_edge:
        source, target = data.draw(st.sampled_from(pairs))
        pairs = [*pairs, (target, source)]
    graph = _graph_of(listed, pairs)

    # When it is validated
    result = validate_graph(graph)

    # Then CYCLE is reported exactly when networkx finds a cycle, and the nodes
    # it names for each cycle really form one
    acyclic = nx.is_directed_acyclic_graph(build_digraph(graph))
    cycle_issues = issues_of(result, IssueCode.CYCLE)
    assert (not cycle_issues) == acyclic
    for issue in cycle_issues:
        path = issue.message.split(": ", 1)[1].split(";")[0].split(" → ")
        assert issue.node_id in path
        assert path[0] == path[-1]
        assert all((a, b) in set(pairs) for a, b in pairwise(path))
