"""The editor's own React components (``canvas.jsx``, ``code_field.jsx``) for Reflex.

Events reach the backend only when a gesture is complete (a drag ended, an edge was
drawn, items were deleted), never per animation frame.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_base.event import EventHandler, no_args_event_spec, passthrough_event_spec

MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"  #: font of code and JSON
XYFLOW = "@xyflow/react@12.8.2"
SIMPLE_CODE_EDITOR = "react-simple-code-editor@0.14.1"
PRISM = "prismjs@1.30.0"


class WorkflowCanvas(rx.Component):
    """Nodes and edges come from the editor state; see ``canvas.jsx`` for the events."""

    library = rx.asset("canvas.jsx", shared=True).importable_path
    lib_dependencies: list[str] = [XYFLOW]
    tag = "WorkflowCanvas"

    nodes: rx.Var[list[dict[str, Any]]]
    edges: rx.Var[list[dict[str, Any]]]
    dirty: rx.Var[bool]
    read_only: rx.Var[bool]

    on_nodes_moved: EventHandler[passthrough_event_spec(list[dict[str, Any]])]  # type: ignore[type-arg,valid-type]
    on_connect_nodes: EventHandler[passthrough_event_spec(dict[str, Any])]  # type: ignore[type-arg,valid-type]
    on_delete_items: EventHandler[passthrough_event_spec(dict[str, Any])]  # type: ignore[type-arg,valid-type]
    on_select_item: EventHandler[passthrough_event_spec(dict[str, Any])]  # type: ignore[type-arg,valid-type]
    on_drop_node: EventHandler[passthrough_event_spec(dict[str, Any])]  # type: ignore[type-arg,valid-type]
    on_save: EventHandler[no_args_event_spec]  # type: ignore[type-arg,valid-type]


workflow_canvas = WorkflowCanvas.create


class CodeField(rx.Component):
    """A highlighted code box (``code_field.jsx``); sends text 300 ms after typing stops."""

    library = rx.asset("code_field.jsx", shared=True).importable_path
    lib_dependencies: list[str] = [SIMPLE_CODE_EDITOR, PRISM]
    tag = "CodeField"

    value: rx.Var[str]
    language: rx.Var[str]
    name: rx.Var[str]
    min_height: rx.Var[int]

    on_change: EventHandler[passthrough_event_spec(str)]  # type: ignore[type-arg,valid-type]


code_field = CodeField.create
