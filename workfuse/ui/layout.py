"""The frame every page shares: top bar with the product name, then the content."""

from __future__ import annotations

import reflex as rx


def top_bar() -> rx.Component:
    return rx.hstack(
        rx.hstack(
            rx.icon("workflow", size=22, color=rx.color("accent", 9)),
            rx.heading("WorkFuse", size="5", weight="bold"),
            align="center",
            spacing="2",
        ),
        rx.spacer(),
        rx.link("Workflows", href="/", weight="medium", color=rx.color("gray", 12)),
        padding_x="2em",
        padding_y="0.9em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        width="100%",
        align="center",
    )


def page(*children: rx.Component) -> rx.Component:
    return rx.box(
        top_bar(),
        rx.box(*children, max_width="1120px", margin_x="auto", padding="2em"),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
