"""The worker threads of a sandbox: each owns one event loop and, lazily, one isolate.

A worker runs its sandbox's queued jobs until it is handed ``None``, then closes its
isolate on its own thread (closing one from another thread can crash mini-racer).
After a timeout or out-of-memory the isolate is discarded, and the worker's next job
gets a fresh one.
"""

from __future__ import annotations

import asyncio
import threading
import typing
from collections.abc import Callable
from typing import Any

from workfuse.sandbox.javascript.isolate import _Isolate

if typing.TYPE_CHECKING:
    from workfuse.sandbox.javascript.pool import JavaScriptSandbox


_Job = Callable[["_Worker"], Any]


class _Worker(threading.Thread):
    """A thread owning one event loop and (lazily) one isolate, closed on this thread.

    V8 isolates are created, used and closed on the same worker thread: closing one
    from another thread can crash the process inside mini-racer.
    """

    def __init__(self, sandbox: JavaScriptSandbox, index: int) -> None:
        super().__init__(name=f"workfuse-js-{index}", daemon=True)
        self.sandbox = sandbox
        self.loop: asyncio.AbstractEventLoop | None = None
        self.isolate: _Isolate | None = None

    def run(self) -> None:
        jobs = self.sandbox._jobs
        self.loop = asyncio.new_event_loop()
        try:
            while (job := jobs.get()) is not None:
                function, future = job
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(function(self))
                except BaseException as error:
                    future.set_exception(error)
                del job, function, future
        finally:
            self.discard()
            self.loop.close()

    def current_isolate(self) -> _Isolate:
        if self.isolate is None:
            assert self.loop is not None, "only the worker's own thread makes isolates"
            self.isolate = _Isolate(self.loop, self.sandbox.memory_limit)
            self.sandbox._count_isolate()
        return self.isolate

    def discard(self) -> None:
        """Close the isolate (after a timeout or out-of-memory, or at shutdown).

        If V8 is still inside an uninterruptible built-in this waits for it to end.
        """
        isolate, self.isolate = self.isolate, None
        if isolate is not None:
            isolate.racer.close()
