"""The editor's draft graph: edits as pure functions, validation, what the canvas draws."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.ui.editor.sample_graph import demo_graph
from workfuse.graph import IssueCode, ValidationIssue, ValidationResult
from workfuse.nodes.registry import REGISTRY, UnknownNodeType
from workfuse.ui.editor import draft as drafts
from workfuse.ui.editor.draft import (
    FALLBACK_COLOUR,
    NEW_NODE_SPACING,
    ProblemRow,
    add_node,
    canvas_edges,
    canvas_nodes,
    connect,
    delete_items,
    form_path_of,
    move_nodes,
    output_handles,
    problem_rows,
    short_message,
    validate,
)

#: Every registered node type (the tests that need a particular one name it).
NODE_TYPES = REGISTRY.types()


def _node(node_type: str, node_id: str, **config: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": node_type,
        "position": {"x": 0, "y": 0},
        "data": {"label": node_id, "config": config},
    }


def _condition(*branches: str, default: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {
        "conditions": [
            {"field": "x", "operator": "eq", "value": 1, "branch": branch} for branch in branches
        ]
    }
    if default is not None:
        config["defaultBranch"] = default
    return _node("condition", "c", **config)


def _codes(result: ValidationResult) -> list[IssueCode]:
    return [issue.code for issue in result.issues()]


def _with_bad_timeout() -> dict[str, Any]:
    graph = demo_graph()
    alert = drafts.find_node(graph, "alert")
    assert alert is not None
    alert["data"]["config"]["timeout"] = "soon"
    return graph


# --- validate -----------------------------------------------------------------------------


def test_the_demo_graph_is_valid() -> None:
    result = validate("Triage", demo_graph())
    assert result.valid
    assert result.issues() == []


def test_an_unnamed_draft_is_validated_as_untitled() -> None:
    assert validate("", demo_graph()).valid


def test_an_empty_draft_needs_a_trigger() -> None:
    draft = drafts.empty_draft()
    assert draft == {"nodes": [], "edges": []}
    assert drafts.empty_draft() is not draft
    assert _codes(validate("x", draft)) == [IssueCode.NO_TRIGGER]


def test_validate_does_not_change_the_draft() -> None:
    draft = _with_bad_timeout()
    before = copy.deepcopy(draft)
    validate("x", draft)
    assert draft == before
    assert "name" not in draft


# --- add_node -----------------------------------------------------------------------------


@pytest.mark.parametrize("node_type", NODE_TYPES)
def test_a_new_node_has_its_type_defaults(node_type: str) -> None:
    spec = REGISTRY.get(node_type)

    draft, node_id = add_node(drafts.empty_draft(), node_type, 10, 20)

    [node] = draft["nodes"]
    assert node == {
        "id": node_type,
        "type": node_type,
        "position": {"x": 10, "y": 20},
        "data": {"label": spec.label, "config": spec.default_config},
    }
    assert node_id == node_type
    assert node["data"]["config"] is not spec.default_config


def test_a_new_node_does_not_share_the_default_config() -> None:
    draft, _ = add_node(drafts.empty_draft(), "condition", 0, 0)
    draft["nodes"][0]["data"]["config"]["conditions"].append({"branch": "x"})
    assert REGISTRY.get("condition").default_config["conditions"] == []


@pytest.mark.parametrize("node_type", [spec.type for spec in REGISTRY.specs() if not spec.trigger])
def test_a_new_node_connected_to_a_trigger_has_a_valid_config(node_type: str) -> None:
    draft, trigger = add_node(drafts.empty_draft(), "trigger", None, None)
    draft, node_id = add_node(draft, node_type, None, None)
    draft = connect(draft, trigger, None, node_id)

    result = validate("x", draft)

    # a node whose handles come from its config (a condition's default branch) has a
    # branch that leads nowhere yet: that is the only problem
    spec = REGISTRY.get(node_type)
    expected = [IssueCode.BRANCH_WITHOUT_EDGE] if spec.handles_of is not None else []
    assert _codes(result) == expected


def test_new_nodes_get_unique_ids_and_labels() -> None:
    draft = drafts.empty_draft()
    ids = []
    for _ in range(3):
        draft, node_id = add_node(draft, "http", None, None)
        ids.append(node_id)

    assert ids == ["http", "http-2", "http-3"]
    assert [node["id"] for node in draft["nodes"]] == ids
    labels = [node["data"]["label"] for node in draft["nodes"]]
    assert labels == ["HTTP Request", "HTTP Request 2", "HTTP Request 3"]
    assert not any(
        issue.code is IssueCode.DUPLICATE_NODE_ID for issue in validate("x", draft).errors
    )


def test_a_new_node_skips_ids_and_labels_in_use() -> None:
    draft = {
        "nodes": [
            _node("ai", "ai", prompt="p", model="m"),
            _node("ai", "ai-2", prompt="p", model="m"),
        ],
        "edges": [],
    }
    draft["nodes"][0]["data"]["label"] = "AI"
    draft["nodes"][1]["data"]["label"] = "AI 2"

    draft, node_id = add_node(draft, "ai", None, None)

    assert node_id == "ai-3"
    assert draft["nodes"][-1]["data"]["label"] == "AI 3"


def test_the_first_node_goes_to_the_origin() -> None:
    draft, _ = add_node(drafts.empty_draft(), "trigger", None, None)
    assert draft["nodes"][0]["position"] == {"x": 0, "y": 0}


def test_a_new_node_goes_right_of_the_rightmost_node() -> None:
    graph = demo_graph()  # the rightmost nodes are at x=780 (alert first, y=20)

    draft, node_id = add_node(graph, "transform", None, None)

    new = drafts.find_node(draft, node_id)
    assert new is not None
    assert new["position"] == {"x": 780 + NEW_NODE_SPACING, "y": 20}
    xs = [node["position"]["x"] for node in graph["nodes"]]
    assert all(new["position"]["x"] > x for x in xs)


@pytest.mark.parametrize(("x", "y"), [(None, 5.0), (5.0, None)])
def test_half_a_position_places_the_node_automatically(x: float | None, y: float | None) -> None:
    draft, _ = add_node(demo_graph(), "http", x, y)
    assert draft["nodes"][-1]["position"] == {"x": 780 + NEW_NODE_SPACING, "y": 20}


def test_a_dropped_node_keeps_its_position() -> None:
    draft, _ = add_node(demo_graph(), "http", -40.5, 300)
    assert draft["nodes"][-1]["position"] == {"x": -40.5, "y": 300}


def test_add_node_keeps_the_other_nodes_and_edges() -> None:
    graph = demo_graph()
    before = copy.deepcopy(graph)

    draft, _ = add_node(graph, "ai", None, None)

    assert graph == before
    assert draft["nodes"][:-1] == before["nodes"]
    assert draft["edges"] == before["edges"]


def test_an_unknown_node_type_is_refused() -> None:
    with pytest.raises(UnknownNodeType):
        add_node(drafts.empty_draft(), "teleport", None, None)


# --- find, replace, move ------------------------------------------------------------------


def test_find_and_replace_a_node() -> None:
    graph = demo_graph()
    assert drafts.find_node(graph, "nowhere") is None
    route = drafts.find_node(graph, "route")
    assert route is not None and route["type"] == "condition"

    renamed = {**route, "data": {**route["data"], "label": "Renamed"}}
    draft = drafts.replace_node(graph, renamed)

    assert drafts.find_node(draft, "route") == renamed
    assert drafts.find_node(graph, "route") == route
    assert [node["id"] for node in draft["nodes"]] == [node["id"] for node in graph["nodes"]]


def test_move_nodes_sets_positions_as_floats() -> None:
    graph = demo_graph()
    before = copy.deepcopy(graph)

    draft = move_nodes(
        graph, [{"id": "alert", "x": 1, "y": "2.5"}, {"id": "route", "x": 0, "y": 0}]
    )

    assert graph == before
    positions = {node["id"]: node["position"] for node in draft["nodes"]}
    assert positions["alert"] == {"x": 1.0, "y": 2.5}
    assert isinstance(positions["alert"]["x"], float)
    assert positions["route"] == {"x": 0.0, "y": 0.0}
    assert positions["ticket"] == {"x": 0, "y": 120}
    assert draft["edges"] == before["edges"]


@pytest.mark.parametrize(
    "moves",
    [
        [{"id": "nowhere", "x": 1, "y": 1}],
        [{"id": "alert", "x": 1}],
        ["alert"],
        [],
    ],
    ids=["unknown id", "no y", "not a dict", "nothing"],
)
def test_moves_that_do_not_apply_are_ignored(moves: list[Any]) -> None:
    graph = demo_graph()
    assert move_nodes(graph, moves) == graph


# --- connect --------------------------------------------------------------------------------


def test_connect_adds_an_edge() -> None:
    draft = {"nodes": [_node("trigger", "a"), _node("http", "b", url="u")], "edges": []}
    before = copy.deepcopy(draft)

    connected = connect(draft, "a", None, "b")

    assert draft == before
    assert connected["edges"] == [{"id": "e-a-out-b", "source": "a", "target": "b"}]
    assert validate("x", connected).valid


def test_connect_keeps_the_source_handle() -> None:
    graph = demo_graph()
    graph["edges"] = [edge for edge in graph["edges"] if edge["id"] != "route-summarise"]

    draft = connect(graph, "route", "normal", "summarise")

    assert draft["edges"][-1] == {
        "id": "e-route-normal-summarise",
        "source": "route",
        "target": "summarise",
        "sourceHandle": "normal",
    }
    assert validate("x", draft).valid


@pytest.mark.parametrize("handle", [None, ""])
def test_no_handle_means_no_source_handle(handle: str | None) -> None:
    draft = connect(demo_graph(), "ticket", handle, "summarise")
    assert "sourceHandle" not in draft["edges"][-1]


def test_a_repeated_connection_is_ignored() -> None:
    once = connect(demo_graph(), "route", "urgent", "summarise")
    assert connect(once, "route", "urgent", "summarise") == once
    assert connect(demo_graph(), "ticket", None, "extract") == demo_graph()
    assert connect(demo_graph(), "ticket", "", "extract") == demo_graph()


def test_the_same_nodes_through_another_handle_is_a_new_edge() -> None:
    draft = connect(demo_graph(), "route", "urgent", "summarise")
    draft = connect(draft, "route", "normal", "alert")
    pairs = [(edge["source"], edge.get("sourceHandle"), edge["target"]) for edge in draft["edges"]]
    assert ("route", "urgent", "summarise") in pairs
    assert ("route", "normal", "alert") in pairs
    assert len({edge["id"] for edge in draft["edges"]}) == len(draft["edges"])


@pytest.mark.parametrize(("source", "target"), [("ghost", "alert"), ("ticket", "ghost")])
def test_a_dangling_connection_is_ignored(source: str, target: str) -> None:
    graph = demo_graph()
    assert connect(graph, source, None, target) == graph


def test_edge_ids_stay_unique() -> None:
    graph = demo_graph()
    graph["edges"].append({"id": "e-ticket-out-summarise", "source": "ticket", "target": "alert"})

    draft = connect(graph, "ticket", None, "summarise")

    assert draft["edges"][-1]["id"] == "e-ticket-out-summarise-2"
    assert not any(
        issue.code is IssueCode.DUPLICATE_EDGE_ID for issue in validate("x", draft).errors
    )


@pytest.mark.parametrize(
    ("source", "handle", "target", "code"),
    [
        ("summarise", None, "extract", IssueCode.CYCLE),
        ("extract", None, "ticket", IssueCode.TRIGGER_HAS_INCOMING_EDGE),
        ("alert", None, "alert", IssueCode.SELF_LOOP),
        ("route", "nope", "alert", IssueCode.UNKNOWN_BRANCH_HANDLE),
    ],
)
def test_a_connection_that_breaks_a_rule_is_kept_and_reported(
    source: str, handle: str | None, target: str, code: IssueCode
) -> None:
    draft = connect(demo_graph(), source, handle, target)

    new_edge = draft["edges"][-1]
    assert (new_edge["source"], new_edge["target"]) == (source, target)
    assert code in [issue.code for issue in validate("x", draft).errors]


# --- delete_items ---------------------------------------------------------------------------


def test_deleting_a_node_removes_its_edges() -> None:
    graph = demo_graph()
    before = copy.deepcopy(graph)

    draft = delete_items(graph, ["route"], [])

    assert graph == before
    assert drafts.find_node(draft, "route") is None
    assert [edge["id"] for edge in draft["edges"]] == ["ticket-extract"]
    assert len(draft["nodes"]) == 4
    assert not any(issue.edge_id for issue in validate("x", draft).issues())


def test_deleting_edges_keeps_the_nodes() -> None:
    draft = delete_items(demo_graph(), [], ["route-alert", "ticket-extract"])

    assert len(draft["nodes"]) == 5
    assert [edge["id"] for edge in draft["edges"]] == ["extract-route", "route-summarise"]


def test_deleting_nodes_and_edges_at_once() -> None:
    draft = delete_items(demo_graph(), ["alert", "summarise"], ["extract-route"])
    assert [node["id"] for node in draft["nodes"]] == ["ticket", "extract", "route"]
    assert [edge["id"] for edge in draft["edges"]] == ["ticket-extract"]


def test_deleting_unknown_items_changes_nothing() -> None:
    graph = demo_graph()
    assert delete_items(graph, ["ghost"], ["ghost-edge"]) == graph


def test_deleting_the_trigger_is_reported() -> None:
    draft = delete_items(demo_graph(), ["ticket"], [])
    assert IssueCode.NO_TRIGGER in _codes(validate("x", draft))


# --- output handles ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node", "handles"),
    [
        (_node("trigger", "t"), ["out"]),
        (_node("http", "h"), ["out"]),
        (_node("transform", "x"), ["out"]),
        (_node("ai", "a"), ["out"]),
        (_node("teleport", "u"), ["out"]),
        ({"id": "bare"}, ["out"]),
        (_condition("yes", "no", default="maybe"), ["yes", "no", "maybe"]),
        (_condition("a", "b", "a"), ["a", "b", "default"]),
        (_condition("a", "", "b"), ["a", "b", "default"]),
        (_condition("a", "other", default="other"), ["a", "other"]),
        (_condition(default=""), ["default"]),
        (_condition(), ["default"]),
        (_node("condition", "c", conditions="oops"), ["default"]),
        (_node("condition", "c", conditions=["oops", {"branch": 3}]), ["default"]),
        ({"id": "c", "type": "condition"}, ["default"]),
    ],
    ids=lambda value: None if isinstance(value, dict) else "-".join(value),
)
def test_output_handles(node: dict[str, Any], handles: list[str]) -> None:
    assert output_handles(node) == handles


def test_the_demo_condition_handles_are_its_branches() -> None:
    route = drafts.find_node(demo_graph(), "route")
    assert route is not None
    assert output_handles(route) == ["urgent", "normal"]


# --- issues as the panel shows them -----------------------------------------------------------


def _issue(field: str | None, message: str = "m") -> ValidationIssue:
    return ValidationIssue(code=IssueCode.INVALID_CONFIG, message=message, field=field)


@pytest.mark.parametrize(
    ("field", "key"),
    [
        (None, None),
        ("", None),
        ("config", "config"),
        ("data.config", "config"),
        ("config.url", "config.url"),
        ("config.body.text", "config.body.text"),
        ("config.headers.Content-Type", "config.headers.Content-Type"),
        ("config.auth.secretArn", "config.auth.secretArn"),
        ("config.conditions", "config.conditions"),
        ("config.conditions.3.value", "config.conditions.3.value"),
        ("config.conditions[12].field", "config.conditions.12.field"),
        ("config.conditions[0]", "config.conditions.0"),
        ("nodes[3].data.config.timeout", "config.timeout"),
        ("data.label", "label"),
        ("label", "label"),
        ("nodes[3].data.label", "label"),
        ("data.retryPolicy.maxAttempts", "retry"),
        ("nodes[3].data.retryPolicy.maxAttempts", "retry"),
        ("type", None),
        ("branch:urgent", None),
        ("data", None),
    ],
)
def test_form_path_of(field: str | None, key: str | None) -> None:
    assert form_path_of(_issue(field)) == key


def test_short_message_drops_the_where_prefix() -> None:
    [issue] = validate("x", _with_bad_timeout()).errors

    assert issue.message.startswith("node 'alert' ('Page on-call', http): config.timeout: ")
    assert (
        short_message(issue)
        == "Input should be a valid integer, unable to parse string as an integer"
    )


@pytest.mark.parametrize(
    ("field", "message", "short"),
    [
        (None, "no trigger", "no trigger"),
        ("config.url", "somewhere else", "somewhere else"),
        ("config.url", "n: config.url: a: config.url: b", "a: config.url: b"),
    ],
)
def test_short_message_keeps_messages_without_the_prefix(
    field: str | None, message: str, short: str
) -> None:
    assert short_message(_issue(field, message)) == short


def test_problem_rows_list_errors_then_warnings() -> None:
    graph = _with_bad_timeout()
    graph["edges"] = [edge for edge in graph["edges"] if edge["id"] != "route-summarise"]
    graph = connect(graph, "route", "nope", "alert")

    rows = problem_rows(validate("x", graph))

    assert [(row.code, row.severity, row.node_id, row.edge_id) for row in rows] == [
        ("INVALID_CONFIG", "error", "alert", ""),
        ("UNKNOWN_BRANCH_HANDLE", "error", "route", "e-route-nope-alert"),
        ("BRANCH_WITHOUT_EDGE", "error", "route", ""),
        ("UNREACHABLE_NODE", "warning", "summarise", ""),
    ]
    assert all(isinstance(row, ProblemRow) and row.message for row in rows)
    assert problem_rows(validate("x", demo_graph())) == []


# --- the canvas ------------------------------------------------------------------------------


def test_canvas_nodes_describe_every_node() -> None:
    graph = demo_graph()

    shown = canvas_nodes(graph, validate("x", graph), {}, "")

    assert [node["id"] for node in shown] == [node["id"] for node in graph["nodes"]]
    by_id = {node["id"]: node for node in shown}
    assert by_id["ticket"] == {
        "id": "ticket",
        "nodeId": "ticket",
        "nodeType": "trigger",
        "position": {"x": 0, "y": 120},
        "label": "New ticket",
        "typeLabel": "Trigger",
        "icon": "zap",
        "description": REGISTRY.get("trigger").description,
        "colour": REGISTRY.get("trigger").colour,
        "hasInput": False,
        "outputs": ["out"],
        "problems": [],
        "status": "",
        "selected": False,
    }
    assert by_id["route"]["outputs"] == ["urgent", "normal"]
    assert by_id["alert"]["hasInput"] is True
    assert {node["nodeType"]: node["colour"] for node in shown} == {
        spec.type: spec.colour for spec in REGISTRY.specs()
    }
    assert all("config" not in node and "data" not in node for node in shown)


def test_canvas_nodes_mark_problems_on_the_right_node() -> None:
    graph = _with_bad_timeout()

    by_id = {node["id"]: node for node in canvas_nodes(graph, validate("x", graph), {}, "")}

    assert by_id["alert"]["problems"] == [
        "Input should be a valid integer, unable to parse string as an integer"
    ]
    assert all(node["problems"] == [] for node_id, node in by_id.items() if node_id != "alert")


def test_canvas_nodes_show_errors_not_warnings() -> None:
    graph = delete_items(demo_graph(), [], ["ticket-extract"])
    result = validate("x", graph)
    assert result.warnings and not result.errors

    shown = canvas_nodes(graph, result, {}, "")

    assert all(node["problems"] == [] for node in shown)


def test_canvas_nodes_show_status_and_selection() -> None:
    graph = demo_graph()
    statuses = {"ticket": "SUCCEEDED", "extract": "RUNNING"}

    by_id = {
        node["id"]: node for node in canvas_nodes(graph, validate("x", graph), statuses, "route")
    }

    assert by_id["ticket"]["status"] == "SUCCEEDED"
    assert by_id["extract"]["status"] == "RUNNING"
    assert by_id["route"]["status"] == ""
    assert [node_id for node_id, node in by_id.items() if node["selected"]] == ["route"]


def test_canvas_nodes_of_an_odd_node() -> None:
    draft = {"nodes": [{"id": "odd", "type": "teleport", "data": {"label": ""}}], "edges": []}

    [node] = canvas_nodes(draft, validate("x", draft), {}, "odd")

    assert node["label"] == "odd"
    assert node["typeLabel"] == "unknown type 'teleport'"
    assert (node["icon"], node["description"]) == ("", "")
    assert node["colour"] == FALLBACK_COLOUR
    assert node["hasInput"] is True
    assert node["outputs"] == ["out"]
    assert node["position"] == {"x": 0, "y": 0}
    assert node["selected"] is True
    assert node["problems"]  # the empty label (and the unknown type) are errors on it


def test_canvas_edges_mark_an_unknown_branch_handle() -> None:
    graph = connect(demo_graph(), "route", "nope", "alert")

    edges = canvas_edges(graph, validate("x", graph), {}, "")

    by_id = {edge["id"]: edge for edge in edges}
    assert "'nope'" in by_id["e-route-nope-alert"]["problem"]
    assert by_id["e-route-nope-alert"]["sourceHandle"] == "nope"
    assert all(
        edge["problem"] == "" for edge_id, edge in by_id.items() if edge_id != "e-route-nope-alert"
    )


def test_canvas_edges_describe_every_edge() -> None:
    graph = demo_graph()

    edges = canvas_edges(graph, validate("x", graph), {}, "route-alert")

    assert [edge["id"] for edge in edges] == [edge["id"] for edge in graph["edges"]]
    assert edges[2] == {
        "id": "route-alert",
        "source": "route",
        "target": "alert",
        "sourceHandle": "urgent",
        "targetHandle": None,
        "problem": "",
        "selected": True,
        "animated": False,
    }
    assert [edge["selected"] for edge in edges] == [False, False, True, False]


@pytest.mark.parametrize(
    ("statuses", "animated"),
    [
        ({"ticket": "SUCCEEDED", "extract": "RUNNING"}, ["ticket-extract"]),
        ({"ticket": "SUCCEEDED", "extract": "SUCCEEDED"}, []),
        ({"ticket": "RUNNING"}, []),
        ({"extract": "SUCCEEDED", "route": "RUNNING"}, ["extract-route"]),
        ({}, []),
    ],
)
def test_an_edge_is_animated_while_data_flows_along_it(
    statuses: dict[str, str], animated: list[str]
) -> None:
    graph = demo_graph()
    edges = canvas_edges(graph, validate("x", graph), statuses, "")
    assert [edge["id"] for edge in edges if edge["animated"]] == animated


# --- purity ----------------------------------------------------------------------------------

EDITS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("add_node", lambda draft: add_node(draft, "http", None, None)),
    ("add_node at", lambda draft: add_node(draft, "condition", 3, 4)),
    ("move_nodes", lambda draft: move_nodes(draft, [{"id": "alert", "x": 9, "y": 9}])),
    ("connect", lambda draft: connect(draft, "ticket", None, "summarise")),
    ("connect handle", lambda draft: connect(draft, "route", "urgent", "summarise")),
    ("delete node", lambda draft: delete_items(draft, ["route"], [])),
    ("delete edge", lambda draft: delete_items(draft, [], ["route-alert"])),
    ("replace_node", lambda draft: drafts.replace_node(draft, _node("http", "alert", url="u"))),
    ("validate", lambda draft: validate("x", draft)),
    ("canvas_nodes", lambda draft: canvas_nodes(draft, validate("x", draft), {}, "alert")),
    ("canvas_edges", lambda draft: canvas_edges(draft, validate("x", draft), {}, "")),
    ("output_handles", lambda draft: [output_handles(node) for node in draft["nodes"]]),
]


@pytest.mark.parametrize("edit", [edit for _, edit in EDITS], ids=[name for name, _ in EDITS])
def test_no_function_mutates_its_draft(edit: Callable[[dict[str, Any]], Any]) -> None:
    """Results may share unchanged parts with the input (nothing mutates a draft in place)."""
    draft = demo_graph()
    before = copy.deepcopy(draft)

    result = edit(draft)

    assert draft == before
    if isinstance(result, tuple):
        result = result[0]
    assert result is not draft


def test_a_graph_without_positions_is_laid_out_by_layer() -> None:
    graph = {
        "nodes": [
            {"id": node_id, "type": "transform", "data": {"label": node_id, "config": {}}}
            for node_id in ("start", "left", "right", "join")
        ],
        "edges": [
            {"id": "a", "source": "start", "target": "left"},
            {"id": "b", "source": "start", "target": "right"},
            {"id": "c", "source": "left", "target": "join"},
            {"id": "d", "source": "right", "target": "join"},
        ],
    }

    positions = {node["id"]: node["position"] for node in drafts.laid_out(graph)["nodes"]}

    assert positions == {
        "start": {"x": 0, "y": 0},
        "left": {"x": 260, "y": 0},
        "right": {"x": 260, "y": 110},
        "join": {"x": 520, "y": 0},
    }
    drawn = demo_graph()
    assert drafts.laid_out(drawn) == drawn  # positions of their own are kept
