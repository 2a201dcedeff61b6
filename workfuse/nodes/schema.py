"""A node type's config and output JSON Schemas as flat field lists (for docs and the CLI).

``fields(schema)`` walks a pydantic JSON Schema (``$ref``s resolved against its
``$defs``) and lists every field with its dotted path: nested objects give
``auth.type``, list items ``conditions[].branch``. Each field says its type in words
(``"GET" | "POST"``, ``integer 1 to 300000``, ``list of object``), whether it is
required, its default, its description and its UI hints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 8  #: nesting levels walked (config models are shallow; this stops a cycle)


@dataclass(frozen=True)
class SchemaField:
    path: str
    type: str
    required: bool
    default: str | None = None
    description: str = ""
    hints: dict[str, Any] = field(default_factory=dict)


def fields(schema: dict[str, Any]) -> list[SchemaField]:
    """Every field of an object schema, depth first, in declaration order."""
    found: list[SchemaField] = []
    _walk(schema, schema.get("$defs", {}), "", found, 0)
    return found


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        resolved: dict[str, Any] = defs.get(ref.removeprefix("#/$defs/"), {})
        return {**resolved, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _without_null(node: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The schema with ``null`` taken out of an ``anyOf`` (and whether it was there)."""
    options = node.get("anyOf")
    if not isinstance(options, list):
        return _resolve(node, defs), False
    rest = [option for option in options if option.get("type") != "null"]
    nullable = len(rest) < len(options)
    if len(rest) == 1:
        merged = {**node, **_resolve(rest[0], defs)}
        merged.pop("anyOf", None)
        return merged, nullable
    return node, nullable


def _walk(
    schema: dict[str, Any], defs: dict[str, Any], prefix: str, found: list[SchemaField], depth: int
) -> None:
    if depth > MAX_DEPTH:
        return
    schema = _resolve(schema, defs)
    required = set(schema.get("required", []))
    for name, raw in schema.get("properties", {}).items():
        node, nullable = _without_null(raw, defs)
        path = f"{prefix}{name}"
        default = json.dumps(raw["default"]) if "default" in raw else None
        found.append(
            SchemaField(
                path=path,
                type=type_text(node, defs) + (" or null" if nullable else ""),
                required=name in required,
                default=default,
                description=str(raw.get("description") or node.get("description") or ""),
                hints=dict(raw.get("ui") or {}),
            )
        )
        if node.get("type") == "object" and "properties" in node:
            _walk(node, defs, f"{path}.", found, depth + 1)
        items = _resolve(node.get("items") or {}, defs)
        if node.get("type") == "array" and "properties" in items:
            _walk(items, defs, f"{path}[].", found, depth + 1)


def type_text(node: dict[str, Any], defs: dict[str, Any]) -> str:
    """A schema's type in words, with its bounds."""
    node = _resolve(node, defs)
    if "enum" in node:
        return " | ".join(json.dumps(value) for value in node["enum"])
    if "const" in node:
        return json.dumps(node["const"])
    if "anyOf" in node:
        return " or ".join(type_text(option, defs) for option in node["anyOf"])
    kind = node.get("type")
    if kind in ("integer", "number"):
        return str(kind) + _bounds(node, "minimum", "maximum")
    if kind == "string":
        return "text" + _bounds(node, "minLength", "maxLength", unit=" characters")
    if kind == "array":
        items = node.get("items")
        inner = type_text(items, defs) if isinstance(items, dict) and items else "any"
        inner = f"({inner})" if " | " in inner or " or " in inner else inner
        return f"list of {inner}" + _bounds(node, "minItems", "maxItems", unit=" items")
    if kind == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"object of {type_text(extra, defs)}"
        return "object"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    return "any JSON"


def _bounds(node: dict[str, Any], low: str, high: str, unit: str = "") -> str:
    lower, upper = node.get(low), node.get(high)
    if unit and (upper if upper is not None else lower) == 1:
        unit = unit.removesuffix("s")  # "at least 1 item"
    if lower is not None and upper is not None:
        return f" {lower} to {upper}{unit}"
    if lower is not None:
        return f", at least {lower}{unit}"
    if upper is not None:
        return f", at most {upper}{unit}"
    return ""
