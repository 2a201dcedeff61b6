"""Config and output JSON Schemas as flat field lists (docs, CLI)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from workfuse.nodes.base import NodeConfigModel
from workfuse.nodes.hints import ui
from workfuse.nodes.schema import fields


class Inner(NodeConfigModel):
    kind: Literal["a", "b"]
    secret_arn: str = Field(min_length=1, json_schema_extra=ui(widget="credential"))


class Row(NodeConfigModel):
    name: str = Field(max_length=10)


class Sample(NodeConfigModel):
    url: str = Field(min_length=1, max_length=100, description="Where to go.")
    count: int | None = Field(default=None, ge=1, le=5)
    ratio: float = Field(default=0.5, ge=0)
    flags: list[Literal["x", "y"]] = Field(default_factory=list, min_length=1)
    inner: Inner | None = None
    rows: list[Row] = Field(default_factory=list, max_length=3)
    headers: dict[str, str] | None = None
    anything: Any = None
    on: bool = False


def by_path(model: type[BaseModel]) -> dict[str, Any]:
    return {item.path: item for item in fields(model.model_json_schema(by_alias=True))}


def test_every_field_gets_its_type_in_words_with_bounds() -> None:
    found = by_path(Sample)

    assert found["url"].type == "text 1 to 100 characters"
    assert found["url"].required and found["url"].description == "Where to go."
    assert found["count"].type == "integer 1 to 5 or null"
    assert found["count"].default == "null" and not found["count"].required
    assert found["ratio"].type == "number, at least 0" and found["ratio"].default == "0.5"
    assert found["flags"].type == 'list of ("x" | "y"), at least 1 item'
    assert found["headers"].type == "object of text or null"
    assert found["anything"].type == "any JSON"
    assert found["on"].type == "boolean"


def test_nested_objects_and_list_items_get_dotted_paths() -> None:
    found = by_path(Sample)

    assert found["inner"].type == "object or null"
    assert found["inner.kind"].type == '"a" | "b"' and found["inner.kind"].required
    assert found["inner.secretArn"].hints == {"widget": "credential"}
    assert found["rows"].type == "list of object, at most 3 items"
    assert found["rows[].name"].type == "text, at most 10 characters"
    assert list(found) == [
        "url",
        "count",
        "ratio",
        "flags",
        "inner",
        "inner.kind",
        "inner.secretArn",
        "rows",
        "rows[].name",
        "headers",
        "anything",
        "on",
    ]
