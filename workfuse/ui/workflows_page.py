"""``/``: the stored workflows with their last run; search, create, import, export,
delete and the active toggle."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ui.executions_page import status_badge as execution_badge
from workfuse.ui.form_parts import confirm_dialog
from workfuse.ui.layout import page
from workfuse.ui.workflows_state import (
    IMPORT_UPLOAD_ID,
    MAX_IMPORT_BYTES,
    WorkflowRow,
    WorkflowsState,
)

_MUTED = rx.color("gray", 10)


def status_badge(row: ObjectVar[WorkflowRow]) -> rx.Component:
    return rx.cond(
        row.has_problems,
        rx.tooltip(
            rx.badge(
                rx.icon("triangle-alert", size=12),
                "Draft: ",
                row.problem_count,
                " problems",
                color_scheme="amber",
                variant="soft",
            ),
            content="This workflow has validation errors; fix them to activate it.",
        ),
        rx.cond(
            row.is_active,
            rx.badge("Active", color_scheme="green", variant="soft"),
            rx.badge("Inactive", color_scheme="gray", variant="soft"),
        ),
    )


def _relative_time(iso: rx.Var[str], exact: rx.Var[str] | str) -> rx.Component:
    """``5 minutes ago`` (rendered in the browser), the exact time on hover."""
    return rx.tooltip(
        rx.text(rx.moment(iso, from_now=True), size="2", color=rx.color("gray", 11)),
        content=exact,
    )


def last_run(row: ObjectVar[WorkflowRow]) -> rx.Component:
    return rx.cond(
        row.last_status != "",
        rx.link(
            rx.hstack(
                execution_badge(row.last_status),
                rx.text(
                    rx.moment(row.last_started_iso, from_now=True),
                    size="2",
                    color=rx.color("gray", 11),
                    white_space="nowrap",
                ),
                align="center",
                spacing="2",
            ),
            href=row.last_execution_url,
            underline="none",
            class_name="last-run",
        ),
        rx.text("Never run", size="2", color=_MUTED, class_name="last-run"),
    )


def actions_menu(row: ObjectVar[WorkflowRow]) -> rx.Component:
    # Reflex binds the handlers to the state at run time; mypy sees unbound methods.
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                aria_label="More actions",
            )
        ),
        rx.dropdown_menu.content(
            rx.dropdown_menu.item(
                rx.icon("pencil", size=14), "Open editor", on_click=rx.redirect(row.editor_url)
            ),
            rx.dropdown_menu.item(
                rx.icon("history", size=14),
                "Executions",
                on_click=rx.redirect(row.executions_url),
            ),
            rx.dropdown_menu.item(
                rx.icon("link", size=14),
                "Copy webhook URL",
                on_click=[rx.set_clipboard(row.webhook_url), rx.toast("Webhook URL copied")],
            ),
            rx.dropdown_menu.item(
                rx.icon("download", size=14),
                "Export",
                on_click=lambda: WorkflowsState.export(row.id),  # type: ignore[call-arg,arg-type]
            ),
            rx.dropdown_menu.separator(),
            rx.dropdown_menu.item(
                rx.icon("trash-2", size=14),
                "Delete…",
                color="red",
                on_click=lambda: WorkflowsState.ask_delete(row.id, row.name),  # type: ignore[call-arg,arg-type]
            ),
            align="end",
        ),
    )


def workflow_row(row: ObjectVar[WorkflowRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(
                    row.name,
                    href=row.editor_url,
                    weight="medium",
                    size="3",
                    color=rx.color("gray", 12),
                    class_name="workflow-name",
                ),
                rx.cond(
                    row.description != "",
                    rx.text(
                        row.description,
                        size="1",
                        color=_MUTED,
                        max_width="300px",
                        style={
                            "white_space": "nowrap",
                            "overflow": "hidden",
                            "text_overflow": "ellipsis",
                        },
                    ),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(status_badge(row)),
        rx.table.cell(last_run(row)),
        rx.table.cell(
            rx.vstack(
                _relative_time(row.updated_iso, row.updated),
                rx.text(row.size, size="1", color=_MUTED, white_space="nowrap"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.switch(
                checked=row.is_active,
                # Reflex binds the handler to the state at run time; mypy sees an unbound method.
                on_change=lambda checked: WorkflowsState.toggle_active(row.id, checked),  # type: ignore[call-arg,arg-type]
                disabled=row.has_problems,
                aria_label="Active",
            )
        ),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    rx.icon("play", size=14),
                    "Run",
                    size="1",
                    variant="soft",
                    disabled=row.has_problems,
                    on_click=lambda: WorkflowsState.run_now(row.id),  # type: ignore[call-arg,arg-type]
                    aria_label="Run now",
                ),
                actions_menu(row),
                align="center",
                spacing="3",
                justify="end",
            )
        ),
        align="center",
        class_name="workflow-row",
    )


def create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(rx.icon("plus", size=16), "New workflow", class_name="new-workflow")
        ),
        rx.dialog.content(
            rx.dialog.title("New workflow"),
            rx.dialog.description(
                "It starts with a trigger node and inactive; the editor opens next.",
                size="2",
                color=_MUTED,
                margin_bottom="1em",
            ),
            rx.form(
                rx.vstack(
                    rx.el.label(
                        "Name",
                        html_for="new-workflow-name",
                        style={"font_size": "14px", "font_weight": 500},
                    ),
                    rx.input(
                        id="new-workflow-name",
                        name="name",
                        placeholder="e.g. Nightly sales report",
                        required=True,
                        max_length=200,
                        auto_focus=True,
                        width="100%",
                    ),
                    rx.cond(
                        WorkflowsState.create_error != "",
                        rx.text(WorkflowsState.create_error, color=rx.color("red", 11), size="2"),
                    ),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button("Create and open", type="submit"),
                        justify="end",
                        width="100%",
                        margin_top="0.5em",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=WorkflowsState.create,
                reset_on_submit=False,
            ),
            max_width="440px",
        ),
        open=WorkflowsState.create_open,
        on_open_change=WorkflowsState.set_create_open,
    )


def _import_problems() -> rx.Component:
    return rx.cond(
        WorkflowsState.import_error != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.vstack(
                rx.text(WorkflowsState.import_error, weight="medium", size="2"),
                rx.cond(
                    WorkflowsState.import_problems.length() > 0,  # type: ignore[attr-defined]
                    rx.el.ul(
                        rx.foreach(
                            WorkflowsState.import_problems,
                            lambda problem: rx.el.li(problem, class_name="import-problem"),
                        ),
                        style={
                            "margin": 0,
                            "padding_left": "1.2em",
                            "list_style_type": "disc",
                            "font_size": "13px",
                            "max_height": "220px",
                            "overflow_y": "auto",
                            "overflow_wrap": "anywhere",
                        },
                    ),
                ),
                spacing="1",
                width="100%",
            ),
            color_scheme="red",
            width="100%",
            class_name="import-error",
        ),
    )


def import_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(rx.icon("upload", size=16), "Import", variant="soft", class_name="import")
        ),
        rx.dialog.content(
            rx.dialog.title("Import a workflow"),
            rx.dialog.description(
                "A WorkFuse export (.json) or a bare workflow graph. "
                "A file with errors is not saved; its problems are listed.",
                size="2",
                color=_MUTED,
                margin_bottom="1em",
            ),
            rx.vstack(
                rx.upload.root(
                    rx.vstack(
                        rx.icon("file-json", size=28, color=rx.color("accent", 9)),
                        rx.text("Drop a .json file here, or click to choose", weight="medium"),
                        rx.text(
                            f"Up to {MAX_IMPORT_BYTES // 1024 // 1024} MB.", size="1", color=_MUTED
                        ),
                        align="center",
                        spacing="1",
                    ),
                    id=IMPORT_UPLOAD_ID,
                    multiple=False,
                    max_files=1,
                    max_size=MAX_IMPORT_BYTES,
                    accept={"application/json": [".json"]},
                    # mypy sees an unbound handler, not the bound event.
                    on_drop=WorkflowsState.import_file(  # type: ignore[operator]
                        rx.upload_files(upload_id=IMPORT_UPLOAD_ID)
                    ),
                    border=f"1px dashed {rx.color('accent', 7)}",
                    border_radius="8px",
                    background=rx.color("accent", 2),
                    padding="2em",
                    width="100%",
                    cursor="pointer",
                    class_name="import-drop",
                ),
                _import_problems(),
                rx.hstack(
                    rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="520px",
        ),
        open=WorkflowsState.import_open,
        on_open_change=WorkflowsState.set_import_open,
    )


def delete_dialog() -> rx.Component:
    return confirm_dialog(
        title=("Delete “", WorkflowsState.delete_name, "”?"),
        message="Its versions and executions are deleted too, and its webhook stops "
        "answering. This cannot be undone.",
        action="Delete workflow",
        icon="trash-2",
        on_action=WorkflowsState.confirm_delete,
        open=WorkflowsState.delete_open,
        on_open_change=WorkflowsState.set_delete_open,
    )


def empty_state() -> rx.Component:
    return rx.center(
        rx.cond(
            WorkflowsState.search != "",
            rx.vstack(
                rx.icon("search-x", size=32, color=rx.color("gray", 9)),
                rx.text("No workflows match “", WorkflowsState.search, "”.", weight="medium"),
                rx.text("Try another part of the name.", size="2", color=_MUTED),
                align="center",
            ),
            rx.vstack(
                rx.icon("workflow", size=32, color=rx.color("accent", 9)),
                rx.text("No workflows yet.", weight="medium"),
                rx.text(
                    "Create one and build it in the editor, or import an exported file.",
                    size="2",
                    color=_MUTED,
                ),
                rx.hstack(
                    rx.button(
                        rx.icon("plus", size=16),
                        "New workflow",
                        on_click=WorkflowsState.open_create,
                    ),
                    rx.button(
                        rx.icon("upload", size=16),
                        "Import a file",
                        variant="soft",
                        on_click=WorkflowsState.open_import,
                    ),
                    spacing="3",
                    margin_top="0.5em",
                ),
                align="center",
            ),
        ),
        padding="3em",
        class_name="empty-state",
    )


def workflows_page() -> rx.Component:
    return page(
        rx.hstack(
            rx.vstack(
                rx.heading("Workflows", size="7"),
                rx.text(
                    "Everything that runs when a webhook calls or you press Run.",
                    color=_MUTED,
                ),
                spacing="1",
            ),
            rx.spacer(),
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                placeholder="Search workflows",
                value=WorkflowsState.search,
                on_change=WorkflowsState.set_search,
                width="240px",
            ),
            import_dialog(),
            create_dialog(),
            align="end",
            spacing="3",
            width="100%",
            margin_bottom="1.5em",
        ),
        rx.cond(
            WorkflowsState.error != "",
            rx.callout(
                WorkflowsState.error, icon="triangle-alert", color_scheme="red", margin_bottom="1em"
            ),
        ),
        rx.card(
            rx.cond(
                WorkflowsState.has_rows,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Last execution"),
                            rx.table.column_header_cell("Updated"),
                            rx.table.column_header_cell("Active"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(WorkflowsState.rows, workflow_row)),
                    width="100%",
                ),
                rx.cond(
                    WorkflowsState.loaded, empty_state(), rx.center(rx.spinner(), padding="3em")
                ),
            ),
            width="100%",
            padding="0",
        ),
        delete_dialog(),
    )
