"""``/executions`` (the list) and ``/executions/<id>`` (one run, live)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ui import routes
from workfuse.ui.executions_state import (
    STATUS_FILTERS,
    ExecutionDetailState,
    ExecutionRow,
    ExecutionsState,
    NodeRow,
)
from workfuse.ui.layout import page

_COLORS = {
    "COMPLETED": "green",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "RUNNING": "blue",
    "RETRYING": "amber",
    "PENDING": "gray",
    "SKIPPED": "gray",
    "CANCELLED": "gray",
}


def status_badge(status: rx.Var[str] | str) -> rx.Component:
    return rx.match(
        status,
        *(
            (name, rx.badge(name.lower(), color_scheme=color, variant="soft"))
            for name, color in _COLORS.items()
        ),
        rx.badge(status, variant="soft"),
    )


def execution_row(row: ObjectVar[ExecutionRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(row.workflow, href=f"{routes.EXECUTIONS}/{row.id}", weight="medium")),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.text(row.started, size="2", color=rx.color("gray", 11))),
        rx.table.cell(rx.text(row.duration, size="2")),
        align="center",
        class_name="execution-row",
    )


def executions_page() -> rx.Component:
    return page(
        rx.hstack(
            rx.vstack(
                rx.heading("Executions", size="7"),
                rx.text("Every run, newest first.", color=rx.color("gray", 10)),
                spacing="1",
            ),
            rx.spacer(),
            rx.select(
                STATUS_FILTERS,
                value=ExecutionsState.status_filter,
                on_change=ExecutionsState.set_status_filter,
                aria_label="Status",
            ),
            align="end",
            width="100%",
            margin_bottom="1.5em",
        ),
        rx.card(
            rx.cond(
                ExecutionsState.has_rows,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Workflow"),
                            rx.table.column_header_cell("Status"),
                            rx.table.column_header_cell("Started"),
                            rx.table.column_header_cell("Duration"),
                        )
                    ),
                    rx.table.body(rx.foreach(ExecutionsState.rows, execution_row)),
                    width="100%",
                ),
                rx.center(
                    rx.cond(
                        ExecutionsState.loaded,
                        rx.text(
                            "No executions yet: press Run on a workflow.",
                            color=rx.color("gray", 10),
                        ),
                        rx.spinner(),
                    ),
                    padding="3em",
                ),
            ),
            width="100%",
            padding="0",
        ),
    )


def node_row(row: ObjectVar[NodeRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.node_id)),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(rx.text(row.attempt, size="2")),
        rx.table.cell(rx.text(row.duration, size="2")),
        rx.table.cell(
            rx.cond(
                row.error != "",
                rx.text(row.error, color=rx.color("red", 11), size="2"),
                rx.el.pre(
                    row.output,
                    style={
                        "max_height": "160px",
                        "overflow": "auto",
                        "font_size": "12px",
                        "margin": 0,
                    },
                ),
            ),
            max_width="520px",
        ),
        class_name="node-row",
        data_node=row.node_id,
    )


def execution_detail_page() -> rx.Component:
    return page(
        rx.cond(
            ExecutionDetailState.missing,
            rx.callout("No such execution.", icon="circle-alert", color_scheme="gray"),
            rx.vstack(
                rx.hstack(
                    rx.heading(ExecutionDetailState.workflow, size="7"),
                    rx.box(
                        status_badge(ExecutionDetailState.status), class_name="execution-status"
                    ),
                    align="center",
                    spacing="3",
                ),
                rx.text(
                    "Started ",
                    ExecutionDetailState.started,
                    rx.cond(
                        ExecutionDetailState.duration != "",
                        " · " + ExecutionDetailState.duration,
                        "",
                    ),
                    color=rx.color("gray", 10),
                    size="2",
                ),
                rx.cond(
                    ExecutionDetailState.error != "",
                    rx.callout(
                        ExecutionDetailState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        width="100%",
                    ),
                ),
                rx.card(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Node"),
                                rx.table.column_header_cell("Status"),
                                rx.table.column_header_cell("Attempt"),
                                rx.table.column_header_cell("Duration"),
                                rx.table.column_header_cell("Output or error"),
                            )
                        ),
                        rx.table.body(rx.foreach(ExecutionDetailState.nodes, node_row)),
                        width="100%",
                    ),
                    width="100%",
                    padding="0",
                ),
                spacing="3",
                width="100%",
            ),
        )
    )
