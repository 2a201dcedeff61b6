"""The editor's side panel: the selected node's form, its last run, or the problems list."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ui import routes
from workfuse.ui.editor import node_form
from workfuse.ui.editor.components import MONO, code_field
from workfuse.ui.editor.draft import ProblemRow
from workfuse.ui.editor.magic_panel import magic_dialog
from workfuse.ui.editor.node_form import KeyValueRow, RuleRow
from workfuse.ui.editor.state import EditorState

form = EditorState.form


def field_error(key: str) -> rx.Component:
    return rx.cond(
        EditorState.field_errors.contains(key),
        rx.text(
            EditorState.field_errors[key],
            size="1",
            color=rx.color("red", 11),
            class_name="field-error",
            data_field=key,
        ),
    )


def labelled(
    label: str, control: rx.Component, key: str = "", hint: str | rx.Var[str] = ""
) -> rx.Component:
    """A form row: label, control, optional hint and the validation error of ``key``."""
    return rx.vstack(
        rx.text(label, size="1", weight="medium", color=rx.color("gray", 11)),
        control,
        rx.fragment()
        if isinstance(hint, str) and not hint
        else rx.text(hint, size="1", color=rx.color("gray", 9)),
        field_error(key) if key else rx.fragment(),
        spacing="1",
        width="100%",
    )


def text_field(
    label: str, name: str, placeholder: str = "", hint: str = "", monospace: bool = False
) -> rx.Component:
    return labelled(
        label,
        rx.input(
            value=getattr(form, name),
            on_change=lambda value: EditorState.set_field(name, value),
            placeholder=placeholder,
            width="100%",
            font_family=MONO if monospace else None,
            name=name,
        ),
        key=name,
        hint=hint,
    )


def area_field(
    label: str, name: str, rows: str = "5", hint: str | rx.Var[str] = ""
) -> rx.Component:
    return labelled(
        label,
        rx.text_area(
            value=getattr(form, name),
            on_change=lambda value: EditorState.set_field(name, value),
            rows=rows,
            width="100%",
            font_family=MONO,
            font_size="12px",
            spell_check=False,
            name=name,
        ),
        key=name,
        hint=hint,
    )


def select_field(label: str, name: str, options: list[str]) -> rx.Component:
    return labelled(
        label,
        rx.select(
            options,
            value=getattr(form, name),
            on_change=lambda value: EditorState.set_field(name, value),
            width="100%",
            name=name,
        ),
        key=name,
    )


def credential_field(label: str, name: str) -> rx.Component:
    """A picker of the user's credentials by name (never a literal secret field)."""
    return labelled(
        label,
        rx.cond(
            EditorState.credentials.length() > 0,
            rx.select.root(
                rx.select.trigger(placeholder="Choose a credential", width="100%"),
                rx.select.content(
                    rx.foreach(
                        EditorState.credentials,
                        lambda option: rx.select.item(option.name, value=option.arn),
                    )
                ),
                value=getattr(form, name),
                on_change=lambda value: EditorState.set_field(name, value),
                name=name,
            ),
            rx.text(
                "No credentials yet: ",
                rx.link("create one", href=routes.CREDENTIALS),
                " first.",
                size="1",
                color=rx.color("gray", 10),
            ),
        ),
        key=name,
    )


def switch_field(label: str, name: str) -> rx.Component:
    return rx.hstack(
        rx.switch(
            checked=getattr(form, name),
            on_change=lambda value: EditorState.set_field(name, value),
            size="1",
        ),
        rx.text(label, size="2"),
        align="center",
        spacing="2",
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


# --- per node type ------------------------------------------------------------------


def trigger_form() -> rx.Component:
    return rx.vstack(
        select_field("Source", "source", node_form.TRIGGER_SOURCES),
        labelled(
            "Accepted methods",
            rx.hstack(
                *(
                    rx.checkbox(
                        method,
                        checked=form.methods.contains(method),
                        on_change=lambda on, method=method: EditorState.toggle_method(method, on),
                        size="1",
                    )
                    for method in node_form.HTTP_METHODS
                ),
                wrap="wrap",
                spacing="3",
            ),
            key="methods",
        ),
        area_field(
            "Sample payload (JSON)",
            "sample_payload",
            rows="6",
            hint="Used by Run now and by Magic input as an example of what arrives.",
        ),
        text_field(
            "Idempotency header",
            "idempotency_header",
            "Idempotency-Key",
            "A repeated key starts nothing.",
        ),
        text_field(
            "Wait for the result (seconds)",
            "sync_timeout_seconds",
            "empty: answer 202 at once",
        ),
        switch_field("Verify an HMAC signature", "hmac_enabled"),
        rx.cond(
            form.hmac_enabled,
            rx.vstack(
                text_field("Signature header", "hmac_header"),
                select_field("Algorithm", "hmac_algorithm", node_form.HMAC_ALGORITHMS),
                credential_field("Signing secret", "hmac_secret_arn"),
                text_field("Timestamp header", "hmac_timestamp_header", "optional"),
                text_field("Tolerance (seconds)", "hmac_tolerance_seconds"),
                field_error("hmac"),
                spacing="3",
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
    )


def header_row(row: ObjectVar[KeyValueRow], index: rx.Var[int]) -> rx.Component:
    return rx.hstack(
        rx.input(
            value=row.key,
            placeholder="Header",
            on_change=lambda value: EditorState.set_header(index, "key", value),
            width="40%",
        ),
        rx.input(
            value=row.value,
            placeholder="Value or {{ template }}",
            on_change=lambda value: EditorState.set_header(index, "value", value),
            width="50%",
            font_family=MONO,
        ),
        rx.icon_button(
            rx.icon("x", size=14),
            on_click=EditorState.remove_header(index),
            variant="ghost",
            color_scheme="gray",
            size="1",
            aria_label="Remove header",
        ),
        width="100%",
        spacing="1",
        align="center",
    )


def http_form() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.box(select_field("Method", "method", node_form.HTTP_METHODS), width="32%"),
            rx.box(
                text_field("URL", "url", "https://api.example.com/items", monospace=True),
                width="68%",
            ),
            width="100%",
            spacing="2",
        ),
        labelled(
            "Headers",
            rx.vstack(
                rx.foreach(form.headers, header_row),
                rx.button(
                    rx.icon("plus", size=14),
                    "Add header",
                    on_click=EditorState.add_header,
                    variant="soft",
                    size="1",
                ),
                spacing="2",
                width="100%",
            ),
            key="headers",
        ),
        area_field(
            "Body (JSON or text)",
            "body",
            rows="5",
            hint="Templates such as {{ nodes.trigger.data.id }} work inside strings.",
        ),
        select_field("Authentication", "auth_type", node_form.AUTH_TYPES),
        rx.cond(
            form.auth_type != "none",
            rx.vstack(
                credential_field("Credential", "auth_secret_arn"),
                rx.cond(
                    form.auth_type == "apiKey",
                    text_field("Header name", "auth_header_name", "X-API-Key"),
                ),
                field_error("auth"),
                spacing="3",
                width="100%",
            ),
        ),
        text_field("Timeout (ms)", "timeout", "30000"),
        spacing="3",
        width="100%",
    )


def transform_form() -> rx.Component:
    return rx.vstack(
        select_field("Language", "language", node_form.LANGUAGES),
        labelled(
            "Code",
            code_field(
                value=form.code,
                language=form.language,
                name="code",
                min_height=180,
                on_change=lambda value: EditorState.set_field("code", value),
            ),
            key="code",
            hint=rx.cond(
                form.language == "javascript",
                "JavaScript: the value of the last expression (or `return`) is the result; "
                "`nodes` and `trigger` are in scope.",
                "JSONata over {nodes, trigger}, e.g. nodes.fetch.body.items[price > 10].name",
            ),
        ),
        text_field("Timeout (ms)", "timeout", "1000"),
        spacing="3",
        width="100%",
    )


def rule_row(row: ObjectVar[RuleRow], index: rx.Var[int]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("If", size="1", weight="bold"),
                rx.spacer(),
                rx.icon_button(
                    rx.icon("trash-2", size=13),
                    on_click=EditorState.remove_rule(index),
                    variant="ghost",
                    color_scheme="gray",
                    size="1",
                    aria_label="Remove rule",
                ),
                width="100%",
                align="center",
            ),
            rx.input(
                value=row.field,
                placeholder="{{ nodes.fetch.status }}",
                on_change=lambda value: EditorState.set_rule(index, "field", value),
                width="100%",
                font_family=MONO,
                class_name="rule-field",
            ),
            rx.hstack(
                rx.select(
                    node_form.OPERATORS,
                    value=row.operator,
                    on_change=lambda value: EditorState.set_rule(index, "operator", value),
                    size="2",
                ),
                rx.input(
                    value=row.value,
                    placeholder="value",
                    on_change=lambda value: EditorState.set_rule(index, "value", value),
                    width="100%",
                    font_family=MONO,
                ),
                width="100%",
                spacing="2",
            ),
            rx.hstack(
                rx.text("then branch", size="1", color=rx.color("gray", 10), white_space="nowrap"),
                rx.input(
                    value=row.branch,
                    on_change=lambda value: EditorState.set_rule(index, "branch", value),
                    width="100%",
                    size="1",
                ),
                align="center",
                width="100%",
                spacing="2",
            ),
            rx.cond(
                EditorState.field_errors.contains(f"rule.{index}"),
                rx.text(
                    EditorState.field_errors[f"rule.{index}"],
                    size="1",
                    color=rx.color("red", 11),
                    class_name="field-error",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        size="1",
        width="100%",
    )


def condition_form() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Rules are tried in order; the first that matches picks its branch.",
            size="1",
            color=rx.color("gray", 10),
        ),
        rx.foreach(form.rules, rule_row),
        rx.button(
            rx.icon("plus", size=14),
            "Add rule",
            on_click=EditorState.add_rule,
            variant="soft",
            size="1",
        ),
        field_error("conditions"),
        text_field("Otherwise, branch", "default_branch", "default"),
        spacing="3",
        width="100%",
    )


def ai_form() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.box(select_field("Provider", "provider", node_form.AI_PROVIDERS), width="50%"),
            rx.box(text_field("Model", "model", "gpt-4o-mini"), width="50%"),
            width="100%",
            spacing="2",
        ),
        area_field("Prompt", "prompt", rows="6", hint="Templates pull in earlier outputs."),
        area_field("System prompt", "system_prompt", rows="3"),
        rx.hstack(
            rx.box(text_field("Temperature", "temperature", "0 to 2"), width="50%"),
            rx.box(text_field("Max tokens", "max_tokens"), width="50%"),
            width="100%",
            spacing="2",
        ),
        switch_field("Stream the response", "stream"),
        credential_field("API key credential (optional)", "secret_arn"),
        text_field("Base URL (OpenAI-compatible)", "base_url", "http://localhost:11434/v1"),
        spacing="3",
        width="100%",
    )


def retry_fields() -> rx.Component:
    return section(
        "Retries",
        switch_field("Retry on temporary failures", "retry_enabled"),
        rx.cond(
            form.retry_enabled,
            rx.hstack(
                text_field("Attempts", "retry_max_attempts"),
                text_field("First delay (ms)", "retry_initial_delay_ms"),
                text_field("Backoff factor", "retry_backoff_multiplier"),
                spacing="2",
                width="100%",
            ),
        ),
        field_error("retry"),
    )


FORMS: dict[str, Callable[[], rx.Component]] = {
    "trigger": trigger_form,
    "http": http_form,
    "transform": transform_form,
    "condition": condition_form,
    "ai": ai_form,
}


def settings_tab() -> rx.Component:
    return rx.vstack(
        text_field("Label", "label"),
        rx.match(
            form.type,
            *((node_type, build()) for node_type, build in FORMS.items()),
            rx.text("This node type has no form."),
        ),
        rx.cond((form.type == "http") | (form.type == "ai"), retry_fields()),
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
