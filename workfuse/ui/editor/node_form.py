"""The side panel's form of one node: read from a node's JSON, edits written back.

The browser sees flat text fields (:class:`NodeForm`); :func:`apply_edit` turns one
edited field into a new node dict. A number that does not parse is stored as typed,
so graph validation reports it on that field (the user sees why, nothing is lost).
JSON fields keep the text as typed in ``texts`` (keyed ``"<node id>:<field>"``), so
the editor never reformats what the user is typing.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from workfuse.nodes.registry import REGISTRY

HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
AUTH_TYPES = ["none", "bearer", "basic", "apiKey"]
HMAC_ALGORITHMS = ["sha256", "sha1", "sha512"]
LANGUAGES = ["jsonata", "javascript"]
OPERATORS = ["eq", "ne", "gt", "lt", "contains", "matches"]
AI_PROVIDERS = ["openai", "anthropic", "gemini", "openai-compatible"]
TRIGGER_SOURCES = ["webhook", "manual"]

Kind = Literal["text", "optional_text", "int", "float", "bool", "json_any", "json_object"]


class FormError(ValueError):
    """An edit that cannot be stored (JSON that does not parse where an object is needed)."""


@dataclass
class KeyValueRow:
    key: str = ""
    value: str = ""


@dataclass
class RuleRow:
    field: str = ""
    operator: str = "eq"
    value: str = ""
    branch: str = ""


@dataclass
class NodeForm:
    """Every field the panel can show; the panel shows the ones of ``type``."""

    id: str = ""
    type: str = ""
    type_label: str = ""
    label: str = ""
    retry_enabled: bool = False
    retry_max_attempts: str = ""
    retry_initial_delay_ms: str = ""
    retry_backoff_multiplier: str = ""
    # trigger
    source: str = "webhook"
    methods: list[str] = field(default_factory=list)
    sample_payload: str = ""
    idempotency_header: str = ""
    sync_timeout_seconds: str = ""
    hmac_enabled: bool = False
    hmac_header: str = ""
    hmac_algorithm: str = "sha256"
    hmac_secret_arn: str = ""
    hmac_timestamp_header: str = ""
    hmac_tolerance_seconds: str = ""
    # http
    method: str = "GET"
    url: str = ""
    headers: list[KeyValueRow] = field(default_factory=list)
    body: str = ""
    auth_type: str = "none"
    auth_secret_arn: str = ""
    auth_header_name: str = ""
    timeout: str = ""
    # transform
    language: str = "jsonata"
    code: str = ""
    # condition
    rules: list[RuleRow] = field(default_factory=list)
    default_branch: str = ""
    # ai
    provider: str = "openai"
    model: str = ""
    prompt: str = ""
    system_prompt: str = ""
    temperature: str = ""
    max_tokens: str = ""
    stream: bool = False
    secret_arn: str = ""
    base_url: str = ""


#: Form field -> (path inside the node's ``data``, kind). Paths are camelCase JSON keys.
SCALAR_FIELDS: dict[str, tuple[tuple[str, ...], Kind]] = {
    "label": (("label",), "text"),
    "retry_max_attempts": (("retryPolicy", "maxAttempts"), "int"),
    "retry_initial_delay_ms": (("retryPolicy", "initialDelayMs"), "int"),
    "retry_backoff_multiplier": (("retryPolicy", "backoffMultiplier"), "float"),
    "source": (("config", "source"), "text"),
    "sample_payload": (("config", "samplePayload"), "json_object"),
    "idempotency_header": (("config", "idempotencyHeader"), "optional_text"),
    "sync_timeout_seconds": (("config", "syncTimeoutSeconds"), "int"),
    "hmac_header": (("config", "hmac", "header"), "text"),
    "hmac_algorithm": (("config", "hmac", "algorithm"), "text"),
    "hmac_secret_arn": (("config", "hmac", "secretArn"), "text"),
    "hmac_timestamp_header": (("config", "hmac", "timestampHeader"), "optional_text"),
    "hmac_tolerance_seconds": (("config", "hmac", "toleranceSeconds"), "int"),
    "method": (("config", "method"), "text"),
    "url": (("config", "url"), "text"),
    "body": (("config", "body"), "json_any"),
    "auth_secret_arn": (("config", "auth", "secretArn"), "text"),
    "auth_header_name": (("config", "auth", "headerName"), "optional_text"),
    "timeout": (("config", "timeout"), "int"),
    "language": (("config", "language"), "text"),
    "code": (("config", "code"), "text"),
    "default_branch": (("config", "defaultBranch"), "text"),
    "provider": (("config", "provider"), "text"),
    "model": (("config", "model"), "text"),
    "prompt": (("config", "prompt"), "text"),
    "system_prompt": (("config", "systemPrompt"), "optional_text"),
    "temperature": (("config", "temperature"), "float"),
    "max_tokens": (("config", "maxTokens"), "int"),
    "stream": (("config", "stream"), "bool"),
    "secret_arn": (("config", "secretArn"), "optional_text"),
    "base_url": (("config", "baseUrl"), "optional_text"),
}
JSON_FIELDS = frozenset(
    name for name, (_, kind) in SCALAR_FIELDS.items() if kind.startswith("json")
)
#: Fields shown back exactly as typed (JSON, numbers): ``1.`` must not turn into ``1.0``.
TYPED_FIELDS = JSON_FIELDS | {
    name for name, (_, kind) in SCALAR_FIELDS.items() if kind in ("int", "float")
}
DEFAULT_RETRY = {"maxAttempts": 3, "initialDelayMs": 1000, "backoffMultiplier": 2.0}
DEFAULT_HMAC = {"header": "X-Signature-256", "algorithm": "sha256", "secretArn": ""}


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    current: Any = data
    for key in path:
        if not isinstance(current, dict):
            return None
        current = current.get(key)
    return current


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Set (or, for ``None``, remove) ``path``, creating dicts on the way."""
    current = data
    for key in path[:-1]:
        child = current.get(key)
        if not isinstance(child, dict):
            child = current[key] = {}
        current = child
    if value is None:
        current.pop(path[-1], None)
    else:
        current[path[-1]] = value


def _text(value: Any) -> str:
    """How a stored value shows in a text field."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, indent=2, ensure_ascii=False)


def _json_text(value: Any) -> str:
    return "" if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def _number(text: str, kind: Kind) -> Any:
    """``""`` -> None; a number -> int/float; anything else stays text (validation says why)."""
    stripped = text.strip()
    if not stripped:
        return None
    try:
        return int(stripped) if kind == "int" else float(stripped)
    except ValueError:
        return text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_loose(text: str) -> Any:
    """A condition value or HTTP body: JSON when it parses (``200``, ``true``, ``{..}``),
    else the text itself; ``""`` is None. ``NaN``/``Infinity`` (not JSON) stay text."""
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
    return _text(value)


def _converted(name: str, kind: Kind, value: Any) -> Any:
    if kind == "bool":
        return bool(value)
    text = str(value)
    if kind == "text":
        return text
    if kind == "optional_text":
        return text or None
    if kind in ("int", "float"):
        return _number(text, kind)
    if kind == "json_any":
        return parse_loose(text)
    if not text.strip():
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        raise FormError(f"not valid JSON: {error.msg} (line {error.lineno})") from None
    if not isinstance(parsed, dict):
        raise FormError('must be a JSON object, like {"key": "value"}')
    return parsed


def build_form(node: dict[str, Any], texts: dict[str, str]) -> NodeForm:
    """The panel's view of ``node``; ``texts`` holds JSON fields as the user typed them."""
    data = node.get("data") or {}
    config = data.get("config") or {}
    node_type = str(node.get("type", ""))
    spec_label = REGISTRY.get(node_type).label if node_type in REGISTRY else node_type
    form = NodeForm(id=str(node.get("id", "")), type=node_type, type_label=spec_label)
    for name, (path, kind) in SCALAR_FIELDS.items():
        value = _get(data, path)
        typed = texts.get(f"{form.id}:{name}")
        if typed is not None and name in TYPED_FIELDS:
            setattr(form, name, typed)
        elif value is None:
            continue  # the form's default shows what the config model's default means
        elif kind == "bool":
            setattr(form, name, bool(value))
        elif name == "body":
            setattr(form, name, loose_text(value) if isinstance(value, str) else _json_text(value))
        elif name in JSON_FIELDS:
            setattr(form, name, _json_text(value))
        else:
            setattr(form, name, _text(value))
    form.retry_enabled = isinstance(data.get("retryPolicy"), dict)
    form.hmac_enabled = isinstance(config.get("hmac"), dict)
    auth = config.get("auth")
    form.auth_type = str(auth.get("type", "bearer")) if isinstance(auth, dict) else "none"
    methods = config.get("methods")
    form.methods = [str(m) for m in methods] if isinstance(methods, list) else ["POST"]
    headers = config.get("headers")
    if isinstance(headers, dict):
        form.headers = [KeyValueRow(str(key), _text(value)) for key, value in headers.items()]
    rules = config.get("conditions")
    if isinstance(rules, list):
        form.rules = [
            RuleRow(
                field=_text(rule.get("field")),
                operator=str(rule.get("operator", "eq")),
                value=loose_text(rule.get("value")),
                branch=str(rule.get("branch", "")),
            )
            for rule in rules
            if isinstance(rule, dict)
        ]
    return form


def apply_edit(node: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """A copy of ``node`` with form field ``name`` set to ``value``.

    Raises :class:`FormError` for a JSON object field that does not parse, and
    ``KeyError`` for a field the form does not have.
    """
    updated = copy.deepcopy(node)
    data = updated.setdefault("data", {})
    data.setdefault("config", {})
    if name == "retry_enabled":
        if value:
            data["retryPolicy"] = dict(DEFAULT_RETRY)
        else:
            data.pop("retryPolicy", None)
        return updated
    if name == "hmac_enabled":
        _set(data, ("config", "hmac"), dict(DEFAULT_HMAC) if value else None)
        return updated
    if name == "auth_type":
        auth = data["config"].get("auth")
        if value == "none":
            data["config"].pop("auth", None)
        else:
            kept = auth if isinstance(auth, dict) else {"secretArn": ""}
            data["config"]["auth"] = {**kept, "type": value}
        return updated
    path, kind = SCALAR_FIELDS[name]
    _set(data, path, _converted(name, kind, value))
    return updated


def toggle_method(node: dict[str, Any], method: str, on: bool) -> dict[str, Any]:
    """A trigger node with ``method`` added to or removed from its accepted methods."""
    updated = copy.deepcopy(node)
    config = updated.setdefault("data", {}).setdefault("config", {})
    current = config.get("methods")
    methods = [m for m in (current if isinstance(current, list) else ["POST"]) if m != method]
    if on:
        methods.append(method)
    config["methods"] = [m for m in HTTP_METHODS if m in methods]
    return updated


def edit_header(node: dict[str, Any], index: int, part: str, text: str) -> dict[str, Any]:
    """Rename (``part="key"``) or set (``part="value"``) the ``index``-th header row.

    Renaming a row to a name another row has raises :class:`FormError` (headers are a
    mapping: the rows would merge and one value would be lost).
    """
    rows = build_form(node, {}).headers
    if not 0 <= index < len(rows):
        return node
    if part == "key" and any(
        i != index and row.key.lower() == text.lower() for i, row in enumerate(rows)
    ):
        raise FormError(f"the header {text!r} is already set above")
    setattr(rows[index], part, text)
    return _with_headers(node, rows)


def add_header(node: dict[str, Any]) -> dict[str, Any]:
    rows = build_form(node, {}).headers
    if any(not row.key for row in rows):
        return node  # one empty row at a time: fill it in first
    return _with_headers(node, [*rows, KeyValueRow()])


def remove_header(node: dict[str, Any], index: int) -> dict[str, Any]:
    rows = build_form(node, {}).headers
    return _with_headers(node, [row for i, row in enumerate(rows) if i != index])


def _with_headers(node: dict[str, Any], rows: list[KeyValueRow]) -> dict[str, Any]:
    updated = copy.deepcopy(node)
    config = updated.setdefault("data", {}).setdefault("config", {})
    headers = {row.key: row.value for row in rows}
    if headers:
        config["headers"] = headers
    else:
        config.pop("headers", None)
    return updated


def edit_rule(node: dict[str, Any], index: int, part: str, text: str) -> dict[str, Any]:
    """Set one part (field, operator, value, branch) of the ``index``-th condition rule."""
    updated = copy.deepcopy(node)
    rules = _rules(updated)
    if 0 <= index < len(rules) and part in ("field", "operator", "value", "branch"):
        rules[index][part] = parse_loose(text) if part == "value" else text
    return updated


def add_rule(node: dict[str, Any]) -> dict[str, Any]:
    updated = copy.deepcopy(node)
    rules = _rules(updated)
    taken = {rule.get("branch") for rule in rules if isinstance(rule, dict)}
    taken.add(updated["data"]["config"].get("defaultBranch") or "default")
    number = len(rules) + 1
    while f"branch{number}" in taken:
        number += 1
    rules.append({"field": "", "operator": "eq", "value": "", "branch": f"branch{number}"})
    return updated


def remove_rule(node: dict[str, Any], index: int) -> dict[str, Any]:
    updated = copy.deepcopy(node)
    rules = _rules(updated)
    if 0 <= index < len(rules):
        del rules[index]
    return updated


def _rules(node: dict[str, Any]) -> list[dict[str, Any]]:
    config = node.setdefault("data", {}).setdefault("config", {})
    rules = config.get("conditions")
    if not isinstance(rules, list):
        rules = config["conditions"] = []
    return rules
