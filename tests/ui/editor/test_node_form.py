"""The side panel's form: every field shown, edited and written back (no browser, no app)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.ui.editor.sample_graph import demo_graph
from workfuse.graph import IssueCode, ValidationIssue
from workfuse.ui.editor import draft as drafts
from workfuse.ui.editor import node_form
from workfuse.ui.editor.node_form import (
    DEFAULT_HMAC,
    DEFAULT_RETRY,
    HTTP_METHODS,
    JSON_FIELDS,
    SCALAR_FIELDS,
    FormError,
    KeyValueRow,
    RuleRow,
    apply_edit,
    build_form,
    parse_loose,
)

SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing-key"
OTHER_SECRET = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:api-key"
#: Issues about a node's own data; wiring issues (branches, reachability) are not the form's.
NODE_DATA_CODES = {
    IssueCode.INVALID_FORMAT,
    IssueCode.INVALID_CONFIG,
    IssueCode.INVALID_TEMPLATE,
    IssueCode.UNKNOWN_NODE_TYPE,
}


def _graph() -> dict[str, Any]:
    """The demo graph, with every optional feature switched on (all still valid)."""
    graph = demo_graph()
    by_id = {node["id"]: node for node in graph["nodes"]}
    by_id["ticket"]["data"]["config"]["hmac"] = {
        "header": "X-Signature-256",
        "algorithm": "sha256",
        "secretArn": SECRET,
    }
    by_id["alert"]["data"]["config"]["auth"] = {"type": "apiKey", "secretArn": OTHER_SECRET}
    by_id["extract"]["data"]["config"]["code"] = "trigger.data"  # JSONata and JavaScript
    return graph


def _node(node_id: str) -> dict[str, Any]:
    node = drafts.find_node(_graph(), node_id)
    assert node is not None
    return node


def _issues(node: dict[str, Any]) -> list[ValidationIssue]:
    """Validation errors about ``node``'s own data, with ``node`` put into the graph."""
    result = drafts.validate("test", drafts.replace_node(_graph(), node))
    return [
        issue
        for issue in result.errors
        if issue.node_id == node["id"] and issue.code in NODE_DATA_CODES
    ]


def _stored(node: dict[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = node["data"]
    for key in path:
        current = current[key]
    return current


def test_the_base_graph_is_valid() -> None:
    assert drafts.validate("test", _graph()).valid


# --- round trips ---------------------------------------------------------------------

#: (node id, form field, what the user types, what is stored, what the form shows back)
ROUND_TRIPS: list[tuple[str, str, Any, Any, Any]] = [
    # every node type has a label
    ("ticket", "label", "Incoming ticket", "Incoming ticket", "Incoming ticket"),
    ("alert", "label", "Call the pager", "Call the pager", "Call the pager"),
    ("extract", "label", "Pick fields", "Pick fields", "Pick fields"),
    ("route", "label", "Is it urgent?", "Is it urgent?", "Is it urgent?"),
    ("summarise", "label", "Summary", "Summary", "Summary"),
    # trigger
    ("ticket", "source", "manual", "manual", "manual"),
    ("ticket", "sample_payload", '{"n": 1}', {"n": 1}, '{\n  "n": 1\n}'),
    ("ticket", "idempotency_header", "X-Request-Id", "X-Request-Id", "X-Request-Id"),
    ("ticket", "sync_timeout_seconds", "15", 15, "15"),
    ("ticket", "hmac_header", "X-Hub-Signature", "X-Hub-Signature", "X-Hub-Signature"),
    ("ticket", "hmac_algorithm", "sha512", "sha512", "sha512"),
    ("ticket", "hmac_secret_arn", OTHER_SECRET, OTHER_SECRET, OTHER_SECRET),
    ("ticket", "hmac_timestamp_header", "X-Timestamp", "X-Timestamp", "X-Timestamp"),
    ("ticket", "hmac_tolerance_seconds", "600", 600, "600"),
    # http (the demo's alert has a retry policy)
    ("alert", "method", "PUT", "PUT", "PUT"),
    ("alert", "url", "https://api.example.com/{{ trigger.data.subject }}", None, None),
    ("alert", "body", '{"ok": true}', {"ok": True}, '{\n  "ok": true\n}'),
    ("alert", "body", "plain text", "plain text", "plain text"),
    ("alert", "auth_secret_arn", SECRET, SECRET, SECRET),
    ("alert", "auth_header_name", "X-Token", "X-Token", "X-Token"),
    ("alert", "timeout", "2500", 2500, "2500"),
    ("alert", "retry_max_attempts", "5", 5, "5"),
    ("alert", "retry_initial_delay_ms", "250", 250, "250"),
    ("alert", "retry_backoff_multiplier", "1.5", 1.5, "1.5"),
    # transform
    ("extract", "language", "javascript", "javascript", "javascript"),
    ("extract", "code", "$count(trigger.data)", "$count(trigger.data)", "$count(trigger.data)"),
    ("extract", "timeout", " 2000 ", 2000, "2000"),
    # condition (rules have their own tests)
    ("route", "default_branch", "other", "other", "other"),
    # ai
    ("summarise", "provider", "anthropic", "anthropic", "anthropic"),
    ("summarise", "model", "claude-haiku", "claude-haiku", "claude-haiku"),
    ("summarise", "prompt", "Hi {{ trigger.data.subject }}", None, None),
    ("summarise", "system_prompt", "Be brief.", "Be brief.", "Be brief."),
    ("summarise", "temperature", "0.7", 0.7, "0.7"),
    ("summarise", "max_tokens", "512", 512, "512"),
    ("summarise", "stream", True, True, True),
    ("summarise", "secret_arn", SECRET, SECRET, SECRET),
    ("summarise", "base_url", "http://localhost:11434/v1", None, None),
]


@pytest.mark.parametrize(
    ("node_id", "name", "typed", "stored", "shown"),
    ROUND_TRIPS,
    ids=[f"{row[0]}-{row[1]}-{index}" for index, row in enumerate(ROUND_TRIPS)],
)
def test_a_valid_edit_is_stored_shown_and_passes_validation(
    node_id: str, name: str, typed: Any, stored: Any, shown: Any
) -> None:
    """``None`` for stored/shown means: the typed text itself."""
    stored = typed if stored is None else stored
    shown = typed if shown is None else shown
    node = _node(node_id)
    before = copy.deepcopy(node)

    updated = apply_edit(node, name, typed)

    assert node == before, "apply_edit changed its argument"
    path, _ = SCALAR_FIELDS[name]
    assert _stored(updated, path) == stored
    assert getattr(build_form(updated, {}), name) == shown
    assert _issues(updated) == []


def test_every_form_field_has_a_round_trip() -> None:
    assert {row[1] for row in ROUND_TRIPS} == set(SCALAR_FIELDS)


@pytest.mark.parametrize(
    ("node_id", "name"),
    [
        ("ticket", "idempotency_header"),
        ("ticket", "hmac_timestamp_header"),
        ("alert", "auth_header_name"),
        ("summarise", "system_prompt"),
        ("summarise", "secret_arn"),
        ("summarise", "base_url"),
    ],
)
def test_clearing_an_optional_text_removes_it(node_id: str, name: str) -> None:
    node = apply_edit(_node(node_id), name, "something")

    cleared = apply_edit(node, name, "")

    path, _ = SCALAR_FIELDS[name]
    parent = _stored(cleared, path[:-1])
    assert path[-1] not in parent
    assert getattr(build_form(cleared, {}), name) == ""
    assert _issues(cleared) == []


@pytest.mark.parametrize(
    ("node_id", "name"),
    [
        ("alert", "timeout"),
        ("extract", "timeout"),
        ("ticket", "sync_timeout_seconds"),
        ("summarise", "temperature"),
        ("summarise", "max_tokens"),
    ],
)
def test_clearing_an_optional_number_removes_it(node_id: str, name: str) -> None:
    node = apply_edit(_node(node_id), name, "7")

    cleared = apply_edit(node, name, "  ")

    path, _ = SCALAR_FIELDS[name]
    assert path[-1] not in _stored(cleared, path[:-1])
    assert getattr(build_form(cleared, {}), name) == ""
    assert _issues(cleared) == []


def test_a_required_text_cleared_is_kept_empty_and_reported() -> None:
    updated = apply_edit(_node("alert"), "url", "")

    assert updated["data"]["config"]["url"] == ""
    assert build_form(updated, {}).url == ""
    [issue] = _issues(updated)
    assert issue.code is IssueCode.INVALID_CONFIG
    assert drafts.form_field_of(issue) == "url"


def test_stream_switch_off_and_on() -> None:
    off = apply_edit(_node("summarise"), "stream", False)
    assert off["data"]["config"]["stream"] is False
    assert build_form(off, {}).stream is False
    on = apply_edit(off, "stream", True)
    assert build_form(on, {}).stream is True


def test_unknown_field_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        apply_edit(_node("alert"), "no_such_field", "x")


def test_apply_edit_creates_missing_data_and_config() -> None:
    updated = apply_edit({"id": "bare", "type": "http"}, "url", "https://example.com")
    assert updated["data"]["config"] == {"url": "https://example.com"}


# --- numbers that do not parse ---------------------------------------------------------


@pytest.mark.parametrize(
    ("node_id", "name", "typed", "field_key"),
    [
        ("alert", "timeout", "ten", "timeout"),
        ("alert", "timeout", "1.5", "timeout"),
        ("alert", "timeout", "0", "timeout"),
        ("extract", "timeout", "soon", "timeout"),
        ("ticket", "sync_timeout_seconds", "abc", "sync_timeout_seconds"),
        ("ticket", "sync_timeout_seconds", "31", "sync_timeout_seconds"),
        ("ticket", "hmac_tolerance_seconds", "5 min", "hmac"),
        ("summarise", "temperature", "warm", "temperature"),
        ("summarise", "temperature", "2.5", "temperature"),
        ("summarise", "max_tokens", "lots", "max_tokens"),
    ],
)
def test_a_bad_number_is_kept_as_typed_and_reported_on_its_field(
    node_id: str, name: str, typed: str, field_key: str
) -> None:
    updated = apply_edit(_node(node_id), name, typed)

    path, _ = SCALAR_FIELDS[name]
    stored = _stored(updated, path)
    if isinstance(stored, str):  # did not parse: nothing the user typed is lost
        assert stored == typed
    assert getattr(build_form(updated, {}), name) == typed
    issues = _issues(updated)
    assert [issue.code for issue in issues] == [IssueCode.INVALID_CONFIG]
    assert drafts.form_field_of(issues[0]) == field_key
    assert drafts.short_message(issues[0])  # the panel has something to say


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("retry_max_attempts", "many"),
        ("retry_max_attempts", "99"),
        ("retry_initial_delay_ms", "soon"),
        ("retry_backoff_multiplier", "double"),
    ],
)
def test_a_bad_retry_number_is_kept_as_typed(name: str, typed: str) -> None:
    updated = apply_edit(_node("alert"), name, typed)

    assert getattr(build_form(updated, {}), name) == typed
    issues = _issues(updated)
    assert issues
    assert all(issue.node_id == "alert" for issue in issues)


@pytest.mark.parametrize("name", ["retry_max_attempts", "retry_backoff_multiplier"])
def test_a_bad_retry_number_is_reported_on_the_retry_section(name: str) -> None:
    issues = _issues(apply_edit(_node("alert"), name, "abc"))
    assert [drafts.form_field_of(issue) for issue in issues] == ["retry"]


def test_an_empty_label_is_reported_on_the_label_field() -> None:
    issues = _issues(apply_edit(_node("alert"), "label", ""))
    assert [drafts.form_field_of(issue) for issue in issues] == ["label"]


def test_an_empty_label_is_kept_and_reported_on_the_node() -> None:
    updated = apply_edit(_node("alert"), "label", "")
    assert updated["data"]["label"] == ""
    assert build_form(updated, {}).label == ""
    assert [issue.code for issue in _issues(updated)] == [IssueCode.INVALID_FORMAT]


@pytest.mark.parametrize(
    ("node_id", "name", "typed"),
    [
        ("summarise", "temperature", "1"),
        ("summarise", "temperature", "1."),
        ("alert", "retry_backoff_multiplier", "2"),
    ],
)
def test_a_float_field_shows_what_was_typed(node_id: str, name: str, typed: str) -> None:
    """The editor keeps typed numbers in its ``texts`` buffer, so ``1.`` stays ``1.``."""
    updated = apply_edit(_node(node_id), name, typed)
    assert name in node_form.TYPED_FIELDS
    assert getattr(build_form(updated, {f"{node_id}:{name}": typed}), name) == typed


# --- JSON fields -------------------------------------------------------------------------


def test_json_fields_are_the_sample_payload_and_the_body() -> None:
    assert frozenset({"sample_payload", "body"}) == JSON_FIELDS


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
    node = _node("ticket")
    before = copy.deepcopy(node)

    with pytest.raises(FormError, match=message):
        apply_edit(node, "sample_payload", typed)

    assert node == before


def test_form_error_is_a_value_error() -> None:
    assert issubclass(FormError, ValueError)


def test_an_empty_sample_payload_removes_it() -> None:
    updated = apply_edit(_node("ticket"), "sample_payload", "")
    assert "samplePayload" not in updated["data"]["config"]
    assert build_form(updated, {}).sample_payload == ""
    assert _issues(updated) == []


@pytest.mark.parametrize("name", ["sample_payload", "body"])
def test_json_text_is_shown_as_typed(name: str) -> None:
    node_id = "ticket" if name == "sample_payload" else "alert"
    typed = '{"b":2,   "a": [1,2]}'
    updated = apply_edit(_node(node_id), name, typed)
    texts = {f"{node_id}:{name}": typed}

    assert getattr(build_form(updated, texts), name) == typed
    assert getattr(build_form(updated, {}), name) == json.dumps({"b": 2, "a": [1, 2]}, indent=2)


def test_half_typed_json_is_shown_as_typed_while_the_node_keeps_its_value() -> None:
    node = _node("ticket")
    typed = '{"subject": "Checkout'
    with pytest.raises(FormError):
        apply_edit(node, "sample_payload", typed)

    form = build_form(node, {"ticket:sample_payload": typed})

    assert form.sample_payload == typed
    assert node["data"]["config"]["samplePayload"]["subject"] == "Checkout is down"


def test_typed_text_of_another_node_or_field_is_not_shown() -> None:
    node = _node("ticket")
    form = build_form(node, {"alert:sample_payload": "{", "ticket:body": "{"})
    assert json.loads(form.sample_payload) == node["data"]["config"]["samplePayload"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ('{"text": "hi"}', {"text": "hi"}),
        ("[1, 2]", [1, 2]),
        ("200", 200),
        ("{not json", "{not json"),
        ("", None),
    ],
)
def test_a_body_is_json_when_it_parses_else_text(typed: str, stored: Any) -> None:
    updated = apply_edit(_node("alert"), "body", typed)
    assert updated["data"]["config"].get("body") == stored
    assert _issues(updated) == []


# --- switches and selects ----------------------------------------------------------------


def test_auth_none_removes_auth() -> None:
    updated = apply_edit(_node("alert"), "auth_type", "none")

    assert "auth" not in updated["data"]["config"]
    form = build_form(updated, {})
    assert form.auth_type == "none"
    assert form.auth_secret_arn == ""
    assert _issues(updated) == []


@pytest.mark.parametrize("auth_type", ["bearer", "basic", "apiKey"])
def test_changing_the_auth_type_keeps_the_chosen_credential(auth_type: str) -> None:
    updated = apply_edit(_node("alert"), "auth_type", auth_type)

    auth = updated["data"]["config"]["auth"]
    assert auth["type"] == auth_type
    assert auth["secretArn"] == OTHER_SECRET
    form = build_form(updated, {})
    assert form.auth_type == auth_type
    assert form.auth_secret_arn == OTHER_SECRET
    assert _issues(updated) == []


def test_auth_keeps_the_header_name_across_types() -> None:
    node = apply_edit(_node("alert"), "auth_header_name", "X-Token")
    updated = apply_edit(apply_edit(node, "auth_type", "bearer"), "auth_type", "apiKey")
    assert updated["data"]["config"]["auth"]["headerName"] == "X-Token"


def test_turning_auth_on_asks_for_a_credential() -> None:
    node = apply_edit(_node("alert"), "auth_type", "none")

    updated = apply_edit(node, "auth_type", "bearer")

    assert updated["data"]["config"]["auth"] == {"type": "bearer", "secretArn": ""}
    issues = _issues(updated)
    assert [drafts.form_field_of(issue) for issue in issues] == ["auth"]
    chosen = apply_edit(updated, "auth_secret_arn", SECRET)
    assert _issues(chosen) == []


def test_a_node_without_auth_shows_none() -> None:
    assert build_form(_node("summarise"), {}).auth_type == "none"


def test_auth_without_a_type_shows_bearer() -> None:
    node = _node("alert")
    del node["data"]["config"]["auth"]["type"]
    assert build_form(node, {}).auth_type == "bearer"


def test_retry_on_adds_the_default_policy() -> None:
    node = _node("summarise")
    assert build_form(node, {}).retry_enabled is False

    updated = apply_edit(node, "retry_enabled", True)

    assert updated["data"]["retryPolicy"] == DEFAULT_RETRY
    assert updated["data"]["retryPolicy"] is not DEFAULT_RETRY
    form = build_form(updated, {})
    assert form.retry_enabled is True
    assert (form.retry_max_attempts, form.retry_initial_delay_ms) == ("3", "1000")
    assert float(form.retry_backoff_multiplier) == 2.0
    assert _issues(updated) == []


def test_retry_off_removes_the_policy() -> None:
    updated = apply_edit(_node("alert"), "retry_enabled", False)

    assert "retryPolicy" not in updated["data"]
    form = build_form(updated, {})
    assert form.retry_enabled is False
    assert form.retry_max_attempts == ""
    assert _issues(updated) == []


def test_retry_off_on_a_node_without_retry_is_harmless() -> None:
    node = _node("summarise")
    assert apply_edit(node, "retry_enabled", False) == node


def test_hmac_on_adds_the_defaults_and_asks_for_a_secret() -> None:
    node = apply_edit(_node("ticket"), "hmac_enabled", False)
    assert "hmac" not in node["data"]["config"]
    assert build_form(node, {}).hmac_enabled is False

    updated = apply_edit(node, "hmac_enabled", True)

    assert updated["data"]["config"]["hmac"] == DEFAULT_HMAC
    form = build_form(updated, {})
    assert form.hmac_enabled is True
    assert (form.hmac_header, form.hmac_algorithm) == ("X-Signature-256", "sha256")
    assert [drafts.form_field_of(issue) for issue in _issues(updated)] == ["hmac"]
    assert _issues(apply_edit(updated, "hmac_secret_arn", SECRET)) == []


def test_hmac_on_does_not_share_the_defaults() -> None:
    updated = apply_edit(_node("summarise"), "hmac_enabled", True)
    updated["data"]["config"]["hmac"]["header"] = "changed"
    assert DEFAULT_HMAC["header"] == "X-Signature-256"


@pytest.mark.parametrize(
    ("node_type", "name", "shown"),
    [
        ("http", "method", "GET"),
        ("transform", "language", "jsonata"),
        ("ai", "provider", "openai"),
        ("trigger", "source", "webhook"),
    ],
)
def test_a_select_without_a_stored_value_shows_the_default(
    node_type: str, name: str, shown: str
) -> None:
    node = {"id": "n", "type": node_type, "data": {"label": "n", "config": {}}}
    assert getattr(build_form(node, {}), name) == shown


# --- trigger methods ---------------------------------------------------------------------


def test_methods_default_to_post() -> None:
    assert build_form(_node("ticket"), {}).methods == ["POST"]


@pytest.mark.parametrize(
    ("method", "on", "methods"),
    [
        ("PUT", True, ["POST", "PUT"]),
        ("GET", True, ["GET", "POST"]),
        ("POST", True, ["POST"]),
        ("POST", False, []),
        ("PUT", False, ["POST"]),
    ],
)
def test_toggle_method_from_the_default(method: str, on: bool, methods: list[str]) -> None:
    node = _node("ticket")
    before = copy.deepcopy(node)

    updated = node_form.toggle_method(node, method, on)

    assert node == before
    assert updated["data"]["config"]["methods"] == methods
    assert build_form(updated, {}).methods == methods


def test_methods_stay_in_a_fixed_order() -> None:
    node = _node("ticket")
    for method in ["DELETE", "GET", "PATCH", "PUT"]:
        node = node_form.toggle_method(node, method, True)
    assert node["data"]["config"]["methods"] == HTTP_METHODS
    assert _issues(node) == []


def test_no_method_left_is_reported() -> None:
    updated = node_form.toggle_method(_node("ticket"), "POST", False)
    issues = _issues(updated)
    assert [drafts.form_field_of(issue) for issue in issues] == ["methods"]


# --- headers ------------------------------------------------------------------------------


def _with_headers(headers: dict[str, Any]) -> dict[str, Any]:
    node = _node("alert")
    node["data"]["config"]["headers"] = headers
    return node


def test_headers_are_shown_as_rows_in_order() -> None:
    node = _with_headers({"B": "2", "A": "1", "N": 5})
    assert build_form(node, {}).headers == [
        KeyValueRow("B", "2"),
        KeyValueRow("A", "1"),
        KeyValueRow("N", "5"),
    ]


def test_renaming_a_header_keeps_its_place() -> None:
    node = _with_headers({"First": "1", "Second": "2", "Third": "3"})

    updated = node_form.edit_header(node, 1, "key", "Middle")

    assert list(updated["data"]["config"]["headers"].items()) == [
        ("First", "1"),
        ("Middle", "2"),
        ("Third", "3"),
    ]
    assert _issues(updated) == []


def test_editing_a_header_value() -> None:
    node = _with_headers({"Accept": "text/plain"})
    updated = node_form.edit_header(node, 0, "value", "application/json")
    assert updated["data"]["config"]["headers"] == {"Accept": "application/json"}
    assert build_form(updated, {}).headers == [KeyValueRow("Accept", "application/json")]


def test_typing_an_existing_header_name_is_refused_and_loses_no_value() -> None:
    node = node_form.add_header(_with_headers({"Content-Type": "application/json"}))
    before = copy.deepcopy(node)

    with pytest.raises(FormError, match="already set"):
        node_form.edit_header(node, 1, "key", "content-type")

    assert node == before


@pytest.mark.parametrize("index", [-1, 3, 99])
def test_editing_a_missing_header_row_changes_nothing(index: int) -> None:
    node = _with_headers({"A": "1"})
    assert node_form.edit_header(node, index, "key", "B") == node


def test_add_header_appends_one_empty_row() -> None:
    node = _with_headers({"A": "1"})
    before = copy.deepcopy(node)

    updated = node_form.add_header(node)

    assert node == before
    assert build_form(updated, {}).headers == [KeyValueRow("A", "1"), KeyValueRow("", "")]


def test_add_header_refuses_a_second_empty_row() -> None:
    once = node_form.add_header(_with_headers({"A": "1"}))
    twice = node_form.add_header(once)
    assert twice == once
    assert len(build_form(twice, {}).headers) == 2


def test_an_empty_row_filled_in_allows_another() -> None:
    node = node_form.add_header(_node("summarise"))  # a node without headers
    node = node_form.edit_header(node, 0, "key", "X-One")
    node = node_form.add_header(node)
    assert [row.key for row in build_form(node, {}).headers] == ["X-One", ""]


def test_remove_header() -> None:
    node = _with_headers({"A": "1", "B": "2", "C": "3"})
    before = copy.deepcopy(node)

    updated = node_form.remove_header(node, 1)

    assert node == before
    assert list(updated["data"]["config"]["headers"]) == ["A", "C"]


def test_removing_the_last_header_removes_headers() -> None:
    updated = node_form.remove_header(_with_headers({"A": "1"}), 0)
    assert "headers" not in updated["data"]["config"]
    assert build_form(updated, {}).headers == []
    assert _issues(updated) == []


def test_removing_a_missing_header_row_changes_nothing() -> None:
    node = _with_headers({"A": "1"})
    assert node_form.remove_header(node, 5) == node


# --- condition rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("200", 200),
        ("-3", -3),
        ("1.5", 1.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ("abc", "abc"),
        ("high priority", "high priority"),
        ('"200"', "200"),
        ('{"a": 1}', {"a": 1}),
        ("[1, 2]", [1, 2]),
        ("{{ nodes.extract.result }}", "{{ nodes.extract.result }}"),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_loose(text: str, value: Any) -> None:
    assert parse_loose(text) == value
    assert type(parse_loose(text)) is type(value)


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_parse_loose_keeps_words_that_are_not_json(text: str) -> None:
    assert parse_loose(text) == text


@pytest.mark.parametrize(
    ("text", "value", "shown"),
    [
        ("200", 200, "200"),
        ("true", True, "true"),
        ("abc", "abc", "abc"),
        ("", None, ""),
    ],
)
def test_a_rule_value_parses_as_json_when_it_can(text: str, value: Any, shown: str) -> None:
    node = _node("route")
    before = copy.deepcopy(node)

    updated = node_form.edit_rule(node, 0, "value", text)

    assert node == before
    assert updated["data"]["config"]["conditions"][0]["value"] == value
    assert build_form(updated, {}).rules[0].value == shown
    assert _issues(updated) == []


@pytest.mark.parametrize(
    ("part", "text"),
    [
        ("field", "200"),
        ("field", "{{ trigger.data.priority }}"),
        ("operator", "ne"),
        ("branch", "critical"),
    ],
)
def test_other_rule_parts_are_stored_as_text(part: str, text: str) -> None:
    updated = node_form.edit_rule(_node("route"), 0, part, text)

    assert updated["data"]["config"]["conditions"][0][part] == text
    assert getattr(build_form(updated, {}).rules[0], part) == text
    assert _issues(updated) == []


@pytest.mark.parametrize(("index", "part"), [(1, "value"), (-1, "value"), (0, "colour")])
def test_editing_a_missing_rule_part_changes_nothing(index: int, part: str) -> None:
    node = _node("route")
    assert node_form.edit_rule(node, index, part, "x") == node


def test_rules_are_shown_as_rows() -> None:
    assert build_form(_node("route"), {}).rules == [
        RuleRow(
            field="{{ nodes.extract.result.priority }}",
            operator="eq",
            value="high",
            branch="urgent",
        )
    ]
    assert build_form(_node("route"), {}).default_branch == "normal"


def test_a_rule_with_an_object_value_shows_json() -> None:
    updated = node_form.edit_rule(_node("route"), 0, "value", '{"a": [1]}')
    assert json.loads(build_form(updated, {}).rules[0].value) == {"a": [1]}


def test_a_bad_regular_expression_is_reported_on_the_node() -> None:
    node = node_form.edit_rule(_node("route"), 0, "operator", "matches")
    node = node_form.edit_rule(node, 0, "value", "([")
    assert [issue.code for issue in _issues(node)] == [IssueCode.INVALID_CONFIG]


@pytest.mark.parametrize(
    ("part", "text"), [("branch", ""), ("operator", "sounds-like")], ids=["branch", "operator"]
)
def test_a_bad_rule_is_reported_on_its_row(part: str, text: str) -> None:
    issues = _issues(node_form.edit_rule(_node("route"), 0, part, text))
    assert [drafts.form_field_of(issue) for issue in issues] == ["rule.0"]


def test_a_bad_template_in_a_rule_is_reported_on_its_row() -> None:
    updated = node_form.edit_rule(_node("route"), 0, "field", "{{ nodes.nowhere.x }}")
    issues = _issues(updated)
    assert [issue.code for issue in issues] == [IssueCode.INVALID_TEMPLATE]
    assert drafts.form_field_of(issues[0]) == "rule.0"


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
def test_add_rule_picks_an_unused_branch_name(branches: list[str], new: str) -> None:
    node = _node("route")
    node["data"]["config"]["conditions"] = [
        {"field": "a", "operator": "eq", "value": 1, "branch": branch} for branch in branches
    ]
    before = copy.deepcopy(node)

    updated = node_form.add_rule(node)

    assert node == before
    rules = updated["data"]["config"]["conditions"]
    assert rules[:-1] == before["data"]["config"]["conditions"]
    assert rules[-1] == {"field": "", "operator": "eq", "value": "", "branch": new}
    assert build_form(updated, {}).rules[-1] == RuleRow("", "eq", "", new)


def test_added_rules_get_distinct_branches_and_handles() -> None:
    node: dict[str, Any] = {"id": "c", "type": "condition", "data": {"label": "c", "config": {}}}
    for _ in range(4):
        node = node_form.add_rule(node)
    branches = [rule["branch"] for rule in node["data"]["config"]["conditions"]]
    assert len(set(branches)) == 4
    assert drafts.output_handles(node) == [*branches, "default"]


def test_add_rule_does_not_reuse_the_default_branch() -> None:
    node = _node("route")
    node["data"]["config"] = {"conditions": [], "defaultBranch": "branch1"}
    updated = node_form.add_rule(node)
    assert len(drafts.output_handles(updated)) == 2


def test_an_added_rule_is_a_valid_config() -> None:
    assert _issues(node_form.add_rule(_node("route"))) == []


def test_remove_rule() -> None:
    node = node_form.add_rule(_node("route"))
    before = copy.deepcopy(node)

    updated = node_form.remove_rule(node, 0)

    assert node == before
    assert [rule["branch"] for rule in updated["data"]["config"]["conditions"]] == ["branch2"]


@pytest.mark.parametrize("index", [-1, 1])
def test_removing_a_missing_rule_changes_nothing(index: int) -> None:
    node = _node("route")
    assert node_form.remove_rule(node, index) == node


def test_rule_edits_on_a_node_without_rules_start_a_list() -> None:
    node = {"id": "c", "type": "condition", "data": {"label": "c", "config": {}}}
    assert node_form.edit_rule(node, 0, "value", "1")["data"]["config"]["conditions"] == []
    assert node_form.remove_rule(node, 0)["data"]["config"]["conditions"] == []


# --- the form as a whole ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_id", "type_label"),
    [
        ("ticket", "Trigger"),
        ("alert", "HTTP Request"),
        ("extract", "Transform"),
        ("route", "Condition"),
        ("summarise", "AI"),
    ],
)
def test_the_form_names_the_node_and_its_type(node_id: str, type_label: str) -> None:
    node = _node(node_id)
    form = build_form(node, {})
    assert (form.id, form.type, form.type_label) == (node_id, node["type"], type_label)
    assert form.label == node["data"]["label"]


def test_the_demo_nodes_show_their_values() -> None:
    alert = build_form(_node("alert"), {})
    assert (alert.method, alert.url, alert.timeout) == (
        "POST",
        "{{ env.ONCALL_WEBHOOK_URL }}",
        "10000",
    )
    assert json.loads(alert.body) == {"text": "Urgent ticket: {{ nodes.extract.result.subject }}"}
    assert (alert.retry_enabled, alert.retry_max_attempts) == (True, "3")
    assert (alert.auth_type, alert.auth_secret_arn) == ("apiKey", OTHER_SECRET)
    summary = build_form(_node("summarise"), {})
    assert (summary.provider, summary.model, summary.temperature, summary.max_tokens) == (
        "openai",
        "gpt-4o-mini",
        "0.2",
        "200",
    )
    assert (summary.stream, summary.system_prompt, summary.retry_enabled) == (False, "", False)
    ticket = build_form(_node("ticket"), {})
    assert (ticket.hmac_enabled, ticket.hmac_secret_arn) == (True, SECRET)
    assert ticket.hmac_tolerance_seconds == ""


def test_an_unknown_type_or_empty_node_still_builds_a_form() -> None:
    unknown = build_form({"id": "x", "type": "mystery", "data": None}, {})
    assert (unknown.type, unknown.type_label, unknown.label) == ("mystery", "mystery", "")
    empty = build_form({}, {})
    assert (empty.id, empty.type, empty.headers, empty.rules) == ("", "", [], [])


EDITS: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
    ("apply_edit", lambda node: apply_edit(node, "label", "x")),
    ("apply_edit retry", lambda node: apply_edit(node, "retry_enabled", True)),
    ("apply_edit hmac", lambda node: apply_edit(node, "hmac_enabled", False)),
    ("apply_edit auth", lambda node: apply_edit(node, "auth_type", "none")),
    ("apply_edit nested", lambda node: apply_edit(node, "hmac_header", "X")),
    ("toggle_method", lambda node: node_form.toggle_method(node, "GET", True)),
    ("edit_header", lambda node: node_form.edit_header(node, 0, "key", "X")),
    ("add_header", node_form.add_header),
    ("remove_header", lambda node: node_form.remove_header(node, 0)),
    ("edit_rule", lambda node: node_form.edit_rule(node, 0, "value", "1")),
    ("add_rule", node_form.add_rule),
    ("remove_rule", lambda node: node_form.remove_rule(node, 0)),
    ("build_form", lambda node: build_form(node, {})),
]


@pytest.mark.parametrize("node_id", ["ticket", "alert", "route", "summarise"])
@pytest.mark.parametrize("edit", [edit for _, edit in EDITS], ids=[name for name, _ in EDITS])
def test_no_edit_mutates_its_node(edit: Callable[[dict[str, Any]], Any], node_id: str) -> None:
    node = _node(node_id)
    before = copy.deepcopy(node)
    result = edit(node)
    assert node == before
    if isinstance(result, dict) and result != node:
        result["data"]["config"]["marker"] = True  # the result shares nothing with the input
        assert node == before
