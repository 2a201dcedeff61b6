"""Edits of a node's config through its generated form (no browser, no app)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from tests.ui.editor.form_helpers import by_path, form_of, full_node, has, rows, stored
from tests.ui.editor.sample_graph import demo_graph
from workfuse.graph import IssueCode
from workfuse.nodes.base import NodeSpec
from workfuse.ui.editor import draft as drafts
from workfuse.ui.editor.form_edits import (
    add_pair,
    add_row,
    edit_pair,
    new_object,
    remove_pair,
    remove_row,
    set_value,
    toggle_choice,
    toggle_group,
)
from workfuse.ui.editor.form_schema import fields_of
from workfuse.ui.editor.form_values import FormError
from workfuse.ui.editor.node_form import build_form

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-key"


def _demo(node_id: str) -> dict[str, Any]:
    node = drafts.find_node(demo_graph(), node_id)
    assert node is not None
    return node


#: Issues about a node's own data; wiring issues (a new branch without an edge) are not
#: the form's.
NODE_DATA_CODES = {
    IssueCode.INVALID_FORMAT,
    IssueCode.INVALID_CONFIG,
    IssueCode.INVALID_TEMPLATE,
    IssueCode.UNKNOWN_NODE_TYPE,
}


def _valid(node: dict[str, Any]) -> bool:
    """No problem with the node's own data once it is in the demo graph (or alone)."""
    graph = drafts.replace_node(demo_graph(), node)
    if drafts.find_node(graph, node["id"]) is None:
        graph = {"nodes": [node], "edges": []}
    result = drafts.validate("test", graph)
    return not [
        issue
        for issue in result.errors
        if issue.node_id == node["id"] and issue.code in NODE_DATA_CODES
    ]


# --- every node type -------------------------------------------------------------------------


def test_a_group_turns_on_with_its_defaults_and_off_entirely(node_spec: NodeSpec) -> None:
    for field in fields_of(node_spec):
        if field.widget != "group" or not field.optional:
            continue
        node = toggle_group(node_spec.new_node("n"), field.name, False)
        assert not has(node, field.name)
        assert not any(v.path.startswith(f"{field.name}.") for v in rows(build_form(node, {})))

        on = toggle_group(node, field.name, True)

        assert stored(on, field.name) == new_object(field.children)
        shown = by_path(build_form(on, {}))
        assert shown[field.name].checked
        assert all(
            f"{field.name}.{child.name}" in shown for child in field.children if not child.show_if
        )
        assert toggle_group(on, field.name, True) == on
        assert not has(toggle_group(on, field.name, False), field.name)


def test_new_list_rows_are_valid_and_have_their_own_names(node_spec: NodeSpec) -> None:
    """Each added row is a valid object; a required name in it differs from every other
    row's and from the texts its parent holds (a condition's default branch)."""
    for field in fields_of(node_spec):
        if field.widget != "list":
            continue
        node = node_spec.new_node("n")
        for _ in range(4):
            node = add_row(node, field.name)
        added = stored(node, field.name)
        assert len(added) == 4
        named = [
            c.name
            for c in field.children
            if c.required and c.min_length and c.json_type == "string"
        ]
        for name in named:
            values = [row[name] for row in added]
            assert len(set(values)) == 4
            parent_texts = {v for v in node["data"]["config"].values() if isinstance(v, str)}
            assert not set(values) & parent_texts
        assert _valid(node)

        fewer = remove_row(node, field.name, 0)
        assert stored(fewer, field.name) == added[1:]


def test_no_edit_changes_its_argument(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    before = copy.deepcopy(node)
    edits: list[Callable[[dict[str, Any]], Any]] = []
    for view in rows(build_form(node, {})):
        path, widget = view.path, view.widget
        if widget == "switch":
            edits.append(partial(set_value, path=path, value=True))
        elif widget in ("text", "multiline", "code", "credential", "number", "loose"):
            edits.append(partial(set_value, path=path, value="1"))
        elif widget == "select":
            edits.append(partial(set_value, path=path, value=view.options[-1]))
        elif widget == "checkboxes":
            edits.append(partial(toggle_choice, path=path, option=view.options[0], on=False))
        elif widget == "group":
            edits.append(partial(toggle_group, path=path, on=False))
        elif widget == "add":
            edits.append(partial(add_row, path=path))
        elif widget == "row":
            edits.append(partial(remove_row, path=view.name, index=view.index))
        elif widget == "pair_add":
            edits.append(partial(add_pair, path=path))
        elif widget == "pair":
            edits.append(partial(edit_pair, path=path, index=view.index, part="value", text="v"))
            edits.append(partial(remove_pair, path=path, index=view.index))
    assert edits
    for edit in edits:
        result = edit(node)
        assert node == before
        if result != node:
            result["data"]["config"]["marker"] = True  # shares nothing with the input
            assert node == before


def test_a_path_the_type_does_not_have_is_a_key_error(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    with pytest.raises(KeyError):
        set_value(node, "noSuchField", "x")
    for view in rows(build_form(node, {})):
        if view.widget in ("group", "list", "keyvalue", "checkboxes"):
            with pytest.raises(KeyError):
                set_value(node, view.path, "x")
        if view.widget in ("text", "number", "select"):
            with pytest.raises(KeyError):
                add_row(node, view.path)
            with pytest.raises(KeyError):
                toggle_group(node, view.path, True)


def test_an_unknown_node_type_has_no_fields() -> None:
    with pytest.raises(KeyError):
        set_value({"id": "x", "type": "mystery"}, "url", "x")


# --- condition rules: a list of objects ----------------------------------------------------------


@pytest.mark.parametrize(
    ("branches", "new"),
    [
        ([], "branch1"),
        (["urgent"], "branch2"),
        (["branch1"], "branch2"),
        (["branch2"], "branch3"),
        (["branch1", "branch2"], "branch3"),
        (["branch3", "x"], "branch4"),
    ],
)
def test_a_new_rule_gets_an_unused_branch_name(branches: list[str], new: str) -> None:
    node = _demo("route")
    node["data"]["config"]["conditions"] = [
        {"field": "a", "operator": "eq", "value": 1, "branch": branch} for branch in branches
    ]
    before = copy.deepcopy(node)

    updated = add_row(node, "conditions")

    assert node == before
    rules = updated["data"]["config"]["conditions"]
    assert rules[:-1] == before["data"]["config"]["conditions"]
    assert rules[-1] == {"field": "", "operator": "eq", "branch": new}
    assert by_path(build_form(updated, {}))[f"conditions.{len(branches)}.branch"].text == new


def test_a_new_rule_does_not_take_the_default_branch() -> None:
    node = _demo("route")
    node["data"]["config"] = {"conditions": [], "defaultBranch": "branch1"}

    updated = add_row(node, "conditions")

    assert updated["data"]["config"]["conditions"][0]["branch"] == "branch2"
    assert drafts.output_handles(updated) == ["branch2", "branch1"]


def test_added_rules_are_valid_and_make_handles() -> None:
    node: dict[str, Any] = {
        "id": "route",
        "type": "condition",
        "data": {"label": "c", "config": {}},
    }
    for _ in range(3):
        node = add_row(node, "conditions")
    branches = [rule["branch"] for rule in node["data"]["config"]["conditions"]]
    assert drafts.output_handles(node) == [*branches, "default"]
    assert _valid(add_row(_demo("route"), "conditions"))


def test_removing_a_rule_keeps_the_others() -> None:
    node = add_row(_demo("route"), "conditions")

    updated = remove_row(node, "conditions", 0)

    assert [rule["branch"] for rule in updated["data"]["config"]["conditions"]] == ["branch2"]


@pytest.mark.parametrize("index", [-1, 1, 7])
def test_a_missing_row_changes_nothing(index: int) -> None:
    node = _demo("route")
    assert remove_row(node, "conditions", index) == node
    assert set_value(node, f"conditions.{max(index, 0) + 1}.branch", "x") == node


def test_rule_edits_on_a_node_without_rules() -> None:
    node = {"id": "c", "type": "condition", "data": {"label": "c", "config": {}}}
    assert set_value(node, "conditions.0.value", "1") == node
    assert remove_row(node, "conditions", 0) == node
    assert add_row(node, "conditions")["data"]["config"]["conditions"][0]["branch"] == "branch1"


@pytest.mark.parametrize(
    ("text", "value", "shown"),
    [("200", 200, "200"), ("true", True, "true"), ("abc", "abc", "abc"), ('"200"', "200", '"200"')],
)
def test_a_rule_value_is_json_when_it_parses(text: str, value: Any, shown: str) -> None:
    updated = set_value(_demo("route"), "conditions.0.value", text)
    assert updated["data"]["config"]["conditions"][0]["value"] == value
    assert by_path(build_form(updated, {}))["conditions.0.value"].text == shown
    assert _valid(updated)


@pytest.mark.parametrize(
    ("part", "text"),
    [
        ("field", "200"),
        ("field", "{{ trigger.data.priority }}"),
        ("operator", "ne"),
        ("branch", "hot"),
    ],
)
def test_other_rule_parts_are_stored_as_text(part: str, text: str) -> None:
    updated = set_value(_demo("route"), f"conditions.0.{part}", text)
    assert updated["data"]["config"]["conditions"][0][part] == text
    assert _valid(updated)


# --- HTTP: headers (key/value rows), body, authentication (a group) ------------------------------


def test_header_rows_are_added_renamed_and_removed() -> None:
    node = _demo("alert")
    node = add_pair(node, "headers")
    assert add_pair(node, "headers") == node  # one empty row at a time
    node = edit_pair(node, "headers", 1, "key", "X-Trace")
    node = edit_pair(node, "headers", 1, "value", "{{ trigger.data.id }}")
    assert node["data"]["config"]["headers"] == {
        "Content-Type": "application/json",
        "X-Trace": "{{ trigger.data.id }}",
    }
    assert _valid(node)
    node = remove_pair(remove_pair(node, "headers", 0), "headers", 0)
    assert "headers" not in node["data"]["config"]


@pytest.mark.parametrize("name", ["Content-Type", "content-type"])
def test_a_header_name_given_twice_is_refused(name: str) -> None:
    node = edit_pair(add_pair(_demo("alert"), "headers"), "headers", 1, "key", "X-A")
    before = copy.deepcopy(node)
    with pytest.raises(FormError, match=f"the header '{name}' is already set above"):
        edit_pair(node, "headers", 1, "key", name)
    assert node == before


@pytest.mark.parametrize(("index", "part"), [(5, "key"), (-1, "value"), (0, "colour")])
def test_a_missing_header_row_changes_nothing(index: int, part: str) -> None:
    node = _demo("alert")
    assert edit_pair(node, "headers", index, part, "x") == node
    assert remove_pair(node, "headers", 9) == node


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ('{"text": "hi"}', {"text": "hi"}),
        ("[1, 2]", [1, 2]),
        ("200", 200),
        ("{not json", "{not json"),
    ],
)
def test_a_body_is_json_when_it_parses_else_text(typed: str, value: Any) -> None:
    updated = set_value(_demo("alert"), "body", typed)
    assert updated["data"]["config"]["body"] == value
    assert _valid(updated)


def test_an_empty_body_is_removed() -> None:
    assert "body" not in set_value(_demo("alert"), "body", " ")["data"]["config"]


def test_turning_auth_on_asks_for_a_credential() -> None:
    on = toggle_group(_demo("alert"), "auth", True)

    assert on["data"]["config"]["auth"] == {
        "type": "bearer",
        "secretArn": "",
        "headerName": "X-API-Key",
    }
    assert by_path(form_of(on))["auth.secretArn"].error
    chosen = set_value(on, "auth.secretArn", SECRET)
    assert _valid(chosen)


@pytest.mark.parametrize("kind", ["bearer", "basic", "apiKey"])
def test_changing_the_auth_kind_keeps_the_credential(kind: str) -> None:
    node = set_value(toggle_group(_demo("alert"), "auth", True), "auth.secretArn", SECRET)
    updated = set_value(node, "auth.type", kind)
    assert updated["data"]["config"]["auth"]["secretArn"] == SECRET
    assert ("auth.headerName" in by_path(build_form(updated, {}))) is (kind == "apiKey")
    assert _valid(updated)


def test_a_field_in_a_group_that_is_off_turns_it_on_partly() -> None:
    """What the old form did for ``auth_secret_arn``; validation reports what is missing."""
    updated = set_value(_demo("alert"), "auth.secretArn", SECRET)
    assert updated["data"]["config"]["auth"] == {"secretArn": SECRET}
    assert not _valid(updated)


# --- trigger: methods (checkboxes), sample payload (JSON object), HMAC (a group) ---------------


def test_methods_keep_their_order() -> None:
    node = toggle_choice(_demo("ticket"), "methods", "GET", True)
    node = toggle_choice(node, "methods", "DELETE", True)
    assert node["data"]["config"]["methods"] == ["GET", "POST", "DELETE"]
    assert toggle_choice(node, "methods", "TRACE", True) == node


def test_no_method_at_all_is_reported() -> None:
    node = toggle_choice(_demo("ticket"), "methods", "POST", False)
    assert node["data"]["config"]["methods"] == []
    assert by_path(form_of(node))["methods"].error


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("{", "not valid JSON"),
        ('{"a": 1,}', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
        ("42", "must be a JSON object"),
    ],
)
def test_a_sample_payload_that_is_not_an_object_is_refused(typed: str, message: str) -> None:
    node = _demo("ticket")
    before = copy.deepcopy(node)
    with pytest.raises(FormError, match=f"Sample payload \\(JSON\\): {message}"):
        set_value(node, "samplePayload", typed)
    assert node == before


def test_an_empty_sample_payload_is_removed() -> None:
    updated = set_value(_demo("ticket"), "samplePayload", "")
    assert "samplePayload" not in updated["data"]["config"]
    assert _valid(updated)


def test_hmac_on_with_a_secret_is_valid_and_off_removes_it() -> None:
    on = toggle_group(_demo("ticket"), "hmac", True)
    assert on["data"]["config"]["hmac"]["algorithm"] == "sha256"
    assert not _valid(on)  # the signing secret is still missing
    assert _valid(set_value(on, "hmac.secretArn", SECRET))
    assert "hmac" not in toggle_group(on, "hmac", False)["data"]["config"]


# --- AI: switch, optional credential, numbers ---------------------------------------------------


def test_the_stream_switch() -> None:
    on = set_value(_demo("summarise"), "stream", True)
    assert on["data"]["config"]["stream"] is True
    assert set_value(on, "stream", False)["data"]["config"]["stream"] is False


def test_an_optional_credential_is_chosen_and_cleared() -> None:
    chosen = set_value(_demo("summarise"), "secretArn", SECRET)
    assert chosen["data"]["config"]["secretArn"] == SECRET
    assert "secretArn" not in set_value(chosen, "secretArn", "")["data"]["config"]


@pytest.mark.parametrize(("typed", "value"), [("0.7", 0.7), ("1", 1.0), (" 2 ", 2.0), ("", None)])
def test_a_float_field_stores_a_float(typed: str, value: float | None) -> None:
    updated = set_value(_demo("summarise"), "temperature", typed)
    assert updated["data"]["config"].get("temperature") == value


def test_an_openai_compatible_provider_without_a_base_url_is_reported_on_the_config() -> None:
    updated = set_value(_demo("summarise"), "provider", "openai-compatible")
    form = form_of(updated)
    assert "baseUrl" in form.config_error
