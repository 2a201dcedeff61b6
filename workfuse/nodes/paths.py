"""Dotted config paths (``auth.secretArn``, ``conditions.field``) over raw config JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def config_values(config: Any, path: str) -> Iterator[Any]:
    """Every value at the camelCase dotted ``path`` of a raw config; a list on the way
    is walked item by item, and a missing key yields nothing."""
    yield from _walk(config, path.split("."))


def _walk(value: Any, keys: list[str]) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _walk(item, keys)
    elif not keys:
        yield value
    elif isinstance(value, dict) and keys[0] in value:
        yield from _walk(value[keys[0]], keys[1:])
