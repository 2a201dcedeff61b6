"""The Magic input dialog of a node: describe it, generate, review the diff, apply."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from workfuse.ai.providers import PROVIDERS
from workfuse.ui.editor.components import MONO
from workfuse.ui.editor.magic_state import DiffLine, MagicInputState
from workfuse.ui.editor.state import EditorState

_LINE_COLOURS = {"+": ("green", "+ "), "-": ("red", "- "), " ": ("gray", "  ")}


def diff_line(line: ObjectVar[DiffLine]) -> rx.Component:
    return rx.box(
        rx.match(
            line.kind,
            *(
                (kind, rx.text(prefix, line.text, color=rx.color(colour, 11), as_="span"))
                for kind, (colour, prefix) in _LINE_COLOURS.items()
            ),
            rx.text(line.text, as_="span"),
        ),
        background=rx.match(
            line.kind, ("+", rx.color("green", 3)), ("-", rx.color("red", 3)), "transparent"
        ),
        font_family=MONO,
        font_size="11px",
        white_space="pre-wrap",
        padding_x="0.5em",
        width="100%",
        class_name=rx.match(line.kind, ("+", "diff-add"), ("-", "diff-remove"), "diff-same"),
    )


def proposal_view() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.badge(
                MagicInputState.magic_confidence,
                "% confidence",
                color_scheme=rx.cond(MagicInputState.magic_confidence >= 70, "green", "amber"),
                class_name="magic-confidence",
            ),
            rx.text(
                MagicInputState.magic_attempts,
                " attempt(s) · ",
                MagicInputState.magic_tokens,
                " tokens",
                size="1",
                color=rx.color("gray", 10),
            ),
            align="center",
        ),
        rx.cond(
            MagicInputState.magic_reasoning != "",
            rx.text(MagicInputState.magic_reasoning, size="2", color=rx.color("gray", 11)),
        ),
        rx.scroll_area(
            rx.vstack(rx.foreach(MagicInputState.magic_diff, diff_line), spacing="0"),
            max_height="260px",
            border=f"1px solid {rx.color('gray', 5)}",
            border_radius="6px",
            class_name="magic-diff",
        ),
        rx.hstack(
            rx.button(
                "Discard",
                on_click=MagicInputState.discard_magic,
                variant="soft",
                color_scheme="gray",
            ),
            rx.button(
                rx.icon("check", size=14),
                "Apply",
                on_click=MagicInputState.apply_magic,
                class_name="magic-apply",
            ),
            justify="end",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def magic_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon("sparkles", size=14),
                "Magic input",
                on_click=MagicInputState.open_magic,
                variant="soft",
                size="2",
                class_name="magic-button",
            )
        ),
        rx.dialog.content(
            rx.dialog.title(rx.hstack(rx.icon("sparkles", size=18), "Magic input", align="center")),
            rx.dialog.description(
                "Describe what this ",
                EditorState.form.type_label,
                " node should do; the proposal is checked like a save before you see it.",
                size="2",
            ),
            rx.vstack(
                rx.text_area(
                    value=MagicInputState.magic_prompt,
                    on_change=MagicInputState.set_magic_prompt,
                    placeholder="e.g. POST the ticket summary to our Slack webhook",
                    rows="4",
                    width="100%",
                    name="magic_prompt",
                ),
                rx.hstack(
                    rx.select(
                        list(PROVIDERS),
                        value=MagicInputState.magic_provider,
                        on_change=MagicInputState.set_magic_provider,
                        size="2",
                    ),
                    rx.input(
                        value=MagicInputState.magic_model,
                        on_change=MagicInputState.set_magic_model,
                        placeholder="model (default for the provider)",
                        width="100%",
                        name="magic_model",
                    ),
                    width="100%",
                ),
                rx.cond(
                    MagicInputState.magic_provider == "openai-compatible",
                    rx.input(
                        value=MagicInputState.magic_base_url,
                        on_change=MagicInputState.set_magic_base_url,
                        placeholder="Base URL, e.g. http://127.0.0.1:11434/v1 (Ollama)",
                        width="100%",
                        name="magic_base_url",
                    ),
                ),
                rx.cond(
                    EditorState.credentials.length() > 0,
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="API key: the server's default", width="100%"
                        ),
                        rx.select.content(
                            rx.foreach(
                                EditorState.credentials,
                                lambda option: rx.select.item(option.name, value=option.arn),
                            )
                        ),
                        value=MagicInputState.magic_key_arn,
                        on_change=MagicInputState.set_magic_key_arn,
                    ),
                ),
                rx.button(
                    rx.cond(
                        MagicInputState.magic_busy, rx.spinner(size="2"), rx.icon("wand", size=14)
                    ),
                    "Generate",
                    on_click=MagicInputState.generate_magic,
                    disabled=MagicInputState.magic_busy,
                    class_name="magic-generate",
                ),
                rx.cond(
                    MagicInputState.magic_progress.length() > 0,
                    rx.vstack(
                        rx.foreach(
                            MagicInputState.magic_progress,
                            lambda line: rx.text(line, size="1", color=rx.color("gray", 10)),
                        ),
                        spacing="0",
                        class_name="magic-progress",
                    ),
                ),
                rx.cond(
                    MagicInputState.magic_error != "",
                    rx.callout.root(
                        rx.callout.icon(rx.icon("circle-alert")),
                        rx.vstack(
                            rx.text(MagicInputState.magic_error, size="2"),
                            rx.foreach(
                                MagicInputState.magic_problems,
                                lambda line: rx.text("• ", line, size="1"),
                            ),
                            spacing="1",
                        ),
                        color_scheme="red",
                        class_name="magic-error",
                    ),
                ),
                rx.cond(MagicInputState.magic_has_proposal, proposal_view()),
                spacing="3",
                width="100%",
                margin_top="1em",
            ),
            max_width="620px",
        ),
        open=MagicInputState.magic_open,
        on_open_change=MagicInputState.set_magic_open,
    )
