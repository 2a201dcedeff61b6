"""The node reference, generated from the registry: ``docs/nodes.md`` and ``workfuse nodes``.

:func:`markdown` renders the reference page (one section per node type, anchored by
its type name); :func:`describe` is one type as JSON (``workfuse nodes show --json``).
Both read only what the specs declare, so the docs cannot drift from the code: a test
compares the committed page with :func:`markdown` of the built-in types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from workfuse.nodes.base import CATEGORIES, CATEGORY_LABELS, NodeSpec
from workfuse.nodes.schema import SchemaField, fields

HEADER = """\
# Node reference

Generated from the node registry by `workfuse nodes docs > docs/nodes.md`; do not edit
by hand (a test fails when this page differs from what the registry generates). How to
add a node type: see "Adding a node type" in the README.
"""


def describe(spec: NodeSpec) -> dict[str, Any]:
    """Everything a node type declares, as JSON: identity, schemas, outputs, examples."""
    return {
        "type": spec.type,
        "version": spec.version,
        "label": spec.label,
        "description": spec.description,
        "category": spec.category,
        "icon": spec.icon,
        "colour": spec.colour,
        "docs": spec.docs,
        "docsLink": spec.docs_link,
        "trigger": spec.trigger,
        "sideEffects": spec.side_effects,
        "inputs": spec.inputs,
        "outputs": _outputs_text(spec),
        "templateFields": list(spec.template_fields),
        "credentials": [
            {"path": use.path, "credentialType": use.credential_type, "atRun": use.at_run}
            for use in spec.credentials
        ],
        "defaultConfig": dict(spec.default_config),
        "configSchema": spec.config_schema(),
        "outputSchema": spec.output_schema(),
        "examples": [{"request": example.request, **example.node()} for example in spec.examples],
    }


def _outputs_text(spec: NodeSpec) -> list[str] | str:
    if spec.handles_of is not None:
        return "derived from the config"
    return list(spec.outputs)


def markdown(specs: Iterable[NodeSpec]) -> str:
    """The reference page for ``specs``, grouped by category."""
    ordered = sorted(specs, key=lambda spec: CATEGORIES.index(spec.category))
    lines = [HEADER]
    lines.append("| type | node | category | what it does |")
    lines.append("|---|---|---|---|")
    for spec in ordered:
        lines.append(
            f"| [`{spec.type}`](#{spec.type}) | {spec.label} | "
            f"{CATEGORY_LABELS[spec.category]} | {spec.description} |"
        )
    for spec in ordered:
        lines.append("")
        lines.extend(_section(spec))
    return "\n".join(lines) + "\n"


def _section(spec: NodeSpec) -> list[str]:
    facts = [
        f"category: {CATEGORY_LABELS[spec.category]}",
        f"version {spec.version}",
        "starts a run" if spec.trigger else "",
        "side effects: checkpointed, retry policy allowed" if spec.side_effects else "",
    ]
    lines = [
        f'<a id="{spec.type}"></a>',
        "",
        f"## {spec.label} (`{spec.type}`)",
        "",
        f"{spec.description} ({'; '.join(fact for fact in facts if fact)})",
        "",
        spec.docs.strip(),
        "",
        "### Config",
        "",
        *_field_table(fields(spec.config_schema()), with_default=True),
        "",
    ]
    if spec.template_fields:
        templated = ", ".join(f"`{path}`" for path in spec.template_fields)
        lines += [f"Templates are rendered in: {templated}.", ""]
    if spec.credentials:
        used = ", ".join(
            f"`{use.path}` (credential type: {use.credential_type}"
            f"{'' if use.at_run else '; read where the run starts, not by the run'})"
            for use in spec.credentials
        )
        lines += [f"Credentials (by reference, never the value): {used}.", ""]
    outputs = _outputs_text(spec)
    handles = (
        "one per branch, from the config"
        if isinstance(outputs, str)
        else ", ".join(f"`{handle}`" for handle in outputs)
    )
    lines += [
        "### Output",
        "",
        f"Output handles: {handles}. Later nodes read the output as "
        f"`{{{{ nodes.<node id>.<field> }}}}`:",
        "",
        *_field_table(fields(spec.output_schema()), with_default=False),
        "",
        "### Examples",
    ]
    for example in spec.examples:
        lines += [
            "",
            f"> {example.request}",
            "",
            "```json",
            json.dumps(example.node(), indent=2, ensure_ascii=False),
            "```",
        ]
    return lines


def _field_table(found: list[SchemaField], *, with_default: bool) -> list[str]:
    if with_default:
        rows = ["| field | type | required | default | notes |", "|---|---|---|---|---|"]
    else:
        rows = ["| field | type | notes |", "|---|---|---|"]
    for item in found:
        unit = item.hints.get("unit")
        notes = _cell(
            "; ".join(part for part in (f"in {unit}" if unit else "", item.description) if part)
        )
        if with_default:
            default = f"`{item.default}`" if item.default not in (None, "null") else ""
            required = "yes" if item.required else ""
            rows.append(
                f"| `{item.path}` | {_cell(item.type)} | {required} | {_cell(default)} | {notes} |"
            )
        else:
            rows.append(f"| `{item.path}` | {_cell(item.type)} | {notes} |")
    return rows


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return " ".join(text.split()).replace("|", "\\|")
