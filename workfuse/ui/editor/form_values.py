"""How a config value shows in a form field as text, and how typed text is stored.

One pair of functions per kind of text: :func:`shown_text` and :func:`parsed_text`
are inverse for every value the form itself writes. A number that does not parse
is stored as typed, so graph validation reports it on its field (the user sees why,
nothing typed is lost); JSON that does not parse where an object is needed raises
:class:`FormError` (the node keeps its value, the form shows the text as typed).
"""

from __future__ import annotations

import json
from typing import Any

from workfuse.ui.editor.form_schema import FieldSpec

#: The option of an optional ``select`` that removes its value (Radix selects cannot
#: hold an empty value).
NONE_OPTION = "(none)"
#: Widgets edited as one line or box of text, stored as the text itself.
TEXT_WIDGETS = frozenset({"text", "multiline", "code", "credential", "select"})


class FormError(ValueError):
    """An edit that cannot be stored (JSON that does not parse where an object is needed,
    a header name given twice)."""


def plain_text(value: Any) -> str:
    """How a stored value shows in a text field: strings as they are, numbers and
    booleans as JSON literals, anything else as indented JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_loose(text: str) -> Any:
    """A ``loose`` field (an HTTP body, a condition's value): JSON when it parses
    (``200``, ``true``, ``{..}``), else the text itself; ``""`` is None.
    ``NaN``/``Infinity`` (not JSON) stay text."""
    if not text.strip():
        return None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        return text


def loose_text(value: Any) -> str:
    """How :func:`parse_loose` values show: a string that would parse as something else
    (``"200"``, ``"true"``) keeps its quotes, so editing it again keeps it a string."""
    if isinstance(value, str) and value and parse_loose(value) != value:
        return json.dumps(value)
    return plain_text(value)


def parse_number(text: str, kind: str) -> Any:
    """``""`` -> None; a number -> int (``kind="int"``) or float; anything else stays
    the text as typed (validation says why)."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return int(stripped) if kind == "int" else float(stripped)
    except ValueError:
        return text


def parse_json(text: str, json_type: str) -> Any:
    """JSON text -> its value (``""`` -> None); :class:`FormError` if it does not parse,
    or is not an object where the schema wants one."""
    if not text.strip():
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormError(f"not valid JSON: {error.msg} (line {error.lineno})") from None
    if json_type == "object" and not isinstance(parsed, dict):
        raise FormError('must be a JSON object, like {"key": "value"}')
    return parsed


def shown_text(field: FieldSpec, value: Any, present: bool) -> str:
    """The text a scalar field shows for its stored ``value`` (``present``: the config
    has the property at all; an absent select shows its default)."""
    if field.widget == "select":
        if present and value is not None:
            return plain_text(value)
        if field.default is not None:
            return plain_text(field.default)
        return NONE_OPTION if field.optional else ""
    if not present or value is None:
        return ""
    if field.widget == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    if field.widget == "loose":
        return loose_text(value)
    return plain_text(value)


def parsed_text(field: FieldSpec, text: str) -> Any:
    """What typed ``text`` stores in a scalar field; ``None`` removes the property.

    Empty text removes an optional field or one with a default (the default then
    applies) and is stored as ``""`` in a required text field (validation reports it).
    Raises :class:`FormError` for JSON that cannot be stored.
    """
    if field.widget == "number":
        return parse_number(text, field.number)
    if field.widget == "json":
        return parse_json(text, field.json_type)
    if field.widget == "loose":
        return parse_loose(text)
    if text == NONE_OPTION and field.widget == "select" and field.optional:
        return None
    if text == "" and (field.optional or field.default is not None):
        return None
    return text
