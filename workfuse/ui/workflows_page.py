"""``/``: the stored workflows, with search and the active toggle."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ui.layout import page
from workfuse.ui.workflows_state import WorkflowRow, WorkflowsState


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


def workflow_row(row: ObjectVar[WorkflowRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(row.name, weight="medium", size="3"),
                rx.text(
                    row.description,
                    size="1",
                    color=rx.color("gray", 10),
                    max_width="320px",
                    style={
                        "white_space": "nowrap",
                        "overflow": "hidden",
                        "text_overflow": "ellipsis",
                    },
                ),
                spacing="1",
            )
        ),
        rx.table.cell(status_badge(row)),
        rx.table.cell(
            rx.text(row.node_count, " nodes · v", row.version, size="2", white_space="nowrap")
        ),
        rx.table.cell(
            rx.text(row.updated, size="2", color=rx.color("gray", 11), white_space="nowrap")
        ),
        rx.table.cell(
            rx.tooltip(
                rx.icon_button(
                    rx.icon("link", size=14),
                    on_click=[rx.set_clipboard(row.webhook_url), rx.toast("Webhook URL copied")],
                    variant="ghost",
                    aria_label="Copy webhook URL",
                ),
                content=row.webhook_url,
            )
        ),
        rx.table.cell(
            rx.button(
                rx.icon("play", size=14),
                "Run",
                size="1",
                variant="soft",
                disabled=row.has_problems,
                # Reflex binds the handler to the state at run time; mypy sees an unbound method.
                on_click=lambda: WorkflowsState.run_now(row.id),  # type: ignore[call-arg,arg-type]
                aria_label="Run now",
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
        align="center",
        class_name="workflow-row",
    )


def empty_state() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("inbox", size=32, color=rx.color("gray", 9)),
            rx.text("No workflows yet.", weight="medium"),
            rx.text(
                "Import one with `workfuse workflow import FILE`.",
                size="2",
                color=rx.color("gray", 10),
            ),
            align="center",
        ),
        padding="3em",
    )


def workflows_page() -> rx.Component:
    return page(
        rx.hstack(
            rx.vstack(
                rx.heading("Workflows", size="7"),
                rx.text(
                    "Everything that runs when a webhook calls or you press Run.",
                    color=rx.color("gray", 10),
                ),
                spacing="1",
            ),
            rx.spacer(),
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                placeholder="Search workflows",
                value=WorkflowsState.search,
                on_change=WorkflowsState.set_search,
                width="260px",
            ),
            align="end",
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
                            rx.table.column_header_cell("Size"),
                            rx.table.column_header_cell("Updated"),
                            rx.table.column_header_cell("Webhook"),
                            rx.table.column_header_cell("Run"),
                            rx.table.column_header_cell("Active"),
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
    )
