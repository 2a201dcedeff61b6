"""Small pieces the pages' forms share: a labelled control, an error callout, the
confirmation dialog, and service messages turned into sentences."""

from __future__ import annotations

import reflex as rx
from reflex.event import EventType

from workfuse.services.errors import ServiceError

#: A dialog title: text, a state var, or parts of both (``("Delete ", State.name, "?")``).
Title = str | rx.Var[str] | tuple[str | rx.Var[str], ...]


def field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    """A labelled form control (the label wraps it, so it names the control)."""
    hint_text = [rx.text(hint, size="1", color=rx.color("gray", 10))] if hint else []
    return rx.el.label(
        rx.text(label, size="2", weight="medium"),
        control,
        *hint_text,
        style={"display": "flex", "flex_direction": "column", "gap": "6px", "width": "100%"},
    )


def error_callout(message: rx.Var[str] | str) -> rx.Component:
    """A red callout with ``message``, shown only when it is not empty."""
    return rx.cond(
        message != "",
        rx.callout(message, icon="circle-alert", color_scheme="red", size="1", width="100%"),
    )


def confirm_dialog(
    *body: rx.Component,
    title: Title,
    message: str,
    action: str,
    on_action: EventType[()],
    open: rx.Var[bool],
    on_open_change: EventType[bool],
    icon: str = "",
    color_scheme: str = "red",
    action_class: str = "",
    error: rx.Var[str] | str | None = None,
    trigger: rx.Component | None = None,
    alert: bool = True,
    max_width: str = "480px",
) -> rx.Component:
    """A question before an action: title, message, ``body`` (details, fields), an
    error callout, then Cancel and the action button.

    ``open``/``on_open_change`` come from the page's state; Cancel, Escape and (for a
    plain dialog) a click outside call ``on_open_change(False)``. The action button
    does not close the dialog: ``on_action`` closes it through ``open`` when it is
    done, so an error can show in the dialog. ``alert`` makes it an alert dialog (role
    ``alertdialog``, for destructive actions: a click outside does not close it);
    ``trigger`` is a button that opens it.
    """
    parts = rx.alert_dialog if alert else rx.dialog
    cancel = rx.alert_dialog.cancel if alert else rx.dialog.close
    titles = title if isinstance(title, tuple) else (title,)
    icons = [rx.icon(icon, size=14)] if icon else []
    errors = [error_callout(error)] if error is not None else []
    classes = {"class_name": action_class} if action_class else {}
    content = parts.content(
        parts.title(*titles),
        parts.description(message, size="2", color=rx.color("gray", 11)),
        rx.vstack(
            *body,
            *errors,
            rx.hstack(
                cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    *icons,
                    action,
                    color_scheme=color_scheme,
                    on_click=on_action,
                    **classes,
                ),
                justify="end",
                spacing="3",
            ),
            align="stretch",
            spacing="4",
            margin_top="1em",
        ),
        max_width=max_width,
    )
    triggers = [parts.trigger(trigger)] if trigger is not None else []
    return parts.root(*triggers, content, open=open, on_open_change=on_open_change)


def as_sentence(message: str) -> str:
    """A service message ("the name must ...") as a sentence for the page."""
    message = message.strip() or "that did not work"
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")


def refusal_sentence(error: ServiceError) -> str:
    """A service's refusal as a sentence for the page (see :func:`as_sentence`)."""
    return as_sentence(str(error))
