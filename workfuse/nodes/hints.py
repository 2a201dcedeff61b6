"""UI hints on config fields: how the editor's generated form shows each field.

A config model field carries its hints in its JSON Schema under ``ui``::

    url: str = Field(json_schema_extra=ui(widget="text", template=True,
                                          placeholder="https://api.example.com"))

The form generator reads the model's JSON Schema (``NodeSpec.config_schema()``): the
field's title, ``description`` (shown as help), type, enum and bounds, plus these
hints. A field without hints gets the widget its type implies (text for a string,
number for an int or float, switch for a bool, select for a ``Literal``, JSON for
anything else).
"""

from __future__ import annotations

from typing import Any, Literal

#: How a field is edited.
#:
#: - ``text``: one line; ``multiline``: a text area; ``code``: a code editor in
#:   ``language`` (or in the language named by the field ``language_field``).
#: - ``number``: an int or float, with ``unit`` shown after it.
#: - ``switch``: a bool; ``select``: one of the enum; ``checkboxes``: several of it.
#: - ``credential``: a picker of the user's credentials of ``credential_type``.
#: - ``keyvalue``: a mapping of text to text (HTTP headers), as rows.
#: - ``json``: any JSON value (an object, list or literal) typed as JSON text;
#:   ``loose`` also accepts bare text, kept as a string when it does not parse.
#: - ``group``: an optional nested object, switched on and off as a whole.
#: - ``list``: a list of nested objects, as rows to add and remove.
Widget = Literal[
    "text",
    "multiline",
    "code",
    "number",
    "switch",
    "select",
    "checkboxes",
    "credential",
    "keyvalue",
    "json",
    "loose",
    "group",
    "list",
]


def ui(
    *,
    widget: Widget | None = None,
    label: str | None = None,
    placeholder: str | None = None,
    help: str | None = None,
    template: bool = False,
    advanced: bool = False,
    language: str | None = None,
    language_field: str | None = None,
    credential_type: str | None = None,
    unit: str | None = None,
    rows: int | None = None,
    show_if: dict[str, list[str]] | None = None,
    item_label: str | None = None,
    user_default: str | None = None,
) -> dict[str, Any]:
    """The ``json_schema_extra`` of a config field: ``{"ui": {...}}``.

    - ``label`` overrides the title derived from the field name; ``help`` adds to
      the field's ``description``; ``placeholder`` shows in an empty input.
    - ``template``: the field accepts ``{{ templates }}`` (the form says so; the
      node's ``template_fields`` is what renders them).
    - ``advanced``: shown under "More options", collapsed.
    - ``show_if``: shown only while each named sibling field holds one of the values
      (``{"type": ["apiKey"]}``).
    - ``item_label``: a ``list`` row's caption ("Rule", "Header").
    - ``user_default``: a new node starts with the user's own default for this field
      (``ai.provider``, ``ai.model``: Settings).
    """
    hints: dict[str, Any] = {
        "widget": widget,
        "label": label,
        "placeholder": placeholder,
        "help": help,
        "template": template or None,
        "advanced": advanced or None,
        "language": language,
        "languageField": language_field,
        "credentialType": credential_type,
        "unit": unit,
        "rows": rows,
        "showIf": show_if,
        "itemLabel": item_label,
        "userDefault": user_default,
    }
    return {"ui": {key: value for key, value in hints.items() if value is not None}}
