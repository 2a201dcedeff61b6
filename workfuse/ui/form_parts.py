"""Small pieces the pages' forms share: a labelled control, an error callout, and
service messages turned into sentences."""

from __future__ import annotations

import reflex as rx


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


def as_sentence(message: str) -> str:
    """A service message ("the name must ...") as a sentence for the page."""
    message = message.strip() or "that did not work"
    return message[0].upper() + message[1:] + ("" if message.endswith(".") else ".")
