"""Reflex configuration. WorkFuse's own settings live in ``workfuse.settings``."""

import reflex as rx

from workfuse.ui.earlier_assets import KeepEarlierAssets

config = rx.Config(
    app_name="workfuse",
    telemetry_enabled=False,
    show_built_with_reflex=False,
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="violet", gray_color="slate", radius="medium")
        ),
        # Tabs opened before a restart still find their build's files.
        KeepEarlierAssets(),
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
