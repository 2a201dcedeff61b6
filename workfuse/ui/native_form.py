"""A plain HTML ``<form>`` that the browser submits itself.

Reflex's own form always prevents the browser's submit and sends the fields over the
websocket instead. Sign-in and sign-out need the opposite: a real POST to the API,
whose response sets or clears the HttpOnly session cookie and redirects.
"""

from __future__ import annotations

import reflex as rx
from reflex_components_core.el.elements.base import BaseHTML


class NativeForm(BaseHTML):  # type: ignore[misc]  # Reflex types BaseHTML as Any
    tag = "form"

    action: rx.Var[str]
    method: rx.Var[str]


native_form = NativeForm.create
