"""``/sign-in`` and ``/sign-up``: plain HTML forms posted to ``/api/auth/form/*``.

The form posts go to the API (which sets the HttpOnly cookie and redirects), so the
password never enters Reflex state. A failure comes back as ``?error=...`` and is
shown above the form; ``next`` carries the page the person was going to.
"""

from __future__ import annotations

import reflex as rx
from sqlmodel import Session

from workfuse import web_paths
from workfuse.db import session_scope
from workfuse.services import auth
from workfuse.ui.native_form import native_form


class AuthFormState(rx.State):
    error: str = ""
    email: str = ""
    next_path: str = web_paths.WORKFLOWS
    owner_setup: bool = False

    def load(self) -> None:
        params = self.router.url.query_parameters
        self.error = params.get("error", "")[:300]
        self.email = params.get("email", "")[:320]
        self.next_path = params.get("next", web_paths.WORKFLOWS)[:1000]
        with session_scope() as session:
            self.owner_setup = _owner_setup_pending(session)


def _owner_setup_pending(session: Session) -> bool:
    return auth.unclaimed_owner(session=session) is not None


def _field(label: str, **props: object) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=props["id"], style={"font_size": "14px", "font_weight": 500}),
        rx.input(size="3", width="100%", **props),
        spacing="1",
        width="100%",
    )


def _email_field() -> rx.Component:
    return _field(
        "Email",
        id="email",
        name="email",
        type="email",
        required=True,
        auto_complete="email",
        default_value=AuthFormState.email,
    )


def _card(title: rx.Component, *children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("workflow", size=26, color=rx.color("accent", 9)),
                    rx.heading("WorkFuse", size="6", weight="bold"),
                    align="center",
                    spacing="2",
                ),
                title,
                rx.cond(
                    AuthFormState.error != "",
                    rx.callout(
                        AuthFormState.error,
                        icon="triangle-alert",
                        color_scheme="red",
                        width="100%",
                        class_name="auth-error",
                    ),
                ),
                *children,
                spacing="4",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="420px",
        ),
        min_height="100vh",
        padding="1em",
        background=rx.color("gray", 2),
    )


def _form(action: str, *fields: rx.Component, submit: str) -> rx.Component:
    return native_form(
        rx.vstack(
            *fields,
            rx.el.input(type="hidden", name="next", value=AuthFormState.next_path),
            rx.button(submit, type="submit", size="3", width="100%"),
            spacing="3",
            width="100%",
        ),
        action=action,
        method="post",
        width="100%",
    )


def sign_in_page() -> rx.Component:
    return _card(
        rx.text("Sign in to your workflows.", size="3", color=rx.color("gray", 11)),
        _form(
            "/api/auth/form/sign-in",
            _email_field(),
            _field(
                "Password",
                id="password",
                name="password",
                type="password",
                required=True,
                auto_complete="current-password",
            ),
            submit="Sign in",
        ),
        rx.text(
            rx.cond(AuthFormState.owner_setup, "First time here? ", "No account yet? "),
            rx.link(
                rx.cond(AuthFormState.owner_setup, "Create the owner account", "Sign up"),
                href=web_paths.SIGN_UP,
            ),
            size="2",
        ),
    )


def sign_up_page() -> rx.Component:
    return _card(
        rx.cond(
            AuthFormState.owner_setup,
            rx.text(
                "Create the owner account of this install. The demo workflow becomes yours.",
                size="3",
                color=rx.color("gray", 11),
            ),
            rx.text("Create your account.", size="3", color=rx.color("gray", 11)),
        ),
        _form(
            "/api/auth/form/sign-up",
            _field("Name", id="name", name="name", auto_complete="name"),
            _email_field(),
            _field(
                "Password",
                id="password",
                name="password",
                type="password",
                required=True,
                min_length=10,
                auto_complete="new-password",
            ),
            rx.text("At least 10 characters.", size="1", color=rx.color("gray", 10)),
            submit="Create account",
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href=web_paths.SIGN_IN), size="2"),
    )
