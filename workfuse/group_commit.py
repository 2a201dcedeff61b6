"""Group commit: concurrent callers' rows written by one statement, one transaction.

A caller of :meth:`GroupCommit.submit` queues its item and waits. When no write is in
progress, it becomes the leader: it writes every queued item (at most ``max_batch``)
with one call of ``write``, hands each caller its result, and passes the lead to the
first caller that queued meanwhile. Items queue only while a write is in progress, so
a lone caller writes at once (a batch of one, no added wait) and under load each
commit carries the rows of every caller that arrived during the previous one: fewer
round trips, transactions and lock handovers per row.

``write`` returns, per item, its result or the exception its caller gets (an item
that fails on its own fails only its caller); if ``write`` raises, every caller of
that batch gets that exception.

Limits: the leader's own call returns after its batch is written (never later: it
writes one batch, then hands over). Threads only (blocking waits); not for an event
loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(eq=False)
class _Ticket(Generic[T, R]):
    item: T
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Batches :meth:`submit` calls from threads into calls of ``write``, which gets the
    items in the order they queued and returns one result (or exception) per item, in
    that order."""

    def __init__(
        self, write: Callable[[Sequence[T]], Sequence[R | BaseException]], *, max_batch: int
    ) -> None:
        self._write = write
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Ticket[T, R]] = []
        self._writing = False

    def submit(self, item: T) -> R:
        """Write ``item`` (with whatever else is queued) and return its result."""
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._lock:
            self._queue.append(ticket)
            leading = not self._writing
            self._writing = True
        if not leading:
            ticket.woken.wait()  # done, or handed the lead
        if not ticket.done:
            self._write_one_batch()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result  # type: ignore[return-value]

    def _write_one_batch(self) -> None:
        with self._lock:
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
        try:
            results = self._write([ticket.item for ticket in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} items")
        except BaseException as error:
            for ticket in batch:
                ticket.error = error
        else:
            for ticket, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    ticket.error = result
                else:
                    ticket.result = result
        with self._lock:
            successor = self._queue[0] if self._queue else None
            self._writing = successor is not None
        for ticket in batch:
            ticket.done = True
            ticket.woken.set()
        if successor is not None:
            successor.woken.set()  # not done: it leads the next batch
