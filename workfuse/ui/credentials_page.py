"""``/credentials``: the user's credentials, with create, rotate and delete.

Values are typed into masked fields and sent once; the page never shows one (see
:mod:`workfuse.ui.credentials_state`).
"""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ui.credentials_state import CredentialRow, CredentialsState, UsageRow
from workfuse.ui.form_parts import confirm_dialog, error_callout, field
from workfuse.ui.layout import page


def secret_input(placeholder: str) -> rx.Component:
    """The masked value field: uncontrolled, never filled by the browser's password manager."""
    return rx.input(
        name="value",
        type="password",
        placeholder=placeholder,
        auto_complete="new-password",
        spell_check=False,
        width="100%",
    )


def dialog_buttons(submit: str, *, color_scheme: str = "violet") -> rx.Component:
    return rx.hstack(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        rx.button(submit, type="submit", color_scheme=color_scheme),
        justify="end",
        spacing="3",
        width="100%",
        margin_top="0.5em",
    )


def create_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New credential"),
            rx.dialog.description(
                "An API key, token or password that workflows use without showing it.",
                size="2",
                color=rx.color("gray", 11),
                margin_bottom="1em",
            ),
            rx.form(
                rx.vstack(
                    field("Name", rx.input(name="name", placeholder="Stripe live key")),
                    field(
                        "Description (optional)",
                        rx.input(name="description", placeholder="Bearer token for api.stripe.com"),
                    ),
                    field(
                        "Secret value",
                        secret_input("Paste the key or password"),
                        "Stored encrypted. It is never shown again: rotate it to replace it.",
                    ),
                    error_callout(CredentialsState.create_error),
                    dialog_buttons("Save credential"),
                    spacing="4",
                ),
                on_submit=CredentialsState.create,
            ),
            max_width="480px",
        ),
        open=CredentialsState.create_open,
        on_open_change=CredentialsState.set_create_open,
    )


def rotate_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Rotate ", CredentialsState.rotate_name),
            rx.dialog.description(
                "Workflows keep this credential; runs that start after you save get the "
                "new value. The old value is replaced and cannot be read back.",
                size="2",
                color=rx.color("gray", 11),
                margin_bottom="1em",
            ),
            rx.form(
                rx.vstack(
                    field("New secret value", secret_input("Paste the new key or password")),
                    error_callout(CredentialsState.rotate_error),
                    dialog_buttons("Rotate"),
                    spacing="4",
                ),
                on_submit=CredentialsState.rotate,
            ),
            max_width="480px",
        ),
        open=CredentialsState.rotate_open,
        on_open_change=CredentialsState.set_rotate_open,
    )


def delete_dialog() -> rx.Component:
    return confirm_dialog(
        rx.cond(
            CredentialsState.delete_in_use,
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.vstack(
                    rx.callout.text(CredentialsState.delete_warning, weight="medium"),
                    rx.flex(
                        rx.foreach(
                            CredentialsState.delete_used_by,
                            lambda name: rx.badge(name, color_scheme="amber", variant="solid"),
                        ),
                        wrap="wrap",
                        gap="2",
                    ),
                    spacing="2",
                ),
                color_scheme="amber",
                class_name="in-use-warning",
            ),
            rx.text("No workflow uses it.", size="2", color=rx.color("gray", 11), as_="p"),
        ),
        title=("Delete ", CredentialsState.delete_name, "?"),
        message="The value is deleted from the secret store. This cannot be undone.",
        action="Delete credential",
        icon="trash-2",
        on_action=CredentialsState.delete,
        error=CredentialsState.delete_error,
        open=CredentialsState.delete_open,
        on_open_change=CredentialsState.set_delete_open,
    )


def usage_badge(use: ObjectVar[UsageRow]) -> rx.Component:
    return rx.tooltip(
        rx.link(
            rx.badge(
                rx.icon("workflow", size=12),
                use.workflow_name,
                color_scheme="violet",
                variant="soft",
                radius="full",
            ),
            href=f"/workflows/{use.workflow_id}",
            underline="none",
        ),
        content=use.nodes,
    )


def credential_row(row: ObjectVar[CredentialRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.center(
                    rx.icon("key-round", size=16, color=rx.color("violet", 11)),
                    width="32px",
                    height="32px",
                    border_radius="8px",
                    background=rx.color("violet", 3),
                    flex_shrink="0",
                ),
                rx.vstack(
                    rx.text(row.name, weight="medium", size="3"),
                    rx.text(
                        rx.cond(row.description != "", row.description, "No description"),
                        size="1",
                        color=rx.color("gray", 10),
                        max_width="300px",
                        style={
                            "white_space": "nowrap",
                            "overflow": "hidden",
                            "text_overflow": "ellipsis",
                        },
                    ),
                    spacing="1",
                ),
                align="center",
                spacing="3",
            )
        ),
        rx.table.cell(
            rx.cond(
                row.used_by.length() > 0,
                rx.flex(rx.foreach(row.used_by, usage_badge), wrap="wrap", gap="2"),
                rx.text("Not used", size="2", color=rx.color("gray", 9)),
            ),
            max_width="340px",
        ),
        rx.table.cell(
            rx.badge(row.store, color_scheme="gray", variant="soft", white_space="nowrap")
        ),
        rx.table.cell(
            rx.text(row.created, size="2", color=rx.color("gray", 11), white_space="nowrap")
        ),
        rx.table.cell(
            rx.hstack(
                rx.tooltip(
                    rx.icon_button(
                        rx.icon("copy", size=14),
                        on_click=[
                            rx.set_clipboard(row.arn),
                            rx.toast("Reference copied: paste it as a node's secretArn"),
                        ],
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="Copy reference",
                    ),
                    content=row.arn,
                ),
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Rotate",
                    size="1",
                    variant="soft",
                    # Reflex binds the handler at run time; mypy sees an unbound method.
                    on_click=lambda: CredentialsState.start_rotate(row.id),  # type: ignore[call-arg,arg-type]
                ),
                rx.icon_button(
                    rx.icon("trash-2", size=14),
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=lambda: CredentialsState.confirm_delete(row.id),  # type: ignore[call-arg,arg-type]
                    aria_label="Delete",
                ),
                align="center",
                justify="end",
                spacing="3",
            )
        ),
        align="center",
        class_name="credential-row",
    )


def empty_state() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(
                rx.icon("key-round", size=26, color=rx.color("violet", 11)),
                width="56px",
                height="56px",
                border_radius="50%",
                background=rx.color("violet", 3),
            ),
            rx.text("No credentials yet.", weight="medium", size="3"),
            rx.text(
                "Add an API key, token or password, then choose it on an HTTP or AI node, "
                "or as a webhook's signing key.",
                size="2",
                color=rx.color("gray", 10),
                text_align="center",
                max_width="420px",
            ),
            rx.button(
                rx.icon("plus", size=16),
                "New credential",
                on_click=CredentialsState.open_create,
                margin_top="0.5em",
            ),
            align="center",
            spacing="2",
        ),
        padding="3.5em",
    )


def credentials_table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Name"),
                rx.table.column_header_cell("Used by"),
                rx.table.column_header_cell("Stored in"),
                rx.table.column_header_cell("Created"),
                rx.table.column_header_cell(""),
            )
        ),
        rx.table.body(rx.foreach(CredentialsState.rows, credential_row)),
        width="100%",
    )


def credentials_page() -> rx.Component:
    return page(
        rx.hstack(
            rx.vstack(
                rx.heading("Credentials", size="7"),
                rx.text(
                    "Keys and passwords your workflows use. Values are stored encrypted "
                    "and never shown again.",
                    color=rx.color("gray", 10),
                ),
                spacing="1",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "New credential",
                on_click=CredentialsState.open_create,
            ),
            align="end",
            width="100%",
            margin_bottom="1.5em",
        ),
        rx.cond(
            CredentialsState.error != "",
            rx.callout(
                CredentialsState.error,
                icon="triangle-alert",
                color_scheme="red",
                margin_bottom="1em",
            ),
        ),
        rx.card(
            rx.cond(
                CredentialsState.has_rows,
                credentials_table(),
                rx.cond(
                    CredentialsState.loaded, empty_state(), rx.center(rx.spinner(), padding="3em")
                ),
            ),
            width="100%",
            padding="0",
        ),
        create_dialog(),
        rotate_dialog(),
        delete_dialog(),
    )
