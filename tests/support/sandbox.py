"""Sandbox processes in tests: finding the one running a test's code (to kill it), and
running a corpus case with its outcome and duration."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workfuse.sandbox import SandboxError
from workfuse.sandbox.pool import SandboxPool

BUSY_CPU_S = 0.3  #: CPU seconds a process must have spent to count as running the code


def resident() -> int:
    """Bytes of this process's resident memory (``VmRSS``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BusySandbox:
    """Notes the CPU time of a pool's processes now, to find later the one that runs."""

    def __init__(self, pool: SandboxPool) -> None:
        self.pool = pool
        self.before = {pid: cpu_seconds(pid) for pid in pool.pids}

    def wait(self, within_s: float = 30.0) -> int:
        """The pid of the first process that used :data:`BUSY_CPU_S` since then."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            for pid in self.pool.pids:
                if cpu_seconds(pid) - self.before.get(pid, 0.0) >= BUSY_CPU_S:
                    return pid
            time.sleep(0.02)
        raise AssertionError("no sandbox process ran the code")


#: A call that must succeed at once, per language.
WARM_CALLS = {"javascript": "return 1", "jsonata": "1", "regex": "a"}


@dataclass(frozen=True)
class Outcome:
    """How one call of a corpus case ended: ``ok`` or a failure kind, and when."""

    kind: str
    elapsed_s: float
    message: str = ""


def run_bounded(
    pool: SandboxPool, language: str, code: str, *, timeout_ms: int, subject: str = ""
) -> Outcome:
    """Run ``code`` once in ``pool`` after a warm-up call (so that no process start is
    timed), and say how it ended. For ``regex``, ``code`` is searched in ``subject``."""
    run_once(pool, language, WARM_CALLS[language], 1_000)
    started = time.monotonic()
    try:
        run_once(pool, language, code, timeout_ms, subject)
    except SandboxError as error:
        return Outcome(error.kind, time.monotonic() - started, error.message)
    return Outcome("ok", time.monotonic() - started)


GRACE_S = 1.0  #: seconds past its time limit a corpus case may take to end
GROWTH_BYTES = 50 * 1024 * 1024  #: what the test process may grow by across a case


def assert_bounded(
    pool: SandboxPool,
    language: str,
    code: str,
    allowed: set[str],
    *,
    timeout_ms: int,
    subject: str = "",
) -> None:
    """A corpus case: ``code`` ends with an ``allowed`` outcome within its time limit
    plus :data:`GRACE_S`, this process does not grow with it, and the next call works."""
    before = resident()
    outcome = run_bounded(pool, language, code, timeout_ms=timeout_ms, subject=subject)
    assert outcome.kind in allowed, outcome
    assert outcome.elapsed_s < timeout_ms / 1000 + GRACE_S, outcome
    assert resident() - before < GROWTH_BYTES
    assert run_bounded(pool, language, WARM_CALLS[language], timeout_ms=1_000).kind == "ok"


def run_once(
    pool: SandboxPool, language: str, code: str, timeout_ms: int, subject: str = ""
) -> Any:
    if language == "javascript":
        return pool.run_javascript(code, {}, timeout_ms=timeout_ms).value
    if language == "jsonata":
        return pool.evaluate_jsonata(code, {}, timeout_ms=timeout_ms)
    return asyncio.run(pool.search_regex_async(code, subject, timeout_ms=timeout_ms))
