"""The graph models: camelCase JSON in and out, and parse errors that say where and why.

Every parse problem is an ``INVALID_FORMAT`` issue naming the field path and, inside a
node or edge, that node's or edge's id. No database is needed here.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from workfuse.graph import (
    MAX_LABEL_LENGTH,
    GraphParseError,
    IssueCode,
    Severity,
    ValidationIssue,
    ValidationResult,
    WorkflowGraph,
    error_location,
    parse_graph,
)


def _node(node_id: str = "fetch", **overrides: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": node_id,
        "type": "http",
        "position": {"x": 10.0, "y": 20.0},
        "data": {"label": "Fetch orders", "config": {"url": "https://example.com"}},
    }
    node.update(overrides)
    return node


def _graph_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Orders",
        "nodes": [
            {"id": "start", "type": "trigger", "data": {"label": "Start"}},
            _node(),
        ],
        "edges": [{"id": "e1", "source": "start", "target": "fetch"}],
    }
    data.update(overrides)
    return data


def _parse_issues(data: Any) -> list[ValidationIssue]:
    with pytest.raises(GraphParseError) as caught:
        parse_graph(data)
    return caught.value.issues


# --- camelCase in and out ------------------------------------------------------------


def test_parse_reads_the_seeds_camel_case_fields() -> None:
    # Given a graph in the seed's JSON format
    data = _graph_data(
        id="wf-1",
        version=3,
        createdAt="2025-01-02T03:04:05Z",
        edges=[
            {
                "id": "e1",
                "source": "start",
                "target": "fetch",
                "sourceHandle": "out",
                "targetHandle": "in",
            }
        ],
    )
    data["nodes"][1]["data"]["retryPolicy"] = {
        "maxAttempts": 5,
        "backoffMultiplier": 3,
        "initialDelayMs": 250,
    }

    # When it is parsed
    graph = parse_graph(data)

    # Then every camelCase field lands on its snake_case attribute
    assert graph.id == "wf-1"
    assert graph.version == 3
    assert graph.created_at is not None and graph.created_at.year == 2025
    assert graph.edges[0].source_handle == "out"
    assert graph.edges[0].target_handle == "in"
    policy = graph.nodes[1].data.retry_policy
    assert policy is not None
    assert (policy.max_attempts, policy.backoff_multiplier, policy.initial_delay_ms) == (5, 3, 250)


def test_a_parsed_graph_dumps_camel_case_json_that_parses_back_equal() -> None:
    # Given a parsed graph with a retry policy and edge handles
    data = _graph_data(
        edges=[{"id": "e1", "source": "start", "target": "fetch", "sourceHandle": "out"}]
    )
    data["nodes"][1]["data"]["retryPolicy"] = {"maxAttempts": 2}
    graph = parse_graph(data)

    # When it is dumped to JSON
    text = graph.model_dump_json()
    dumped = json.loads(text)

    # Then the keys are camelCase, and the JSON parses back to the same graph
    assert "sourceHandle" in dumped["edges"][0]
    assert "source_handle" not in dumped["edges"][0]
    assert set(dumped["nodes"][1]["data"]["retryPolicy"]) == {
        "maxAttempts",
        "backoffMultiplier",
        "initialDelayMs",
    }
    assert "createdAt" in dumped
    assert parse_graph(dumped) == graph


def test_body_keeps_only_nodes_and_edges_without_nulls() -> None:
    # Given a graph with storage fields set and no edge handles
    graph = parse_graph(_graph_data(id="wf-1", version=2))

    # When its storable body is taken
    body = graph.body()

    # Then it has nodes and edges only, and no null handles or retry policies
    assert set(body) == {"nodes", "edges"}
    assert body["edges"] == [{"id": "e1", "source": "start", "target": "fetch"}]
    assert "retryPolicy" not in body["nodes"][1]["data"]


def test_defaults_fill_position_config_and_retry_policy() -> None:
    # Given a node with only id, type and label
    data = {"name": "Bare", "nodes": [{"id": "n", "type": "trigger", "data": {"label": "N"}}]}

    # When it is parsed
    graph = parse_graph(data)

    # Then position is the origin, config empty, retry policy absent, no edges
    node = graph.nodes[0]
    assert (node.position.x, node.position.y) == (0.0, 0.0)
    assert node.data.config == {}
    assert node.data.retry_policy is None
    assert graph.edges == []


# --- INVALID_FORMAT: where and why -----------------------------------------------------


def test_missing_label_names_the_field_path_and_the_node() -> None:
    # Given a node whose data has no label
    data = _graph_data(nodes=[_node("fetch", data={"config": {}})])

    # When it is parsed
    issues = _parse_issues(data)

    # Then one INVALID_FORMAT error names nodes[0].data.label and node 'fetch'
    assert len(issues) == 1
    issue = issues[0]
    assert issue.code is IssueCode.INVALID_FORMAT
    assert issue.severity is Severity.ERROR
    assert issue.field == "nodes[0].data.label"
    assert issue.node_id == "fetch"
    assert issue.edge_id is None
    assert "nodes[0].data.label" in issue.message
    assert "'fetch'" in issue.message
    assert "required" in issue.message.lower()


@pytest.mark.parametrize(
    ("node", "field", "words"),
    [
        (_node(data={"label": 42}), "nodes[0].data.label", "valid string"),
        (_node(position={"x": "left", "y": 0}), "nodes[0].position.x", "valid number"),
        (_node(type=["http"]), "nodes[0].type", "valid string"),
        (_node(data={"label": "L", "config": "GET /"}), "nodes[0].data.config", "dictionary"),
        (
            _node(data={"label": "L", "retryPolicy": {"maxAttempts": "many"}}),
            "nodes[0].data.retryPolicy.maxAttempts",
            "valid integer",
        ),
        (
            _node(data={"label": "L", "retryPolicy": {"maxAttempts": 21}}),
            "nodes[0].data.retryPolicy.maxAttempts",
            "less than or equal to 20",
        ),
    ],
)
def test_wrong_field_types_name_the_path_and_the_node(
    node: dict[str, Any], field: str, words: str
) -> None:
    # Given a node with one field of the wrong type (or out of range)
    data = _graph_data(nodes=[node])

    # When it is parsed
    issues = _parse_issues(data)

    # Then the single issue names that field and the node id
    assert [(issue.code, issue.field, issue.node_id) for issue in issues] == [
        (IssueCode.INVALID_FORMAT, field, "fetch")
    ]
    assert field in issues[0].message
    assert "'fetch'" in issues[0].message
    assert words in issues[0].message


def test_an_edge_with_a_wrong_type_names_the_edge() -> None:
    # Given an edge whose target is a number
    data = _graph_data(edges=[{"id": "e7", "source": "start", "target": 5}])

    # When it is parsed
    issues = _parse_issues(data)

    # Then the issue is tied to the edge, not to a node
    assert [(issue.field, issue.edge_id, issue.node_id) for issue in issues] == [
        ("edges[0].target", "e7", None)
    ]
    assert "'e7'" in issues[0].message


@pytest.mark.parametrize("bad_id", ["has space", "-leading-dash", "dot.ted", "ünïcode", ""])
def test_a_node_id_outside_the_pattern_is_refused(bad_id: str) -> None:
    # Given a node whose id breaks the id pattern
    data = _graph_data(nodes=[_node(bad_id)])

    # When it is parsed
    issues = _parse_issues(data)

    # Then the issue points at nodes[0].id
    assert [issue.field for issue in issues] == ["nodes[0].id"]
    assert issues[0].code is IssueCode.INVALID_FORMAT
    if bad_id:
        assert issues[0].node_id == bad_id
        assert repr(bad_id) in issues[0].message


@pytest.mark.parametrize("good_id", ["a", "node_1", "Node-2", "_private", "0abc", "x" * 128])
def test_node_ids_inside_the_pattern_are_accepted(good_id: str) -> None:
    # Given a node whose id fits the pattern and the length limit
    data = _graph_data(nodes=[_node(good_id)], edges=[])

    # When it is parsed
    graph = parse_graph(data)

    # Then the id is kept as given
    assert graph.nodes[0].id == good_id


def test_unknown_fields_are_refused_at_every_level() -> None:
    # Given unknown fields on the graph, a node, its data, its position and an edge
    node = _node(colour="red", position={"x": 0, "y": 0, "z": 1})
    node["data"]["notes"] = "typo of a field"
    data = _graph_data(
        nodes=[node],
        edges=[{"id": "e1", "source": "start", "target": "fetch", "weight": 2}],
        owner="ada",
    )

    # When it is parsed
    issues = _parse_issues(data)

    # Then each unknown field is reported at once, with its path and owner
    found = {(issue.field, issue.node_id, issue.edge_id) for issue in issues}
    assert found == {
        ("owner", None, None),
        ("nodes[0].colour", "fetch", None),
        ("nodes[0].position.z", "fetch", None),
        ("nodes[0].data.notes", "fetch", None),
        ("edges[0].weight", None, "e1"),
    }
    assert all(issue.code is IssueCode.INVALID_FORMAT for issue in issues)
    assert all("Extra inputs are not permitted" in issue.message for issue in issues)


def test_snake_case_field_names_are_also_accepted() -> None:
    # Given an edge written with the Python attribute name
    data = _graph_data(
        edges=[{"id": "e1", "source": "start", "target": "fetch", "source_handle": "out"}]
    )

    # When it is parsed
    graph = parse_graph(data)

    # Then the handle is read (populate_by_name)
    assert graph.edges[0].source_handle == "out"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("axis", ["x", "y"])
def test_nan_and_infinite_positions_are_refused(value: float, axis: str) -> None:
    # Given a node positioned at NaN or infinity
    position = {"x": 1.0, "y": 1.0, axis: value}
    data = _graph_data(nodes=[_node(position=position)])

    # When it is parsed
    issues = _parse_issues(data)

    # Then that coordinate is refused as not finite
    assert [(issue.field, issue.node_id) for issue in issues] == [
        (f"nodes[0].position.{axis}", "fetch")
    ]
    assert "finite" in issues[0].message


def test_every_problem_is_reported_at_once_in_a_parse_error() -> None:
    # Given three broken nodes and a broken edge
    data = _graph_data(
        nodes=[
            _node("a", data={}),
            _node("b", position={"x": math.nan, "y": 0}),
            _node("c c"),
        ],
        edges=[{"id": "e1", "source": "a"}],
    )

    # When it is parsed
    issues = _parse_issues(data)

    # Then each problem is its own issue
    assert {(issue.field, issue.node_id or issue.edge_id) for issue in issues} == {
        ("nodes[0].data.label", "a"),
        ("nodes[1].position.x", "b"),
        ("nodes[2].id", "c c"),
        ("edges[0].target", "e1"),
    }


def test_the_parse_error_message_joins_every_issue() -> None:
    # Given a graph with two problems
    data = _graph_data(name="", nodes=[_node("a", data={})])

    # When it is parsed
    with pytest.raises(GraphParseError) as caught:
        parse_graph(data)

    # Then the exception text carries both messages
    text = str(caught.value)
    assert "name" in text
    assert "nodes[0].data.label" in text
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("data", [None, [], "graph", 42])
def test_data_that_is_not_an_object_is_one_graph_level_issue(data: Any) -> None:
    # Given data that is not a JSON object at all
    # When it is parsed
    issues = _parse_issues(data)

    # Then the only issue is about the graph itself
    assert [(issue.code, issue.field, issue.node_id) for issue in issues] == [
        (IssueCode.INVALID_FORMAT, "graph", None)
    ]


def test_nodes_that_are_not_a_list_are_refused() -> None:
    # Given nodes given as an object
    data = _graph_data(nodes={"start": {"type": "trigger"}})

    # When it is parsed
    issues = _parse_issues(data)

    # Then the nodes field is named
    assert [issue.field for issue in issues] == ["nodes"]


# --- names and labels ----------------------------------------------------------------


def test_unicode_names_and_labels_survive_a_round_trip() -> None:
    # Given a name and labels in several scripts, with emoji
    name = "Commandes café ☕ — 注文処理 — Заказы"
    label = "Envoyer l'e-mail 📨 到客户"
    data = _graph_data(name=name, nodes=[_node("send", data={"label": label})], edges=[])

    # When the graph is parsed, dumped to JSON text and parsed again
    graph = parse_graph(data)
    again = parse_graph(json.loads(graph.model_dump_json()))

    # Then the text is unchanged
    assert graph.name == name
    assert graph.nodes[0].data.label == label
    assert again == graph


def test_a_label_of_exactly_the_limit_is_accepted() -> None:
    # Given a name and a label of exactly 200 characters (multi-byte ones included)
    text = "é" * MAX_LABEL_LENGTH
    data = _graph_data(name=text, nodes=[_node(data={"label": text})], edges=[])

    # When it is parsed
    graph = parse_graph(data)

    # Then both are kept
    assert graph.name == text
    assert graph.nodes[0].data.label == text


def test_a_name_over_200_characters_is_refused_with_a_clear_message() -> None:
    # Given a workflow name of 201 characters
    data = _graph_data(name="n" * (MAX_LABEL_LENGTH + 1))

    # When it is parsed
    issues = _parse_issues(data)

    # Then the message names the field and the limit
    assert len(issues) == 1
    assert issues[0].field == "name"
    assert issues[0].message == "name: String should have at most 200 characters"


def test_a_label_over_200_characters_is_refused_with_a_clear_message() -> None:
    # Given a node label of 500 characters
    data = _graph_data(nodes=[_node(data={"label": "L" * 500})])

    # When it is parsed
    issues = _parse_issues(data)

    # Then the message names the field, the node and the limit
    assert [(issue.field, issue.node_id) for issue in issues] == [("nodes[0].data.label", "fetch")]
    assert "at most 200 characters" in issues[0].message
    assert "'fetch'" in issues[0].message


@pytest.mark.parametrize("name", ["", None])
def test_an_empty_or_missing_name_is_refused(name: str | None) -> None:
    # Given a graph with an empty (or null) name
    data = _graph_data(name=name)

    # When it is parsed
    issues = _parse_issues(data)

    # Then the name is the problem
    assert [issue.field for issue in issues] == ["name"]


# --- small pieces ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        ((), ""),
        (("name",), "name"),
        (("nodes", 3, "data", "label"), "nodes[3].data.label"),
        (("edges", 0), "edges[0]"),
        (("conditions", 1, "branch"), "conditions[1].branch"),
    ],
)
def test_error_location_reads_like_a_path(loc: tuple[int | str, ...], text: str) -> None:
    # Given a pydantic error location
    # When it is rendered
    # Then lists are indexed and fields dotted
    assert error_location(loc) == text


def test_describe_puts_severity_code_place_and_message_on_one_line() -> None:
    # Given an issue tied to a node and an edge, and one tied to nothing
    tied = ValidationIssue(code=IssueCode.SELF_LOOP, message="loops", node_id="a", edge_id="e1")
    loose = ValidationIssue(
        code=IssueCode.NO_TRIGGER, message="no trigger", severity=Severity.WARNING
    )

    # When they are described
    # Then each is one line with its place if it has one
    assert tied.describe() == "error: SELF_LOOP (node a, edge e1): loops"
    assert loose.describe() == "warning: NO_TRIGGER: no trigger"


def test_validation_result_is_valid_only_without_errors() -> None:
    # Given results with a warning only, and with an error
    warning = ValidationIssue(
        code=IssueCode.UNREACHABLE_NODE, message="w", severity=Severity.WARNING
    )
    error = ValidationIssue(code=IssueCode.CYCLE, message="e")

    # When validity is asked
    # Then warnings do not make a graph invalid, errors do; issues() lists errors first
    assert ValidationResult(warnings=[warning]).valid
    assert not ValidationResult(errors=[error], warnings=[warning]).valid
    assert ValidationResult(errors=[error], warnings=[warning]).issues() == [error, warning]


def test_issues_serialise_with_camel_case_keys() -> None:
    # Given an issue tied to a node
    issue = ValidationIssue(code=IssueCode.CYCLE, message="m", node_id="a", field="f")

    # When it is dumped as JSON
    dumped = json.loads(issue.model_dump_json())

    # Then the keys are camelCase and the enums are their values
    assert dumped == {
        "code": "CYCLE",
        "message": "m",
        "severity": "error",
        "nodeId": "a",
        "edgeId": None,
        "field": "f",
    }


def test_workflow_graph_is_the_model_parse_graph_returns() -> None:
    # Given valid data
    # When it is parsed
    graph = parse_graph(_graph_data())

    # Then it is a WorkflowGraph with the nodes in the given order
    assert isinstance(graph, WorkflowGraph)
    assert [node.id for node in graph.nodes] == ["start", "fetch"]
