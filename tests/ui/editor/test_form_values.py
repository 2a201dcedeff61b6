"""Typed text <-> stored values of the form's fields."""

from __future__ import annotations

from typing import Any

import pytest

from workfuse.ui.editor.form_schema import FieldSpec
from workfuse.ui.editor.form_values import (
    NONE_OPTION,
    FormError,
    loose_text,
    parse_json,
    parse_loose,
    parse_number,
    parsed_text,
    plain_text,
    shown_text,
)


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
    "value", [200, 1.5, True, None, "abc", "200", "true", "", {"a": [1]}, [1, "x"], "{{ x }}"]
)
def test_loose_text_parses_back_to_the_value(value: Any) -> None:
    assert parse_loose(loose_text(value)) == (None if value == "" else value)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [("12", "int", 12), (" 7 ", "int", 7), ("1.5", "int", "1.5"), ("1.", "float", 1.0)],
)
def test_parse_number(text: str, kind: str, value: Any) -> None:
    assert parse_number(text, kind) == value
    assert type(parse_number(text, kind)) is type(value)


@pytest.mark.parametrize("text", ["", "  "])
def test_an_empty_number_is_none(text: str) -> None:
    assert parse_number(text, "int") is None


@pytest.mark.parametrize(("text", "json_type"), [("[1]", "object"), ("{", ""), ("nope", "")])
def test_parse_json_refuses(text: str, json_type: str) -> None:
    with pytest.raises(FormError):
        parse_json(text, json_type)


def test_form_error_is_a_value_error() -> None:
    assert issubclass(FormError, ValueError)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), ("a", "a"), (True, "true"), (3, "3"), (2.5, "2.5"), ([1], "[\n  1\n]")],
)
def test_plain_text(value: Any, text: str) -> None:
    assert plain_text(value) == text


def test_an_optional_select_without_default_shows_none_and_none_removes_it() -> None:
    field = FieldSpec(name="mode", widget="select", label="Mode", optional=True, options=("a",))
    assert shown_text(field, None, present=False) == NONE_OPTION
    assert parsed_text(field, NONE_OPTION) is None
    assert parsed_text(field, "a") == "a"


@pytest.mark.parametrize(
    ("optional", "default", "stored"), [(True, None, None), (False, "x", None), (False, None, "")]
)
def test_empty_text(optional: bool, default: str | None, stored: str | None) -> None:
    """Empty text removes an optional field or one with a default, else stays ``""``."""
    field = FieldSpec(name="t", widget="text", label="T", optional=optional, default=default)
    assert parsed_text(field, "") == stored
