"""The frame every page shares: top bar with the product name, then the content."""

from __future__ import annotations

import reflex as rx

from workfuse import web_paths
from workfuse.ui.native_form import native_form
from workfuse.ui.session_state import SessionState


def top_bar() -> rx.Component:
    return rx.hstack(
        rx.hstack(
            rx.icon("workflow", size=22, color=rx.color("accent", 9)),
            rx.heading("WorkFuse", size="5", weight="bold"),
            align="center",
            spacing="2",
        ),
        rx.spacer(),
        rx.link("Workflows", href=web_paths.WORKFLOWS, weight="medium", color=rx.color("gray", 12)),
        rx.link(
            "Executions", href=web_paths.EXECUTIONS, weight="medium", color=rx.color("gray", 12)
        ),
        rx.link(
            "Credentials", href=web_paths.CREDENTIALS, weight="medium", color=rx.color("gray", 12)
        ),
        rx.link("Settings", href=web_paths.SETTINGS, weight="medium", color=rx.color("gray", 12)),
        rx.separator(orientation="vertical", size="2"),
        rx.text(SessionState.user_email, size="2", color=rx.color("gray", 11)),
        native_form(
            rx.button(
                rx.icon("log-out", size=14),
                "Sign out",
                type="submit",
                variant="soft",
                color_scheme="gray",
                size="1",
            ),
            action="/api/auth/form/sign-out",
            method="post",
        ),
        padding_x="2em",
        padding_y="0.9em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        width="100%",
        align="center",
        spacing="4",
    )


def page(*children: rx.Component) -> rx.Component:
    return rx.box(
        top_bar(),
        rx.box(*children, max_width="1120px", margin_x="auto", padding="2em"),
        min_height="100vh",
        background=rx.color("gray", 2),
    )
