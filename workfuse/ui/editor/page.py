"""``/workflows/<id>``: the workflow editor (toolbar, palette, canvas, side panel)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse import web_paths
from workfuse.nodes.base import CATEGORIES, CATEGORY_LABELS, Category, NodeSpec
from workfuse.nodes.registry import REGISTRY
from workfuse.ui.editor.components import MONO, workflow_canvas
from workfuse.ui.editor.panel import side_panel
from workfuse.ui.editor.state import EditorState, VersionRow
from workfuse.ui.form_parts import confirm_dialog
from workfuse.ui.layout import top_bar

RUN_COLOURS = {"COMPLETED": "green", "FAILED": "red", "RUNNING": "blue", "PENDING": "gray"}


def palette_item(spec: NodeSpec) -> rx.Component:
    colour = spec.colour
    return rx.tooltip(
        rx.hstack(
            rx.center(
                rx.icon(spec.icon, size=15, color=colour),
                width="28px",
                height="28px",
                border_radius="7px",
                background=f"{colour}1f",
                flex_shrink="0",
            ),
            rx.vstack(
                rx.text(spec.label, size="2", weight="medium"),
                rx.text(
                    spec.description,
                    size="1",
                    color=rx.color("gray", 10),
                    style={
                        "display": "-webkit-box",
                        "-webkit-line-clamp": "2",
                        "-webkit-box-orient": "vertical",
                        "overflow": "hidden",
                    },
                ),
                spacing="0",
                min_width="0",
            ),
            on_click=EditorState.add_node(spec.type),
            draggable=True,
            custom_attrs={"data-palette-type": spec.type},
            padding="0.5em",
            border_radius="8px",
            border=f"1px solid {rx.color('gray', 4)}",
            background=rx.color("gray", 1),
            cursor="grab",
            _hover={"border_color": colour, "background": rx.color("gray", 2)},
            width="100%",
            align="center",
            spacing="2",
            class_name="palette-item",
        ),
        content=f"Click to add, or drag onto the canvas: {spec.description}",
        side="right",
    )


def _matches(spec: NodeSpec) -> rx.Var[bool]:
    """Whether the palette's search text is in the type's label, description or name
    (evaluated in the browser as the user types)."""
    haystack = f"{spec.label} {spec.description} {spec.type}".lower()
    query = EditorState.palette_query.lower().strip()
    return rx.Var.create(haystack).contains(query)


def _any(conditions: list[rx.Var[bool]]) -> rx.Var[bool]:
    result = conditions[0]
    for condition in conditions[1:]:
        result = result | condition
    return result


def palette_group(category: Category, specs: list[NodeSpec]) -> rx.Component:
    """The node types of one category under its heading; hidden while none matches."""
    matches = [_matches(spec) for spec in specs]
    return rx.cond(
        _any(matches),
        rx.vstack(
            rx.text(
                CATEGORY_LABELS[category],
                size="1",
                weight="bold",
                color=rx.color("gray", 10),
                text_transform="uppercase",
                class_name="palette-category",
            ),
            *(
                rx.cond(match, palette_item(spec))
                for spec, match in zip(specs, matches, strict=True)
            ),
            spacing="2",
            width="100%",
            padding_top="0.25em",
            custom_attrs={"data-category": category},
        ),
    )


def palette() -> rx.Component:
    """The node types by category (in ``CATEGORIES`` order), with a search box."""
    by_category = {
        category: [spec for spec in REGISTRY.specs() if spec.category == category]
        for category in CATEGORIES
    }
    shown = {category: specs for category, specs in by_category.items() if specs}
    every = [_matches(spec) for specs in shown.values() for spec in specs]
    return rx.vstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            value=EditorState.palette_query,
            on_change=EditorState.set_palette_query,
            placeholder="Search nodes",
            size="2",
            width="100%",
            name="palette_search",
            aria_label="Search node types",
        ),
        *(palette_group(category, specs) for category, specs in shown.items()),
        rx.cond(
            _any(every) if every else rx.Var.create(False),
            rx.fragment(),
            rx.text(
                "No node type matches.",
                size="1",
                color=rx.color("gray", 10),
                class_name="palette-empty",
            ),
        ),
        width="210px",
        min_width="210px",
        height="100%",
        overflow_y="auto",
        padding="1em",
        spacing="3",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
    )


def version_item(row: ObjectVar[VersionRow]) -> rx.Component:
    return rx.hstack(
        rx.text("Version ", row.version, weight="medium", size="2"),
        rx.text(row.created, size="1", color=rx.color("gray", 10)),
        rx.spacer(),
        rx.dialog.close(
            rx.button(
                "Open",
                on_click=EditorState.open_version(row.version),
                size="1",
                variant="soft",
            )
        ),
        width="100%",
        align="center",
        class_name="version-row",
    )


def versions_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("history", size=14),
                "Versions",
                variant="soft",
                color_scheme="gray",
                on_click=EditorState.load_versions,
            )
        ),
        rx.dialog.content(
            rx.dialog.title("Version history"),
            rx.dialog.description(
                "Every save is a version. Open one to look at it; save it to restore it.",
                size="2",
            ),
            rx.scroll_area(
                rx.vstack(rx.foreach(EditorState.versions, version_item), spacing="2"),
                max_height="320px",
                padding_y="1em",
            ),
            rx.dialog.close(rx.button("Close", variant="soft", color_scheme="gray")),
            max_width="440px",
        ),
    )


def run_dialog() -> rx.Component:
    return confirm_dialog(
        rx.text_area(
            value=EditorState.run_payload,
            on_change=EditorState.set_run_payload,
            rows="10",
            font_family=MONO,
            font_size="12px",
            width="100%",
            name="run_payload",
        ),
        title="Run now",
        message="Runs the saved workflow (unsaved changes are saved first) with this test "
        "payload as the trigger's data.",
        action="Run with this payload",
        icon="play",
        color_scheme="green",
        action_class="run-confirm",
        on_action=EditorState.run,
        error=EditorState.run_error,
        open=EditorState.run_open,
        on_open_change=EditorState.set_run_open,
        trigger=rx.button(
            rx.icon("play", size=14), "Run", color_scheme="green", class_name="run-button"
        ),
        alert=False,
        max_width="520px",
    )


def webhook_box() -> rx.Component:
    return rx.hstack(
        rx.icon("webhook", size=14, color=rx.color("gray", 10)),
        rx.text(
            EditorState.webhook_url,
            size="1",
            font_family=MONO,
            color=rx.color("gray", 11),
            max_width="260px",
            style={"white_space": "nowrap", "overflow": "hidden", "text_overflow": "ellipsis"},
            class_name="webhook-url",
        ),
        rx.tooltip(
            rx.icon_button(
                rx.icon("copy", size=13),
                on_click=[
                    rx.set_clipboard(EditorState.webhook_url),
                    rx.toast("Webhook URL copied"),
                ],
                size="1",
                variant="ghost",
                aria_label="Copy webhook URL",
            ),
            content="Copy the webhook URL",
        ),
        align="center",
        spacing="1",
    )


def toolbar() -> rx.Component:
    return rx.hstack(
        rx.link(
            rx.icon("chevron-left", size=18), href=web_paths.WORKFLOWS, color=rx.color("gray", 11)
        ),
        rx.input(
            value=EditorState.name,
            on_change=EditorState.set_name,
            variant="soft",
            size="2",
            width="240px",
            font_weight="600",
            aria_label="Workflow name",
            name="workflow_name",
        ),
        rx.cond(
            EditorState.dirty,
            rx.badge(
                rx.icon("circle-dot", size=11),
                "Unsaved changes",
                color_scheme="amber",
                class_name="dirty",
            ),
            rx.badge(
                "Saved · v",
                EditorState.version,
                color_scheme="gray",
                variant="soft",
                class_name="saved",
            ),
        ),
        rx.cond(
            EditorState.error_count > 0,
            rx.badge(
                rx.icon("triangle-alert", size=11),
                EditorState.error_count,
                " problems",
                color_scheme="red",
                variant="soft",
            ),
        ),
        rx.spacer(),
        webhook_box(),
        rx.tooltip(
            rx.hstack(
                rx.switch(
                    checked=EditorState.is_active,
                    on_change=EditorState.set_active,
                    disabled=~EditorState.is_active & ~EditorState.can_activate,
                    class_name="active-switch",
                ),
                rx.text("Active", size="2"),
                align="center",
                spacing="2",
            ),
            content=EditorState.activate_hint,
        ),
        versions_dialog(),
        run_dialog(),
        rx.button(
            rx.icon("save", size=14),
            "Save",
            on_click=EditorState.save,
            disabled=~EditorState.dirty,
            class_name="save-button",
        ),
        padding_x="1em",
        padding_y="0.6em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        width="100%",
        align="center",
        spacing="3",
    )


def status_strip() -> rx.Component:
    """Messages (saved, errors) and the current run, under the toolbar."""
    return rx.cond(
        (EditorState.error != "") | (EditorState.message != "") | (EditorState.execution_id != ""),
        rx.hstack(
            rx.cond(
                EditorState.error != "",
                rx.text(
                    EditorState.error,
                    color=rx.color("red", 11),
                    size="2",
                    class_name="editor-error",
                ),
            ),
            rx.cond(
                EditorState.message != "",
                rx.text(
                    EditorState.message,
                    color=rx.color("gray", 11),
                    size="2",
                    class_name="editor-message",
                ),
            ),
            rx.spacer(),
            rx.cond(
                EditorState.execution_id != "",
                rx.hstack(
                    rx.text("Run", size="2"),
                    rx.match(
                        EditorState.execution_status,
                        *(
                            (
                                status,
                                rx.badge(
                                    status.lower(), color_scheme=colour, class_name="run-state"
                                ),
                            )
                            for status, colour in RUN_COLOURS.items()
                        ),
                        rx.badge(
                            EditorState.execution_status.lower(),
                            color_scheme="amber",
                            class_name="run-state",
                        ),
                    ),
                    rx.link(
                        "Open execution",
                        on_click=EditorState.open_execution,
                        size="2",
                        class_name="open-execution",
                    ),
                    align="center",
                    spacing="2",
                ),
            ),
            padding_x="1em",
            min_height="32px",
            align="center",
            width="100%",
            background=rx.color("gray", 2),
            border_bottom=f"1px solid {rx.color('gray', 4)}",
        ),
    )


def missing_view() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.heading("Workflow not found", size="6"),
            rx.text(
                "It does not exist, or it belongs to someone else.", color=rx.color("gray", 11)
            ),
            rx.link("Back to your workflows", href=web_paths.WORKFLOWS),
            align="center",
        ),
        height="60vh",
    )


def editor_page() -> rx.Component:
    return rx.vstack(
        top_bar(),
        rx.cond(
            EditorState.missing,
            missing_view(),
            rx.vstack(
                toolbar(),
                status_strip(),
                rx.hstack(
                    palette(),
                    rx.box(
                        workflow_canvas(
                            nodes=EditorState.canvas_nodes,
                            edges=EditorState.canvas_edges,
                            dirty=EditorState.dirty,
                            on_nodes_moved=EditorState.nodes_moved,
                            on_connect_nodes=EditorState.connect_nodes,
                            on_delete_items=EditorState.delete_items,
                            on_select_item=EditorState.select_item,
                            on_drop_node=EditorState.drop_node,
                            on_save=EditorState.save,
                        ),
                        flex="1",
                        height="100%",
                        min_width="0",
                        background=rx.color("gray", 2),
                    ),
                    side_panel(),
                    spacing="0",
                    width="100%",
                    flex="1",
                    min_height="0",
                ),
                spacing="0",
                width="100%",
                flex="1",
                min_height="0",
            ),
        ),
        spacing="0",
        height="100vh",
        width="100%",
        overflow="hidden",
    )
