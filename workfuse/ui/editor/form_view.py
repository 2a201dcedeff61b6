"""The generated form in the side panel: one component per :class:`FieldView` row.

:func:`field_rows` renders a list of rows (``EditorState.form.fields`` or
``.advanced``) with one ``rx.foreach`` and an ``rx.match`` on each row's widget, so
any node type's form, including types registered at run time, renders with the same
compiled components. Every change goes to one of the editor's generic events with
the row's config path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx
from reflex.vars import ObjectVar

from workfuse import web_paths
from workfuse.ui.editor.components import MONO, code_field
from workfuse.ui.editor.node_form import FieldView
from workfuse.ui.editor.state import EditorState

TEMPLATE_HINT = "Templates such as {{ trigger.data.id }} or {{ nodes.<id>.<field> }} work here."
NESTED_INDENT = "12px"  #: left padding of the rows of a group or list row
ROW_GAP = "12px"  #: space under each row


def error_text(text: rx.Var[str]) -> rx.Component:
    """A validation message under a field (``.field-error``, for tests too)."""
    return rx.cond(
        text != "",
        rx.text(text, size="1", color=rx.color("red", 11), class_name="field-error"),
    )


def _caption(view: ObjectVar[FieldView]) -> rx.Component:
    return rx.hstack(
        rx.text(view.label, size="1", weight="medium", color=rx.color("gray", 11)),
        rx.cond(
            view.template,
            rx.tooltip(
                rx.badge("{{ }}", size="1", variant="soft", color_scheme="gray", radius="full"),
                content=TEMPLATE_HINT,
            ),
        ),
        spacing="2",
        align="center",
    )


def _help_and_error(view: ObjectVar[FieldView]) -> rx.Component:
    """The field's help text (if any) and its validation message (if any)."""
    return rx.fragment(
        rx.cond(view.help != "", rx.text(view.help, size="1", color=rx.color("gray", 10))),
        error_text(view.error),
    )


def _labelled(view: ObjectVar[FieldView], control: rx.Component) -> rx.Component:
    """Label, control, help and the row's validation message."""
    return rx.vstack(
        _caption(view),
        control,
        _help_and_error(view),
        spacing="1",
        width="100%",
    )


def _text_input(view: ObjectVar[FieldView]) -> rx.Component:
    return rx.input(
        value=view.text,
        on_change=lambda value: EditorState.set_value(view.path, value),
        placeholder=view.placeholder,
        name=view.path,
        width="100%",
        font_family=rx.cond(view.template, MONO, "inherit"),
    )


def _text_area(view: ObjectVar[FieldView], monospace: bool) -> rx.Component:
    return rx.text_area(
        value=view.text,
        on_change=lambda value: EditorState.set_value(view.path, value),
        placeholder=view.placeholder,
        name=view.path,
        rows=view.rows.to_string(),
        width="100%",
        font_family=MONO if monospace else rx.cond(view.template, MONO, "inherit"),
        font_size=rx.cond(view.template, "12px", "inherit") if not monospace else "12px",
        spell_check=False,
    )


def _number_input(view: ObjectVar[FieldView]) -> rx.Component:
    return rx.hstack(
        rx.input(
            value=view.text,
            on_change=lambda value: EditorState.set_value(view.path, value),
            placeholder=view.placeholder,
            name=view.path,
            input_mode="decimal",
            width="100%",
        ),
        rx.cond(
            view.unit != "",
            rx.text(view.unit, size="1", color=rx.color("gray", 10), white_space="nowrap"),
        ),
        align="center",
        spacing="2",
        width="100%",
    )


def _select(view: ObjectVar[FieldView]) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder=view.placeholder, width="100%"),
        rx.select.content(
            rx.foreach(view.options, lambda option: rx.select.item(option, value=option))
        ),
        value=view.text,
        on_change=lambda value: EditorState.set_value(view.path, value),
        name=view.path,
    )


def _checkboxes(view: ObjectVar[FieldView]) -> rx.Component:
    return rx.hstack(
        rx.foreach(
            view.options,
            lambda option: rx.checkbox(
                option,
                checked=view.chosen.contains(option),
                on_change=lambda on: EditorState.toggle_choice(view.path, option, on),
                size="1",
            ),
        ),
        wrap="wrap",
        spacing="3",
    )


def _credential(view: ObjectVar[FieldView]) -> rx.Component:
    """A picker of the user's credentials by name (never a literal secret); an optional
    one can be cleared."""
    return rx.cond(
        EditorState.credentials.length() > 0,
        rx.hstack(
            rx.box(
                rx.select.root(
                    rx.select.trigger(placeholder=view.placeholder, width="100%"),
                    rx.select.content(
                        rx.foreach(
                            EditorState.credentials,
                            lambda option: rx.select.item(option.name, value=option.arn),
                        )
                    ),
                    value=view.text,
                    on_change=lambda value: EditorState.set_value(view.path, value),
                    name=view.path,
                ),
                flex="1",
                min_width="0",
            ),
            rx.cond(
                view.optional & (view.text != ""),
                rx.icon_button(
                    rx.icon("x", size=14),
                    on_click=EditorState.set_value(view.path, ""),
                    variant="ghost",
                    color_scheme="gray",
                    size="1",
                    aria_label="Clear the credential",
                ),
            ),
            width="100%",
            align="center",
            spacing="1",
        ),
        rx.text(
            "No credentials yet: ",
            rx.link("create one", href=web_paths.CREDENTIALS),
            " first.",
            size="1",
            color=rx.color("gray", 10),
        ),
    )


def _code(view: ObjectVar[FieldView]) -> rx.Component:
    return code_field(
        value=view.text,
        language=view.language,
        name=view.path,
        min_height=view.rows.to(int) * 18 + 20,
        on_change=lambda value: EditorState.set_value(view.path, value),
    )


def _switch(view: ObjectVar[FieldView]) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.switch(
                checked=view.checked,
                on_change=lambda on: EditorState.set_value(view.path, on),
                size="1",
                name=view.path,
            ),
            rx.text(view.label, size="2"),
            align="center",
            spacing="2",
        ),
        _help_and_error(view),
        spacing="1",
        width="100%",
    )


def _group(view: ObjectVar[FieldView]) -> rx.Component:
    """An optional nested object: a switch turns it on (with its defaults) or off."""
    return rx.vstack(
        rx.hstack(
            rx.cond(
                view.optional,
                rx.switch(
                    checked=view.checked,
                    on_change=lambda on: EditorState.toggle_group(view.path, on),
                    size="1",
                    name=view.path,
                ),
            ),
            rx.text(view.label, size="2", weight="medium"),
            align="center",
            spacing="2",
        ),
        _help_and_error(view),
        spacing="1",
        width="100%",
    )


def _heading(view: ObjectVar[FieldView]) -> rx.Component:
    """The title of a list or of key/value rows; the rows follow."""
    return rx.vstack(
        _caption(view),
        _help_and_error(view),
        spacing="1",
        width="100%",
    )


def _list_row(view: ObjectVar[FieldView]) -> rx.Component:
    """A list row's caption, with its remove button and the row's own problem."""
    return rx.vstack(
        rx.hstack(
            rx.text(view.label, size="1", weight="bold", color=rx.color("gray", 11)),
            rx.spacer(),
            rx.icon_button(
                rx.icon("trash-2", size=13),
                on_click=EditorState.remove_row(view.name, view.index),
                variant="ghost",
                color_scheme="gray",
                size="1",
                aria_label="Remove row",
            ),
            width="100%",
            align="center",
        ),
        error_text(view.error),
        spacing="1",
        width="100%",
        padding_top="0.25em",
        class_name="list-row",
    )


def _add_button(view: ObjectVar[FieldView], event: Callable[..., Any]) -> rx.Component:
    return rx.button(
        rx.icon("plus", size=14),
        view.label,
        on_click=event(view.path),
        variant="soft",
        size="1",
    )


def _pair(view: ObjectVar[FieldView]) -> rx.Component:
    """One key/value row (an HTTP header)."""
    return rx.hstack(
        rx.input(
            value=view.name,
            placeholder=view.placeholder,
            on_change=lambda value: EditorState.set_pair(view.path, view.index, "key", value),
            width="42%",
            size="1",
        ),
        rx.input(
            value=view.text,
            placeholder="Value or {{ template }}",
            on_change=lambda value: EditorState.set_pair(view.path, view.index, "value", value),
            width="50%",
            size="1",
            font_family=MONO,
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            on_click=EditorState.remove_pair(view.path, view.index),
            variant="ghost",
            color_scheme="gray",
            size="1",
            aria_label="Remove row",
        ),
        width="100%",
        spacing="1",
        align="center",
    )


def field_row(view: ObjectVar[FieldView]) -> rx.Component:
    """The component of one row, by its widget; nested rows are indented."""
    return rx.box(
        rx.match(
            view.widget,
            ("text", _labelled(view, _text_input(view))),
            ("multiline", _labelled(view, _text_area(view, monospace=False))),
            ("code", _labelled(view, _code(view))),
            ("number", _labelled(view, _number_input(view))),
            ("switch", _switch(view)),
            ("select", _labelled(view, _select(view))),
            ("checkboxes", _labelled(view, _checkboxes(view))),
            ("credential", _labelled(view, _credential(view))),
            ("json", _labelled(view, _text_area(view, monospace=True))),
            (
                "loose",
                _labelled(
                    view,
                    rx.cond(
                        view.rows.to(int) > 0, _text_area(view, monospace=True), _text_input(view)
                    ),
                ),
            ),
            ("group", _group(view)),
            ("list", _heading(view)),
            ("keyvalue", _heading(view)),
            ("row", _list_row(view)),
            ("add", _add_button(view, EditorState.add_row)),
            ("pair", _pair(view)),
            ("pair_add", _add_button(view, EditorState.add_pair)),
            rx.fragment(),
        ),
        width="100%",
        padding_left=rx.cond(view.depth.to(int) > 0, NESTED_INDENT, "0"),
        padding_bottom=ROW_GAP,
        border_left=rx.cond(view.depth.to(int) > 0, f"2px solid {rx.color('gray', 5)}", "none"),
        data_path=view.path,
        data_widget=view.widget,
    )


def field_rows(views: rx.Var[list[FieldView]]) -> rx.Component:
    """Every row of ``views``, in order (rows are spaced by their own padding, so the
    line beside a group's rows runs unbroken)."""
    return rx.vstack(rx.foreach(views, field_row), spacing="0", width="100%")
