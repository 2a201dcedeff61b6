"""The editor's side panel: the selected node's form, its last run, or the problems list.

The form is generated from the node's type (:mod:`workfuse.ui.editor.form_view`);
only the label and the retry policy, which every node has, are laid out here.
"""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ui.editor.draft import ProblemRow
from workfuse.ui.editor.form_view import error_text, field_rows
from workfuse.ui.editor.magic_panel import magic_dialog
from workfuse.ui.editor.state import EditorState

form = EditorState.form


def common_field(label: str, name: str, error: rx.Var[str] | str = "") -> rx.Component:
    """A text field every node has (label, retry numbers), edited with ``set_field``."""
    return rx.vstack(
        rx.text(label, size="1", weight="medium", color=rx.color("gray", 11)),
        rx.input(
            value=getattr(form, name),
            on_change=lambda value: EditorState.set_field(name, value),
            width="100%",
            name=name,
        ),
        error_text(error) if isinstance(error, rx.Var) else rx.fragment(),
        spacing="1",
        width="100%",
    )


def section(title: str, *children: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(
            title, size="1", weight="bold", color=rx.color("gray", 10), text_transform="uppercase"
        ),
        *children,
        spacing="3",
        width="100%",
        padding_top="0.5em",
    )


def retry_fields() -> rx.Component:
    return section(
        "Retries",
        rx.hstack(
            rx.switch(
                checked=form.retry_enabled,
                on_change=lambda on: EditorState.set_field("retry_enabled", on),
                size="1",
            ),
            rx.text("Retry on temporary failures", size="2"),
            align="center",
            spacing="2",
        ),
        rx.cond(
            form.retry_enabled,
            rx.hstack(
                common_field("Attempts", "retry_max_attempts"),
                common_field("First delay (ms)", "retry_initial_delay_ms"),
                common_field("Backoff factor", "retry_backoff_multiplier"),
                spacing="2",
                width="100%",
            ),
        ),
        error_text(form.retry_error),
    )


def more_options() -> rx.Component:
    """The advanced fields, collapsed until opened (or until one has a problem)."""
    opened = EditorState.show_more | form.advanced_problem
    return rx.cond(
        form.advanced.length() > 0,
        rx.vstack(
            rx.button(
                rx.cond(
                    opened, rx.icon("chevron-down", size=14), rx.icon("chevron-right", size=14)
                ),
                "More options",
                rx.cond(
                    form.advanced_problem,
                    rx.badge("problem", color_scheme="red", size="1", variant="soft"),
                ),
                on_click=EditorState.toggle_more,
                variant="ghost",
                color_scheme="gray",
                size="1",
                class_name="more-options",
                aria_expanded=rx.cond(opened, "true", "false"),
            ),
            rx.cond(opened, field_rows(form.advanced)),
            spacing="3",
            width="100%",
            padding_top="0.25em",
        ),
    )


def settings_tab() -> rx.Component:
    return rx.vstack(
        common_field("Label", "label", form.label_error),
        rx.cond(
            form.known,
            rx.fragment(field_rows(form.fields), more_options()),
            rx.text("This node's type is not installed on this server, so it has no form."),
        ),
        rx.cond(
            form.config_error != "",
            rx.callout(
                form.config_error,
                icon="circle-alert",
                color_scheme="red",
                size="1",
                class_name="field-error",
                white_space="pre-line",
            ),
        ),
        rx.cond(form.has_retries, retry_fields()),
        rx.cond(
            EditorState.form_error != "",
            rx.callout(EditorState.form_error, icon="circle-alert", color_scheme="red", size="1"),
        ),
        spacing="3",
        width="100%",
    )


def result_block(title: str, text: rx.Var[str], colour: str = "gray") -> rx.Component:
    return rx.cond(
        text != "",
        rx.vstack(
            rx.text(title, size="1", weight="bold", color=rx.color("gray", 10)),
            rx.code_block(
                text,
                language="json",
                wrap_long_lines=True,
                custom_style={"fontSize": "11px", "maxHeight": "260px", "overflow": "auto"},
                width="100%",
            )
            if colour == "gray"
            else rx.callout(text, color_scheme=colour, size="1", width="100%"),
            spacing="1",
            width="100%",
        ),
    )


def run_tab() -> rx.Component:
    result = EditorState.selected_result
    return rx.cond(
        result.status != "",
        rx.vstack(
            rx.hstack(
                rx.badge(result.status, variant="soft", class_name="run-status"),
                rx.text("attempt ", result.attempt, size="1", color=rx.color("gray", 10)),
                rx.text(result.duration, size="1", color=rx.color("gray", 10)),
                spacing="2",
                align="center",
            ),
            result_block("Error", result.error, "red"),
            result_block("Input", result.input),
            result_block("Output", result.output),
            spacing="3",
            width="100%",
            class_name="node-result",
        ),
        rx.text(
            "No run yet. Press Run to see this node's input, output and duration.",
            size="2",
            color=rx.color("gray", 10),
        ),
    )


def problem_callout(
    lines: rx.Var[list[str]], colour: str, icon: str, class_name: str
) -> rx.Component:
    """The selected node's errors (red) or warnings (amber), one line each."""
    return rx.cond(
        lines.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon(icon)),
            rx.vstack(
                rx.foreach(lines, lambda text: rx.text(text, size="1", class_name=class_name)),
                spacing="1",
            ),
            color_scheme=colour,
            size="1",
            width="100%",
        ),
    )


def node_panel() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.text(form.type_label, size="1", color=rx.color("gray", 10)),
                rx.heading(form.label, size="4", class_name="panel-title"),
                rx.text("id: ", rx.code(form.id), size="1", color=rx.color("gray", 10)),
                spacing="1",
                min_width="0",
            ),
            rx.spacer(),
            magic_dialog(),
            rx.tooltip(
                rx.icon_button(
                    rx.icon("trash-2", size=15),
                    on_click=EditorState.delete_selected,
                    variant="soft",
                    color_scheme="red",
                    size="2",
                    aria_label="Delete node",
                ),
                content="Delete node (Delete key)",
            ),
            width="100%",
            align="start",
        ),
        problem_callout(EditorState.node_problems, "red", "circle-x", "node-problem"),
        problem_callout(EditorState.node_warnings, "amber", "triangle-alert", "node-warning"),
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Settings", value="settings"),
                rx.tabs.trigger("Last run", value="run"),
            ),
            rx.tabs.content(settings_tab(), value="settings", padding_top="1em"),
            rx.tabs.content(run_tab(), value="run", padding_top="1em"),
            default_value="settings",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def problem_item(problem: ObjectVar[ProblemRow]) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon(
                rx.cond(problem.severity == "error", "circle-x", "triangle-alert"),
                size=14,
                color=rx.cond(
                    problem.severity == "error", rx.color("red", 10), rx.color("amber", 10)
                ),
                flex_shrink="0",
                margin_top="2px",
            ),
            rx.text(problem.message, size="1"),
            spacing="2",
            align="start",
        ),
        on_click=EditorState.select_node(problem.node_id),
        cursor=rx.cond(problem.node_id != "", "pointer", "default"),
        padding="0.4em",
        border_radius="6px",
        _hover={"background": rx.color("gray", 3)},
        class_name="problem-row",
        width="100%",
    )


def overview_panel() -> rx.Component:
    return rx.vstack(
        rx.heading("Workflow", size="4"),
        rx.text(
            "Select a node to configure it. Add nodes from the palette (click, or drag onto the "
            "canvas); connect them by dragging from a node's right handle to another's left one.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.divider(),
        rx.hstack(
            rx.heading("Problems", size="3"),
            rx.badge(
                EditorState.error_count,
                color_scheme=rx.cond(EditorState.error_count > 0, "red", "green"),
                class_name="problem-count",
            ),
            align="center",
        ),
        rx.cond(
            EditorState.problems.length() > 0,
            rx.vstack(rx.foreach(EditorState.problems, problem_item), spacing="0", width="100%"),
            rx.text(
                "No problems: this workflow can be activated and run.",
                size="2",
                color=rx.color("green", 11),
            ),
        ),
        spacing="3",
        width="100%",
    )


def side_panel() -> rx.Component:
    return rx.box(
        rx.cond(EditorState.has_selection, node_panel(), overview_panel()),
        width="360px",
        min_width="360px",
        height="100%",
        overflow_y="auto",
        padding="1em",
        border_left=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        class_name="side-panel",
    )
