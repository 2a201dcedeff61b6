"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

#: JSON everywhere, JSONB on PostgreSQL.
JSONType = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

#: Levels of nested arrays and objects a stored JSON value may have. Pydantic
#: serializes at most 255 levels (deeper fails with "Maximum serialization depth
#: exceeded"), and a stored value is served inside a few levels of response models.
MAX_JSON_DEPTH = 128


def json_too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` has more than ``limit`` levels of nested lists, tuples and dicts
    (``[]`` has one). Level by level, without recursion: safe for any depth."""
    level = [value] if isinstance(value, _CONTAINERS) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        children: list[Any] = []
        for item in level:
            members = item.values() if isinstance(item, dict) else item
            children.extend(child for child in members if isinstance(child, _CONTAINERS))
        level = children
    return False


_CONTAINERS = (dict, list, tuple)


_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_LENGTH = 25  #: characters


def _base36(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, rest = divmod(value, 36)
        digits.append(_ID_ALPHABET[rest])
    return "".join(reversed(digits))


def new_id() -> str:
    """A 25-character, collision-resistant id that sorts by creation time.

    ``c`` + 9 base36 digits of the millisecond clock + 15 random base36 digits
    (about 77 bits of randomness), like the seed's cuid.
    """
    millis = time.time_ns() // 1_000_000
    return "c" + _base36(millis, 9) + _base36(secrets.randbits(80), 15)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; SQLite's naive values come back as UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: WorkFuse stores timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
