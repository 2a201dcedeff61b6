"""The side panel's form: built from any node type's fields, values in and back out,
validation messages on their rows (no browser, no app)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.ui.editor.form_helpers import STRUCTURAL, by_path, form_of, full_node, rows, stored
from tests.ui.editor.sample_graph import demo_graph
from workfuse.nodes.base import NodeSpec
from workfuse.nodes.registry import REGISTRY
from workfuse.ui.editor import draft as drafts
from workfuse.ui.editor import form_edits
from workfuse.ui.editor.form_schema import FieldSpec, fields_of
from workfuse.ui.editor.form_values import NONE_OPTION
from workfuse.ui.editor.node_form import (
    DEFAULT_RETRY,
    FieldView,
    NodeForm,
    apply_edit,
    build_form,
    keeps_typed_text,
    typed_key,
)

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-key"


def _demo(node_id: str) -> dict[str, Any]:
    node = drafts.find_node(demo_graph(), node_id)
    assert node is not None
    return node


def _nodes_of(spec: NodeSpec) -> list[dict[str, Any]]:
    """A new node, one with every field shown, and one per example config."""
    examples = [
        {**spec.new_node(f"example{index}"), "data": {"label": "x", "config": dict(e.config)}}
        for index, example in enumerate(spec.examples)
        for e in [example]
    ]
    return [spec.new_node("new"), full_node(spec), *examples]


def _specs(fields: tuple[FieldSpec, ...], prefix: str = "") -> dict[str, FieldSpec]:
    """Every field by its config path in :func:`full_node` (a list's row 0)."""
    found: dict[str, FieldSpec] = {}
    for field in fields:
        path = f"{prefix}{field.name}"
        found[path] = field
        found |= _specs(field.children, f"{path}.0." if field.widget == "list" else f"{path}.")
    return found


# --- every node type ---------------------------------------------------------------------


def test_the_form_names_the_node_and_its_type(node_spec: NodeSpec) -> None:
    node = node_spec.new_node("n1")
    form = build_form(node, {})
    assert (form.id, form.type, form.type_label) == ("n1", node_spec.type, node_spec.label)
    assert form.label == node_spec.label
    assert form.known


def test_the_retry_policy_is_offered_for_side_effects_only(node_spec: NodeSpec) -> None:
    assert build_form(node_spec.new_node("n"), {}).has_retries is node_spec.side_effects


def test_every_field_has_a_row(node_spec: NodeSpec) -> None:
    """With every group on and a row in each list, each field of the config model is a
    row with its label and widget; advanced fields (and what they hold) are under
    "More options"."""
    form = build_form(full_node(node_spec), {})
    shown = by_path(form)
    hidden_by = {
        path
        for path, field in _specs(fields_of(node_spec)).items()
        if field.show_if and path not in shown
    }
    assert hidden_by == set()
    for path, field in _specs(fields_of(node_spec)).items():
        view = shown[path]
        assert (view.widget, view.label) == (field.widget, field.label)
    advanced_roots = {f.name for f in fields_of(node_spec) if f.advanced}
    assert {v.path.split(".")[0] for v in form.advanced} == advanced_roots


def _apply_back(node: dict[str, Any], view: FieldView) -> list[dict[str, Any]]:
    """What the form sends when each control is set to what it shows."""
    if view.widget == "switch":
        return [form_edits.set_value(node, view.path, view.checked)]
    if view.widget in form_edits.SCALAR_WIDGETS:
        return [form_edits.set_value(node, view.path, view.text)]
    if view.widget == "checkboxes":
        return [
            form_edits.toggle_choice(node, view.path, option, option in view.chosen)
            for option in view.options
        ]
    if view.widget == "group" and view.optional:
        return [form_edits.toggle_group(node, view.path, view.checked)]
    if view.widget == "pair":
        return [
            form_edits.edit_pair(node, view.path, view.index, "key", view.name),
            form_edits.edit_pair(node, view.path, view.index, "value", view.text),
        ]
    return []


def test_applying_every_shown_value_back_changes_nothing(node_spec: NodeSpec) -> None:
    for node in _nodes_of(node_spec):
        before = copy.deepcopy(node)
        for view in rows(build_form(node, {})):
            for after in _apply_back(node, view):
                assert after == before, f"{node['id']}: {view.path} ({view.widget})"
        assert node == before


def test_a_bad_number_is_kept_as_typed_and_reported_on_its_row(node_spec: NodeSpec) -> None:
    """A number that does not parse is stored as typed: validation says why, on the row."""
    node = full_node(node_spec)
    numbers = [view.path for view in rows(build_form(node, {})) if view.widget == "number"]
    for path in numbers:
        updated = form_edits.set_value(node, path, "ten")

        assert stored(updated, path) == "ten"
        form = form_of(updated, {typed_key("n", path): "ten"})
        assert by_path(form)[path].text == "ten"
        assert by_path(form)[path].error, path
        assert form.config_error == ""


def test_numbers_show_what_was_typed(node_spec: NodeSpec) -> None:
    """``1.`` stays ``1.`` (and `` 2`` stays `` 2``) while it means the stored number."""
    node = full_node(node_spec)
    for view in rows(build_form(node, {})):
        if view.widget != "number":
            continue
        for typed in ("1.", " 2", "3"):
            updated = form_edits.set_value(node, view.path, typed)
            texts = {typed_key("n", view.path): typed}
            assert by_path(build_form(updated, texts))[view.path].text == typed
        assert keeps_typed_text(node, view.path)


def test_an_empty_optional_field_is_removed(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    samples = {"number": "7", "json": "{}", "loose": "x", "select": None}
    for view in rows(build_form(node, {})):
        if not view.optional or view.widget in STRUCTURAL | {"group", "keyvalue", "switch"}:
            continue
        sample = samples.get(view.widget, "something")
        if view.widget == "select":
            sample = next(option for option in view.options if option != NONE_OPTION)
        filled = form_edits.set_value(node, view.path, sample)
        empty = NONE_OPTION if view.widget == "select" else ""

        cleared = form_edits.set_value(filled, view.path, empty)

        parent, name = view.path.rpartition(".")[0], view.path.rpartition(".")[2]
        container = stored(cleared, parent) if parent else cleared["data"]["config"]
        assert name not in container, view.path
        assert by_path(build_form(cleared, {}))[view.path].text == empty


def test_a_required_text_emptied_is_kept_and_reported(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    fields = _specs(fields_of(node_spec))
    for view in rows(build_form(node, {})):
        field = fields.get(view.path)
        if field is None or field.widget not in ("text", "multiline", "code", "credential"):
            continue
        if not field.required or field.optional or field.default is not None:
            continue
        updated = form_edits.set_value(node, view.path, "")
        assert stored(updated, view.path) == ""
        if field.min_length:
            assert by_path(form_of(updated))[view.path].error, view.path


def test_every_option_of_every_select_is_stored_and_shown(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    for view in rows(build_form(node, {})):
        if view.widget != "select":
            continue
        for option in view.options:
            updated = form_edits.set_value(node, view.path, option)
            assert by_path(build_form(updated, {}))[view.path].text == option
            if option != NONE_OPTION:
                assert stored(updated, view.path) == option


def test_switches_and_checkboxes_follow_their_clicks(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    for view in rows(build_form(node, {})):
        if view.widget == "switch":
            for on in (True, False, True):
                node = form_edits.set_value(node, view.path, on)
                assert by_path(build_form(node, {}))[view.path].checked is on
                assert stored(node, view.path) is on
        if view.widget == "checkboxes":
            for option in view.options:
                node = form_edits.toggle_choice(node, view.path, option, True)
            assert stored(node, view.path) == view.options
            node = form_edits.toggle_choice(node, view.path, view.options[0], False)
            assert by_path(build_form(node, {}))[view.path].chosen == view.options[1:]


def test_code_is_shown_in_the_language_its_sibling_names(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    fields = _specs(fields_of(node_spec))
    for path, field in fields.items():
        if field.widget != "code" or not field.language_field:
            continue
        sibling = f"{path.rpartition('.')[0]}.{field.language_field}".lstrip(".")
        for language in fields[sibling].options:
            updated = form_edits.set_value(node, sibling, language)
            assert by_path(build_form(updated, {}))[path].language == language


def test_show_if_hides_a_field_unless_its_sibling_matches(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    fields = _specs(fields_of(node_spec))
    for path, field in fields.items():
        prefix = path.rpartition(".")[0]
        for sibling, allowed in field.show_if:
            sibling_path = f"{prefix}.{sibling}".lstrip(".")
            others = [o for o in fields[sibling_path].options if o not in allowed]
            assert path in by_path(build_form(node, {}))
            for other in others:
                hidden = form_edits.set_value(node, sibling_path, other)
                assert path not in by_path(build_form(hidden, {}))


# --- validation messages on their rows -----------------------------------------------------


def test_a_message_lands_on_the_row_of_its_path(node_spec: NodeSpec) -> None:
    node = full_node(node_spec)
    for path in by_path(build_form(node, {})):
        form = build_form(node, {}, {f"config.{path}": "wrong"})
        assert by_path(form)[path].error == "wrong"
        assert [view.path for view in rows(form) if view.error] == [path]
        assert form.config_error == ""


def test_a_message_below_a_row_lands_on_the_nearest_shown_one() -> None:
    node = form_edits.toggle_group(_demo("alert"), "auth", True)  # and a Content-Type header
    form = build_form(
        node,
        {},
        {
            "config.headers.Content-Type": "bad header",
            "config.auth.nothing.deeper": "bad auth",
            "config.body.text": "bad body",
        },
    )
    assert by_path(form)["headers"].error == "bad header"
    assert by_path(form)["auth"].error == "bad auth"
    assert by_path(form)["body"].error == "bad body"


def test_a_message_on_a_hidden_field_lands_on_its_group() -> None:
    node = form_edits.toggle_group(_demo("alert"), "auth", True)  # a bearer token
    form = build_form(node, {}, {"config.auth.headerName": "too long"})
    assert "auth.headerName" not in by_path(form)
    assert by_path(form)["auth"].error == "too long"


def test_messages_no_row_owns_go_to_the_config_and_the_common_fields() -> None:
    form = build_form(
        _demo("alert"),
        {},
        {
            "config": "needs a base URL",
            "config.marker": "Extra inputs are not permitted",
            "label": "required",
            "retry": "too many",
        },
    )
    assert form.config_error == "needs a base URL\nmarker: Extra inputs are not permitted"
    assert (form.label_error, form.retry_error) == ("required", "too many")
    assert not any(view.error for view in rows(form))


def test_a_problem_in_an_advanced_field_is_flagged() -> None:
    form = form_of(form_edits.set_value(_demo("alert"), "timeout", "0"))
    assert by_path(form)["timeout"].error
    assert form.advanced_problem
    assert not form_of(_demo("alert")).advanced_problem


def test_a_rule_problem_lands_on_its_row() -> None:
    """A rule's own check (``matches`` needs a text) is reported on the rule's caption."""
    node = form_edits.set_value(_demo("route"), "conditions.0.operator", "matches")
    node = form_edits.set_value(node, "conditions.0.value", "42")
    form = form_of(node)
    [caption] = [view for view in form.fields if view.widget == "row"]
    assert "regular expression" in caption.error
    assert caption.path == "conditions.0"


@pytest.mark.parametrize(
    ("path", "typed"),
    [
        ("conditions.0.branch", ""),
        ("conditions.0.operator", "sounds-like"),
        ("conditions.0.field", "{{ nodes.nowhere.x }}"),
    ],
)
def test_a_bad_rule_part_is_reported_on_its_field(path: str, typed: str) -> None:
    form = form_of(form_edits.set_value(_demo("route"), path, typed))
    assert by_path(form)[path].error
    assert [view.path for view in rows(form) if view.error] == [path]


def test_a_bad_regular_expression_is_reported_on_the_rule_value() -> None:
    node = form_edits.set_value(_demo("route"), "conditions.0.operator", "matches")
    node = form_edits.set_value(node, "conditions.0.value", "([")
    assert by_path(form_of(node))["conditions.0.value"].error


# --- what the demo nodes show ----------------------------------------------------------------


def test_the_demo_nodes_show_their_values() -> None:
    alert = by_path(build_form(_demo("alert"), {}))
    assert (alert["method"].text, alert["url"].text, alert["timeout"].text) == (
        "POST",
        "{{ env.ONCALL_WEBHOOK_URL }}",
        "10000",
    )
    assert json.loads(alert["body"].text) == {
        "text": "Urgent ticket: {{ nodes.extract.result.subject }}"
    }
    assert alert["auth"].checked is False and "auth.type" not in alert
    assert alert["timeout"].unit == "ms"
    form = build_form(_demo("alert"), {})
    assert (form.retry_enabled, form.retry_max_attempts) == (True, "3")
    pairs = [(view.name, view.text) for view in form.fields if view.widget == "pair"]
    assert pairs == [("Content-Type", "application/json")]

    summary = by_path(build_form(_demo("summarise"), {}))
    assert (summary["provider"].text, summary["model"].text) == ("openai", "gpt-4o-mini")
    assert (summary["temperature"].text, summary["maxTokens"].text) == ("0.2", "200")
    assert (summary["stream"].checked, summary["systemPrompt"].text) == (False, "")

    ticket = build_form(_demo("ticket"), {})
    assert by_path(ticket)["methods"].chosen == ["POST"]
    assert by_path(ticket)["hmac"].checked is False
    assert "hmac.header" not in by_path(ticket)

    transform = by_path(build_form(_demo("extract"), {}))
    assert (transform["code"].widget, transform["code"].language) == ("code", "jsonata")


def test_absent_fields_show_their_defaults() -> None:
    """A select and a switch show the default; a text shows it as the placeholder."""
    node = form_edits.toggle_group(_demo("ticket"), "hmac", True)
    node["data"]["config"]["hmac"] = {"secretArn": SECRET}
    node["data"]["config"].pop("methods", None)
    shown = by_path(build_form(node, {}))
    assert shown["hmac.algorithm"].text == "sha256"
    assert (shown["hmac.header"].text, shown["hmac.header"].placeholder) == ("", "X-Signature-256")
    assert (shown["hmac.toleranceSeconds"].text, shown["hmac.toleranceSeconds"].placeholder) == (
        "",
        "300",
    )
    assert shown["methods"].chosen == ["POST"]


def test_rules_are_rows_with_a_caption_and_an_add_button() -> None:
    form = build_form(_demo("route"), {})
    widgets = [(view.widget, view.path, view.depth) for view in form.fields]
    assert widgets == [
        ("list", "conditions", 0),
        ("row", "conditions.0", 1),
        ("text", "conditions.0.field", 1),
        ("select", "conditions.0.operator", 1),
        ("loose", "conditions.0.value", 1),
        ("text", "conditions.0.branch", 1),
        ("add", "conditions", 0),
        ("text", "defaultBranch", 0),
    ]
    assert [view.label for view in form.fields if view.widget in ("row", "add")] == [
        "Rule 1",
        "Add rule",
    ]
    assert by_path(form)["conditions.0.value"].text == "high"


def test_only_an_optional_select_without_a_default_offers_none(node_spec: NodeSpec) -> None:
    fields = _specs(fields_of(node_spec))
    for view in rows(build_form(full_node(node_spec), {})):
        if view.widget == "select":
            field = fields[view.path]
            offers = field.optional and field.default is None
            assert (NONE_OPTION in view.options) is offers


def test_an_unknown_type_or_empty_node_still_builds_a_form() -> None:
    unknown = build_form({"id": "x", "type": "mystery", "data": None}, {})
    assert (unknown.type, unknown.type_label, unknown.label, unknown.known) == (
        "mystery",
        "mystery",
        "",
        False,
    )
    assert (unknown.fields, unknown.advanced) == ([], [])
    empty = build_form({}, {})
    assert (empty.id, empty.type, empty.fields) == ("", "", [])
    assert NodeForm() == NodeForm(fields=[], advanced=[])


# --- typed texts -------------------------------------------------------------------------------


def test_half_typed_json_is_shown_as_typed_while_the_node_keeps_its_value() -> None:
    node = _demo("ticket")
    typed = '{"subject": "Checkout'
    shown = by_path(build_form(node, {typed_key("ticket", "samplePayload"): typed}))
    assert shown["samplePayload"].text == typed
    assert node["data"]["config"]["samplePayload"]["subject"] == "Checkout is down"


def test_json_text_is_shown_as_typed_while_it_means_the_stored_value() -> None:
    typed = '{"b":2,   "a": [1,2]}'
    node = form_edits.set_value(_demo("alert"), "body", typed)
    texts = {typed_key("alert", "body"): typed}

    assert by_path(build_form(node, texts))["body"].text == typed
    assert by_path(build_form(node, {}))["body"].text == json.dumps({"b": 2, "a": [1, 2]}, indent=2)
    # changed elsewhere (magic input, another version): the stored value shows
    other = form_edits.set_value(node, "body", "[1]")
    assert by_path(build_form(other, texts))["body"].text == "[\n  1\n]"


def test_typed_text_of_another_node_or_field_is_not_shown() -> None:
    node = _demo("ticket")
    form = build_form(node, {"alert:samplePayload": "{", "ticket:body": "{"})
    assert (
        json.loads(by_path(form)["samplePayload"].text) == node["data"]["config"]["samplePayload"]
    )


@pytest.mark.parametrize(
    ("path", "keeps"),
    [("samplePayload", True), ("syncTimeoutSeconds", True), ("source", False), ("nope", False)],
)
def test_which_fields_keep_typed_text(path: str, keeps: bool) -> None:
    assert keeps_typed_text(_demo("ticket"), path) is keeps
    assert keeps_typed_text({"id": "x", "type": "mystery"}, path) is False


# --- the label and the retry policy ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "typed", "path", "value"),
    [
        ("label", "Call the pager", ("label",), "Call the pager"),
        ("retry_max_attempts", "5", ("retryPolicy", "maxAttempts"), 5),
        ("retry_initial_delay_ms", "250", ("retryPolicy", "initialDelayMs"), 250),
        ("retry_backoff_multiplier", "1.5", ("retryPolicy", "backoffMultiplier"), 1.5),
        ("retry_max_attempts", "many", ("retryPolicy", "maxAttempts"), "many"),
    ],
)
def test_the_common_fields_are_stored_and_shown(
    name: str, typed: str, path: tuple[str, ...], value: Any
) -> None:
    node = _demo("alert")
    before = copy.deepcopy(node)

    updated = apply_edit(node, name, typed)

    assert node == before
    current: Any = updated["data"]
    for key in path:
        current = current[key]
    assert current == value
    assert getattr(build_form(updated, {}), name) == typed


def test_retry_on_adds_the_default_policy_and_off_removes_it() -> None:
    node = _demo("summarise")
    assert build_form(node, {}).retry_enabled is False

    updated = apply_edit(node, "retry_enabled", True)

    assert updated["data"]["retryPolicy"] == DEFAULT_RETRY
    assert updated["data"]["retryPolicy"] is not DEFAULT_RETRY
    form = build_form(updated, {})
    assert (form.retry_enabled, form.retry_max_attempts, form.retry_initial_delay_ms) == (
        True,
        "3",
        "1000",
    )
    assert "retryPolicy" not in apply_edit(updated, "retry_enabled", False)["data"]


def test_a_retry_number_shows_what_was_typed() -> None:
    updated = apply_edit(_demo("alert"), "retry_backoff_multiplier", "2.")
    texts = {typed_key("alert", "retry_backoff_multiplier"): "2."}
    assert build_form(updated, texts).retry_backoff_multiplier == "2."


@pytest.mark.parametrize(("name", "typed"), [("retry_max_attempts", "abc"), ("label", "")])
def test_a_bad_common_field_is_reported_on_it(name: str, typed: str) -> None:
    form = form_of(apply_edit(_demo("alert"), name, typed))
    assert (form.retry_error if name.startswith("retry") else form.label_error) != ""
    assert not any(view.error for view in rows(form))


def test_a_config_field_is_not_a_common_field() -> None:
    with pytest.raises(KeyError):
        apply_edit(_demo("alert"), "url", "x")


def test_apply_edit_creates_missing_data() -> None:
    assert apply_edit({"id": "bare", "type": "http"}, "label", "x")["data"] == {"label": "x"}


def test_the_sample_types_form_is_generated_like_the_built_in_ones(sample_node: NodeSpec) -> None:
    """A type registered from outside (``WORKFUSE_NODE_MODULES``) gets its form too."""
    form = build_form(sample_node.new_node("s"), {})
    shown = by_path(form)
    assert (shown["text"].widget, shown["algorithm"].widget) == ("multiline", "select")
    assert (shown["keyArn"].widget, shown["keyArn"].label) == ("credential", "Signing key")
    assert [(view.path, view.unit) for view in form.advanced] == [("rounds", "rounds")]
    assert shown["text"].template
    assert REGISTRY.get("sign_text") is sample_node
