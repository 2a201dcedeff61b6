"""A small bounded cache for things derived from an immutable saved workflow version
(its execution plan, its validated graph, its trigger config)."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedCache(Generic[K, V]):
    """At most ``maxsize`` entries; when full, the oldest entry goes (FIFO). Safe to share
    between threads (two threads may both compute a missing value; one wins)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> V:
        with self._lock:
            if key not in self._items and len(self._items) >= self.maxsize:
                self._items.pop(next(iter(self._items)))
            self._items[key] = value
        return value

    def discard(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
