"""``/settings``: API tokens (created once-shown, revoked) and the default AI model."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ai.providers import PROVIDERS
from workfuse.ui.form_parts import confirm_dialog, error_callout, field
from workfuse.ui.layout import page
from workfuse.ui.settings_state import (
    NEW_TOKEN,
    PROVIDER_LABELS,
    TOKEN_NAME_INPUT,
    SettingsState,
    TokenRow,
)


def section_heading(icon: str, title: str, text: str) -> rx.Component:
    return rx.hstack(
        rx.center(
            rx.icon(icon, size=18, color=rx.color("violet", 11)),
            width="36px",
            height="36px",
            border_radius="8px",
            background=rx.color("violet", 3),
            flex_shrink="0",
        ),
        rx.vstack(
            rx.heading(title, size="4"),
            rx.text(text, size="2", color=rx.color("gray", 10)),
            spacing="1",
        ),
        align="start",
        spacing="3",
        width="100%",
    )


def token_row(row: ObjectVar[TokenRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(rx.code(row.prefix, "…", variant="ghost", color_scheme="gray")),
        rx.table.cell(rx.text(row.created, size="2", color=rx.color("gray", 11))),
        rx.table.cell(rx.text(row.last_used, size="2", color=rx.color("gray", 11))),
        rx.table.cell(
            rx.button(
                rx.icon("ban", size=14),
                "Revoke",
                size="1",
                variant="soft",
                color_scheme="red",
                # Reflex binds the handler to the state at run time; mypy sees an unbound method.
                on_click=lambda: SettingsState.confirm_revoke(row.id),  # type: ignore[call-arg,arg-type]
            ),
            text_align="right",
        ),
        align="center",
        class_name="token-row",
    )


def tokens_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            section_heading(
                "key-square",
                "API tokens",
                "Scripts call the API with “Authorization: Bearer <token>”. A token acts as "
                "you: keep it secret, and revoke it when it is no longer needed.",
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        id=TOKEN_NAME_INPUT,
                        name="name",
                        placeholder="Token name, e.g. CI deploy",
                        aria_label="Token name",
                        width="320px",
                    ),
                    rx.button(rx.icon("plus", size=16), "Create token", type="submit"),
                    spacing="3",
                ),
                on_submit=SettingsState.create_token,
            ),
            error_callout(SettingsState.token_error),
            rx.cond(
                SettingsState.has_tokens,
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Token"),
                            rx.table.column_header_cell("Created"),
                            rx.table.column_header_cell("Last used"),
                            rx.table.column_header_cell(""),
                        )
                    ),
                    rx.table.body(rx.foreach(SettingsState.tokens, token_row)),
                    width="100%",
                    variant="surface",
                ),
                rx.cond(
                    SettingsState.loaded,
                    rx.center(
                        rx.text(
                            "No API tokens yet: name one above and create it.",
                            size="2",
                            color=rx.color("gray", 10),
                        ),
                        padding="1.5em",
                        width="100%",
                        border=f"1px dashed {rx.color('gray', 6)}",
                        border_radius="8px",
                    ),
                    rx.center(rx.spinner(), padding="1.5em", width="100%"),
                ),
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
        size="3",
    )


def ai_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            section_heading(
                "sparkles",
                "Default AI provider and model",
                "Preselected on new AI nodes; each node can still choose its own. API keys "
                "are credentials, chosen on the node.",
            ),
            rx.hstack(
                rx.box(
                    field(
                        "Provider",
                        rx.select.root(
                            rx.select.trigger(placeholder="No default", width="100%"),
                            rx.select.content(
                                *(
                                    rx.select.item(PROVIDER_LABELS[name], value=name)
                                    for name in PROVIDERS
                                )
                            ),
                            value=SettingsState.ai_provider,
                            on_change=SettingsState.set_ai_provider,
                        ),
                    ),
                    width="220px",
                ),
                rx.box(
                    field(
                        "Model",
                        rx.input(
                            value=SettingsState.ai_model,
                            on_change=SettingsState.set_ai_model,
                            placeholder=SettingsState.model_placeholder,
                            width="100%",
                        ),
                    ),
                    width="300px",
                ),
                rx.button("Save", on_click=SettingsState.save_ai_defaults),
                rx.button(
                    "Clear",
                    variant="soft",
                    color_scheme="gray",
                    on_click=SettingsState.clear_ai_defaults,
                ),
                align="end",
                spacing="3",
            ),
            error_callout(SettingsState.ai_error),
            spacing="4",
            width="100%",
        ),
        width="100%",
        size="3",
    )


def new_token_dialog() -> rx.Component:
    """The token just created, shown once; closing the dialog forgets it."""
    token = NEW_TOKEN.value.to(str)
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Copy your new API token"),
            rx.callout(
                "This is the only time the token is shown. Store it somewhere safe, such as "
                "a password manager or your CI's secret variables: it cannot be shown again.",
                icon="triangle-alert",
                color_scheme="amber",
                size="1",
                margin_bottom="1em",
            ),
            rx.hstack(
                rx.code(
                    token,
                    size="3",
                    variant="soft",
                    padding="0.6em 0.8em",
                    width="100%",
                    style={"word_break": "break-all"},
                    class_name="new-token",
                ),
                rx.tooltip(
                    rx.icon_button(
                        rx.icon("copy", size=16),
                        on_click=[rx.set_clipboard(token), rx.toast("Token copied")],
                        variant="soft",
                        size="3",
                        aria_label="Copy token",
                    ),
                    content="Copy to the clipboard",
                ),
                align="center",
                spacing="2",
                width="100%",
            ),
            rx.hstack(
                rx.dialog.close(rx.button("I have copied it", on_click=NEW_TOKEN.set_value(""))),
                justify="end",
                margin_top="1.25em",
            ),
            max_width="560px",
        ),
        open=token != "",
        on_open_change=NEW_TOKEN.set_value(""),
    )


def revoke_dialog() -> rx.Component:
    return confirm_dialog(
        title=("Revoke ", SettingsState.revoke_name, "?"),
        message="Scripts that use this token are refused at once. This cannot be undone.",
        action="Revoke token",
        on_action=SettingsState.revoke,
        open=SettingsState.revoke_open,
        on_open_change=SettingsState.set_revoke_open,
        max_width="440px",
    )


def settings_page() -> rx.Component:
    return page(
        rx.vstack(
            rx.heading("Settings", size="7"),
            rx.text("API tokens for scripts, and your defaults.", color=rx.color("gray", 10)),
            spacing="1",
            margin_bottom="1.5em",
        ),
        rx.vstack(tokens_card(), ai_card(), spacing="5", width="100%"),
        new_token_dialog(),
        revoke_dialog(),
    )
