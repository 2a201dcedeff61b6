"""``/executions`` (filtered, paginated list) and ``/executions/<id>`` (one run, live:
its nodes in execution order on a timeline, with retry and cancel)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ui.editor.components import workflow_canvas
from workfuse.ui.executions_state import (
    ALL,
    STATUS_FILTERS,
    TIME_RANGES,
    ExecutionDetailState,
    ExecutionRow,
    ExecutionsState,
    NodeRow,
    WorkflowOption,
)
from workfuse.ui.layout import page

_MUTED = rx.color("gray", 10)
_COLORS = {
    "COMPLETED": "green",
    "SUCCEEDED": "green",
    "FAILED": "red",
    "RUNNING": "blue",
    "RETRYING": "amber",
    "PENDING": "gray",
    "SKIPPED": "gray",
    "CANCELLED": "orange",
    "NOT_RUN": "gray",
}
_STATUS_LABELS = {
    ALL: "All statuses",
    **{status: status.capitalize() for status in STATUS_FILTERS if status != ALL},
}
#: Timeline bar colours (Radix scale step 9) by node status.
_BAR_COLORS = {status: rx.color(color, 9) for status, color in _COLORS.items()}
_LABEL_COLUMN = "240px"
_DURATION_COLUMN = "90px"


def status_badge(status: rx.Var[str] | str) -> rx.Component:
    return rx.match(
        status,
        *(
            (name, rx.badge(name.lower().replace("_", " "), color_scheme=color, variant="soft"))
            for name, color in _COLORS.items()
        ),
        rx.badge(status, variant="soft"),
    )


# --- the list -----------------------------------------------------------------------


def execution_row(row: ObjectVar[ExecutionRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.link(row.workflow, href=row.url, weight="medium"),
                rx.cond(
                    row.is_retry,
                    rx.badge(rx.icon("rotate-ccw", size=11), "retry", variant="outline", size="1"),
                ),
                align="center",
                spacing="2",
            )
        ),
        rx.table.cell(status_badge(row.status)),
        rx.table.cell(
            rx.tooltip(
                rx.text(
                    rx.moment(row.started_iso, from_now=True),
                    size="2",
                    color=rx.color("gray", 11),
                ),
                content=row.started,
            )
        ),
        rx.table.cell(rx.text(row.duration, size="2")),
        rx.table.cell(
            rx.link(rx.icon("chevron-right", size=16), href=row.url, aria_label="Open"),
            text_align="right",
        ),
        align="center",
        class_name="execution-row",
    )


def _workflow_option(option: ObjectVar[WorkflowOption]) -> rx.Component:
    return rx.select.item(option.name, value=option.id)


def filters() -> rx.Component:
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(placeholder="All workflows", min_width="200px", max_width="260px"),
            rx.select.content(
                rx.select.item("All workflows", value=ALL),
                rx.select.separator(),
                rx.foreach(ExecutionsState.workflows, _workflow_option),
            ),
            value=ExecutionsState.workflow_filter,
            on_change=ExecutionsState.set_workflow_filter,
            name="workflow",
        ),
        rx.select.root(
            rx.select.trigger(min_width="140px"),
            rx.select.content(
                *(rx.select.item(label, value=value) for value, label in _STATUS_LABELS.items())
            ),
            value=ExecutionsState.status_filter,
            on_change=ExecutionsState.set_status_filter,
            name="status",
        ),
        rx.select.root(
            rx.select.trigger(min_width="140px"),
            rx.select.content(
                *(rx.select.item(label, value=value) for value, label, _ in TIME_RANGES)
            ),
            value=ExecutionsState.range_filter,
            on_change=ExecutionsState.set_range_filter,
            name="range",
        ),
        rx.cond(
            ExecutionsState.filtered,
            rx.button(
                rx.icon("x", size=14),
                "Clear",
                variant="ghost",
                color_scheme="gray",
                on_click=ExecutionsState.clear_filters,
            ),
        ),
        spacing="2",
        align="center",
        class_name="execution-filters",
    )


def pager() -> rx.Component:
    return rx.hstack(
        rx.text("Page ", ExecutionsState.page_number, size="2", color=_MUTED, class_name="page"),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=14),
            "Newer",
            variant="soft",
            color_scheme="gray",
            disabled=ExecutionsState.page_number <= 1,
            on_click=ExecutionsState.newer,
        ),
        rx.button(
            "Older",
            rx.icon("chevron-right", size=14),
            variant="soft",
            color_scheme="gray",
            disabled=~ExecutionsState.has_older,
            on_click=ExecutionsState.older,
        ),
        align="center",
        spacing="2",
        width="100%",
        padding="0.75em 1em",
        border_top=f"1px solid {rx.color('gray', 4)}",
    )


def _list_empty() -> rx.Component:
    return rx.center(
        rx.cond(
            ExecutionsState.loaded,
            rx.cond(
                ExecutionsState.filtered,
                rx.vstack(
                    rx.icon("filter-x", size=30, color=rx.color("gray", 9)),
                    rx.text("No executions match these filters.", weight="medium"),
                    rx.button(
                        "Clear filters", variant="soft", on_click=ExecutionsState.clear_filters
                    ),
                    align="center",
                ),
                rx.vstack(
                    rx.icon("history", size=30, color=rx.color("gray", 9)),
                    rx.text("No executions yet.", weight="medium"),
                    rx.text(
                        "Press Run on a workflow, or call its webhook; every run shows up here.",
                        size="2",
                        color=_MUTED,
                    ),
                    rx.link("Go to workflows", href="/", size="2"),
                    align="center",
                ),
            ),
            rx.spinner(),
        ),
        padding="3em",
        class_name="empty-state",
    )


def executions_page() -> rx.Component:
    return page(
        rx.hstack(
            rx.vstack(
                rx.heading("Executions", size="7"),
                rx.text("Every run, newest first.", color=_MUTED),
                spacing="1",
            ),
            rx.spacer(),
            filters(),
            align="end",
            width="100%",
            margin_bottom="1.5em",
            wrap="wrap",
        ),
        rx.cond(
            ExecutionsState.error != "",
            rx.callout(
                ExecutionsState.error, icon="info", color_scheme="amber", margin_bottom="1em"
            ),
        ),
        rx.card(
            rx.cond(
                ExecutionsState.has_rows,
                rx.vstack(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell("Workflow"),
                                rx.table.column_header_cell("Status"),
                                rx.table.column_header_cell("Started"),
                                rx.table.column_header_cell("Duration"),
                                rx.table.column_header_cell(""),
                            )
                        ),
                        rx.table.body(rx.foreach(ExecutionsState.rows, execution_row)),
                        width="100%",
                    ),
                    pager(),
                    spacing="0",
                    width="100%",
                ),
                _list_empty(),
            ),
            width="100%",
            padding="0",
        ),
    )


# --- one execution ------------------------------------------------------------------


def _bar(row: ObjectVar[NodeRow]) -> rx.Component:
    return rx.box(
        rx.cond(
            row.bar_note != "",
            rx.text(row.bar_note, size="1", color=_MUTED, style={"font_style": "italic"}),
            rx.box(
                position="absolute",
                left=row.bar_left,
                width=row.bar_width,
                top="4px",
                bottom="4px",
                border_radius="3px",
                background=rx.match(
                    row.status,
                    *_BAR_COLORS.items(),
                    rx.color("accent", 9),
                ),
                opacity=rx.cond(row.status == "RUNNING", "0.55", "0.9"),
                class_name="timeline-bar",
            ),
        ),
        position="relative",
        height="24px",
        flex="1",
        min_width="0",
        background=rx.color("gray", 3),
        border_radius="4px",
        display="flex",
        align_items="center",
        padding_left="8px",
    )


def _json_block(title: str, text: rx.Var[str], color: str = "gray") -> rx.Component:
    return rx.vstack(
        rx.text(title, size="1", weight="bold", color=rx.color(color, 11)),
        rx.el.pre(
            text,
            style={
                "max_height": "240px",
                "overflow": "auto",
                "font_size": "12px",
                "margin": 0,
                "padding": "8px",
                "background": rx.color("gray", 2),
                "border": f"1px solid {rx.color('gray', 4)}",
                "border_radius": "6px",
                "width": "100%",
                "white_space": "pre-wrap",
                "overflow_wrap": "anywhere",
            },
        ),
        spacing="1",
        width="100%",
        min_width="0",
        flex="1",
    )


def _node_details(row: ObjectVar[NodeRow]) -> rx.Component:
    return rx.box(
        rx.cond(
            row.error != "",
            rx.callout(row.error, icon="triangle-alert", color_scheme="red", size="1"),
        ),
        rx.hstack(
            _json_block("Input", rx.cond(row.input != "", row.input, "(none)")),
            _json_block("Output", rx.cond(row.output != "", row.output, "(none)")),
            spacing="3",
            width="100%",
            align="start",
        ),
        rx.text(
            "Node ",
            rx.code(row.node_id),
            " · attempt ",
            row.attempt,
            size="1",
            color=_MUTED,
        ),
        display="flex",
        flex_direction="column",
        gap="0.6em",
        padding="0.25em 1em 1em 2.6em",
        class_name="node-details",
    )


def node_row(row: ObjectVar[NodeRow], index: rx.Var[int]) -> rx.Component:
    is_open = ExecutionDetailState.open_nodes.contains(row.node_id)  # type: ignore[attr-defined]
    return rx.box(
        rx.hstack(
            rx.hstack(
                rx.cond(
                    is_open,
                    rx.icon("chevron-down", size=14, color=_MUTED, flex_shrink="0"),
                    rx.icon("chevron-right", size=14, color=_MUTED, flex_shrink="0"),
                ),
                rx.text(
                    index + 1,  # type: ignore[operator]
                    size="1",
                    color=_MUTED,
                    width="1.4em",
                    flex_shrink="0",
                ),
                rx.vstack(
                    rx.text(
                        row.label,
                        weight="medium",
                        size="2",
                        style={
                            "white_space": "nowrap",
                            "overflow": "hidden",
                            "text_overflow": "ellipsis",
                        },
                        max_width="130px",
                    ),
                    rx.text(row.type, size="1", color=_MUTED),
                    spacing="0",
                    min_width="0",
                ),
                rx.spacer(),
                status_badge(row.status),
                width=_LABEL_COLUMN,
                flex_shrink="0",
                align="center",
                spacing="2",
            ),
            _bar(row),
            rx.text(
                row.duration,
                size="2",
                width=_DURATION_COLUMN,
                text_align="right",
                flex_shrink="0",
                white_space="nowrap",
            ),
            align="center",
            spacing="4",
            width="100%",
            padding="0.55em 1em",
            cursor="pointer",
            _hover={"background": rx.color("gray", 2)},
            on_click=lambda: ExecutionDetailState.toggle_node(row.node_id),  # type: ignore[call-arg,arg-type]
            aria_expanded=is_open,
            role="button",
        ),
        rx.cond(is_open, _node_details(row)),
        border_top=f"1px solid {rx.color('gray', 4)}",
        width="100%",
        class_name="node-row",
        data_node=row.node_id,
    )


def _timeline_header() -> rx.Component:
    scale = ExecutionDetailState.timeline_scale
    return rx.hstack(
        rx.text("Node", size="1", weight="bold", color=_MUTED, width=_LABEL_COLUMN),
        rx.hstack(
            rx.text(scale[0], size="1", color=_MUTED),
            rx.spacer(),
            rx.text(scale[1], size="1", color=_MUTED),
            rx.spacer(),
            rx.text(scale[2], size="1", color=_MUTED),
            flex="1",
            min_width="0",
        ),
        rx.text(
            "Duration",
            size="1",
            weight="bold",
            color=_MUTED,
            width=_DURATION_COLUMN,
            text_align="right",
        ),
        spacing="4",
        width="100%",
        padding="0.6em 1em",
        background=rx.color("gray", 2),
    )


def _actions() -> rx.Component:
    return rx.hstack(
        rx.cond(
            ExecutionDetailState.is_active,
            rx.button(
                rx.icon("square", size=14),
                "Cancel",
                color_scheme="red",
                variant="soft",
                on_click=ExecutionDetailState.cancel,
            ),
        ),
        rx.cond(
            ExecutionDetailState.can_retry_failed,
            rx.button(
                rx.icon("step-forward", size=14),
                "Retry from failed node",
                variant="soft",
                loading=ExecutionDetailState.busy,
                on_click=ExecutionDetailState.retry_from_failed_node,
            ),
        ),
        rx.cond(
            ExecutionDetailState.can_retry,
            rx.button(
                rx.icon("rotate-ccw", size=14),
                "Retry from start",
                loading=ExecutionDetailState.busy,
                on_click=ExecutionDetailState.retry_from_start,
            ),
        ),
        spacing="2",
    )


def execution_detail_page() -> rx.Component:
    return page(
        rx.cond(
            ExecutionDetailState.missing,
            rx.callout(
                "No such execution. It may have been deleted with its workflow.",
                icon="circle-alert",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.hstack(
                    rx.link(
                        rx.hstack(
                            rx.icon("arrow-left", size=14), "Runs of this workflow", align="center"
                        ),
                        href=ExecutionDetailState.workflow_executions_url,
                        size="2",
                        color=_MUTED,
                    ),
                    rx.spacer(),
                    rx.link(
                        rx.hstack(rx.icon("pencil", size=14), "Open in editor", align="center"),
                        href=ExecutionDetailState.workflow_url,
                        size="2",
                    ),
                    width="100%",
                ),
                rx.hstack(
                    rx.vstack(
                        rx.hstack(
                            rx.heading(ExecutionDetailState.workflow, size="7"),
                            rx.box(
                                status_badge(ExecutionDetailState.status),
                                class_name="execution-status",
                            ),
                            align="center",
                            spacing="3",
                        ),
                        rx.text(
                            "Started ",
                            ExecutionDetailState.started,
                            rx.cond(
                                ExecutionDetailState.duration != "",
                                " · took " + ExecutionDetailState.duration,
                                "",
                            ),
                            " · version ",
                            ExecutionDetailState.version,
                            rx.cond(
                                ExecutionDetailState.retry_of_url != "",
                                rx.fragment(
                                    " · ",
                                    rx.link(
                                        "retry of an earlier run",
                                        href=ExecutionDetailState.retry_of_url,
                                        class_name="retry-of",
                                    ),
                                ),
                            ),
                            color=_MUTED,
                            size="2",
                        ),
                        spacing="1",
                    ),
                    rx.spacer(),
                    _actions(),
                    align="center",
                    width="100%",
                ),
                rx.cond(
                    ExecutionDetailState.action_error != "",
                    rx.callout(
                        ExecutionDetailState.action_error,
                        icon="circle-alert",
                        color_scheme="amber",
                        width="100%",
                    ),
                ),
                rx.cond(
                    ExecutionDetailState.error != "",
                    rx.callout(
                        ExecutionDetailState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        width="100%",
                        class_name="execution-error",
                    ),
                ),
                rx.cond(
                    ExecutionDetailState.graph_nodes.length() > 0,  # type: ignore[attr-defined]
                    rx.card(
                        workflow_canvas(
                            nodes=ExecutionDetailState.graph_nodes,
                            edges=ExecutionDetailState.graph_edges,
                            dirty=False,
                            read_only=True,
                            on_select_item=ExecutionDetailState.select_graph_node,
                        ),
                        width="100%",
                        height="300px",
                        padding="0",
                        overflow="hidden",
                        class_name="execution-graph",
                    ),
                ),
                rx.card(
                    rx.vstack(
                        _timeline_header(),
                        rx.cond(
                            ExecutionDetailState.nodes.length() > 0,  # type: ignore[attr-defined]
                            rx.foreach(ExecutionDetailState.nodes, node_row),
                            rx.center(
                                rx.text("No node has run yet.", color=_MUTED, size="2"),
                                padding="2em",
                                width="100%",
                            ),
                        ),
                        spacing="0",
                        width="100%",
                        class_name="timeline",
                    ),
                    width="100%",
                    padding="0",
                ),
                rx.text("Click a node for its input, output and error.", size="1", color=_MUTED),
                spacing="3",
                width="100%",
            ),
        )
    )
