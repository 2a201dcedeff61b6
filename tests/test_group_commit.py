"""Group commit: callers that queue during a write share the next one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from workfuse.group_commit import GroupCommit

WAIT_S = 10  #: seconds a test waits for a thread before it fails


class GatedWriter:
    """A ``write`` that records each batch and blocks until the test opens its gate."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.entered = threading.Semaphore(0)
        self.gates: list[threading.Event] = []
        self.fail_on = fail_on
        self._lock = threading.Lock()

    def __call__(self, items: Sequence[str]) -> list[str]:
        gate = threading.Event()
        with self._lock:
            self.batches.append(list(items))
            self.gates.append(gate)
        self.entered.release()
        assert gate.wait(WAIT_S), "the test never opened the gate"
        if self.fail_on in items:
            raise ConnectionError("the database went away")
        return [item.upper() for item in items]

    def wait_for_batch(self) -> None:
        assert self.entered.acquire(timeout=WAIT_S), "no batch was written"

    def open(self, batch: int) -> None:
        self.gates[batch].set()


def queue_behind_a_write(
    writer: GatedWriter, group: GroupCommit[str, str], pool: ThreadPoolExecutor, items: list[str]
) -> tuple[Future[str], list[Future[str]]]:
    """Start a write of ``"first"`` and, while it is in progress, submit ``items``."""
    first = pool.submit(group.submit, "first")
    writer.wait_for_batch()
    queued: list[Future[str]] = []
    for item in items:  # one at a time, so they queue in this order
        queued.append(pool.submit(group.submit, item))
        wait_until(lambda: len(group._queue) == len(queued))
    return first, queued


def wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(WAIT_S * 1000):
        if condition():
            return
        event.wait(0.001)
    raise AssertionError("timed out")


def test_a_lone_call_is_written_at_once_in_a_batch_of_its_own() -> None:
    batches: list[list[str]] = []

    def write(items: Sequence[str]) -> list[str]:
        batches.append(list(items))
        return list(items)

    group = GroupCommit(write, max_batch=8)

    assert group.submit("a") == "a"
    assert group.submit("b") == "b"

    assert batches == [["a"], ["b"]]


def test_calls_that_arrive_during_a_write_share_the_next_one() -> None:
    writer = GatedWriter()
    group: GroupCommit[str, str] = GroupCommit(writer, max_batch=8)
    with ThreadPoolExecutor(max_workers=6) as pool:
        first, queued = queue_behind_a_write(writer, group, pool, ["b", "c", "d", "e"])

        writer.open(0)
        # The first caller returns once its own batch is written: it does not write
        # the others' (the lead passes to the first of them).
        assert first.result(WAIT_S) == "FIRST"
        writer.wait_for_batch()
        assert not any(future.done() for future in queued)
        writer.open(1)

        assert [future.result(WAIT_S) for future in queued] == ["B", "C", "D", "E"]
    assert writer.batches == [["first"], ["b", "c", "d", "e"]]


def test_a_batch_holds_at_most_max_batch_items_in_the_order_they_queued() -> None:
    writer = GatedWriter()
    group: GroupCommit[str, str] = GroupCommit(writer, max_batch=2)
    with ThreadPoolExecutor(max_workers=6) as pool:
        first, queued = queue_behind_a_write(writer, group, pool, ["b", "c", "d", "e", "f"])
        for batch in range(4):
            writer.open(batch)
            if batch < 3:
                writer.wait_for_batch()

        assert first.result(WAIT_S) == "FIRST"
        assert [future.result(WAIT_S) for future in queued] == ["B", "C", "D", "E", "F"]
    assert writer.batches == [["first"], ["b", "c"], ["d", "e"], ["f"]]


def test_a_failed_write_fails_its_own_callers_and_the_next_batch_is_still_written() -> None:
    writer = GatedWriter(fail_on="first")
    group: GroupCommit[str, str] = GroupCommit(writer, max_batch=8)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first, queued = queue_behind_a_write(writer, group, pool, ["b", "c"])
        writer.open(0)
        with pytest.raises(ConnectionError, match="went away"):
            first.result(WAIT_S)
        writer.wait_for_batch()
        writer.open(1)

        assert [future.result(WAIT_S) for future in queued] == ["B", "C"]
    assert writer.batches == [["first"], ["b", "c"]]


def test_an_item_that_fails_on_its_own_fails_only_its_caller() -> None:
    writer = GatedWriter()

    def write(items: Sequence[str]) -> list[str | BaseException]:
        results = writer(items)
        return [ValueError(f"{item} is refused") if item == "C" else item for item in results]

    group: GroupCommit[str, str] = GroupCommit(write, max_batch=8)
    with ThreadPoolExecutor(max_workers=4) as pool:
        first, queued = queue_behind_a_write(writer, group, pool, ["b", "c", "d"])
        writer.open(0)
        writer.wait_for_batch()
        writer.open(1)

        assert first.result(WAIT_S) == "FIRST"
        assert queued[0].result(WAIT_S) == "B"
        with pytest.raises(ValueError, match="C is refused"):
            queued[1].result(WAIT_S)
        assert queued[2].result(WAIT_S) == "D"
    assert writer.batches == [["first"], ["b", "c", "d"]]


def test_a_write_that_returns_too_few_results_fails_its_callers() -> None:
    group: GroupCommit[str, str] = GroupCommit(lambda items: [], max_batch=8)

    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        group.submit("a")
    # The group is not stuck: the next call writes (and fails the same way) at once.
    with pytest.raises(RuntimeError):
        group.submit("b")


def test_many_threads_each_get_their_own_result() -> None:
    group: GroupCommit[int, int] = GroupCommit(lambda items: [i * 2 for i in items], max_batch=4)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(group.submit, range(500)))

    assert results == [i * 2 for i in range(500)]
