"""The sandbox pool: user code in processes that run one call each, their life cycle,
their limits, and what a hostile call can (not) do to the calls beside it."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.sandbox import resident
from workfuse.sandbox import MAX_INPUT_BYTES, SandboxError, limits, wire
from workfuse.sandbox import pool as pool_module
from workfuse.sandbox.pool import SandboxPool

INNOCENT_JS = "return trigger.data.n * 2"
INNOCENT_JSONATA = "trigger.data.n * 3"


@pytest.fixture
def pool() -> Iterator[SandboxPool]:
    box = SandboxPool(max_processes=4)
    yield box
    box.shutdown()


def wait_until_gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
            return True
        time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True


def kind_of(call: Any) -> str:
    try:
        call()
    except SandboxError as error:
        return error.kind
    return "ok"


# -- answers ---------------------------------------------------------------------------


def test_every_language_answers_through_the_pool(pool: SandboxPool) -> None:
    # Given code of each language, good and bad
    document = {"trigger": {"data": {"n": 21, "name": "Zoë"}}}

    # When each runs in a sandbox process
    script = pool.run_javascript("console.log('hi', trigger.data.name); return 42", document)
    value = pool.evaluate_jsonata("trigger.data.n * 2", document)
    found = asyncio.run(pool.search_regex_async("b+c", "abbbc", timeout_ms=250))
    with pytest.raises(SandboxError) as thrown:
        pool.run_javascript("const x = 1;\nthrow new TypeError('bad ' + x)", {})
    with pytest.raises(SandboxError) as failed:
        pool.evaluate_jsonata('"a" + 1', {})

    # Then the values, logs (non-ASCII intact) and errors arrive as in-process
    assert (script.value, script.logs) == (42, ["hi Zoë"])
    assert (value, found) == (42, True)
    assert (thrown.value.kind, thrown.value.line) == ("error", 2)
    assert thrown.value.message == "TypeError: bad 1 (line 2, column 7)"
    assert failed.value.kind == "error"
    assert failed.value.message.startswith("T2001: ")
    # And one process served them all, one after the other
    assert pool.processes_started == 1


def test_syntax_checks_of_every_language(pool: SandboxPool) -> None:
    assert pool.check_javascript("return 1") is None
    assert pool.check_javascript("return 1 +;") == (
        "SyntaxError: Unexpected token ';' (line 1, column 11)"
    )
    assert pool.check_jsonata("$sum(nodes.a.b)") is None
    assert "S0207" in (pool.check_jsonata("1 +") or "")
    assert pool.check_regex("^a+$") is None
    assert "invalid regular expression" in (pool.check_regex("(a") or "")


def test_an_input_over_the_limit_is_refused_before_anything_starts() -> None:
    box = SandboxPool()
    try:
        with pytest.raises(SandboxError) as caught:
            box.evaluate_jsonata("1", {"trigger": {"data": "x" * MAX_INPUT_BYTES}})
        assert caught.value.kind == "input_too_large"
        assert box.processes_started == 0
    finally:
        box.shutdown()


# -- hostile calls and their neighbours ------------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "kinds"),
    [
        # V8 may run out of memory before the time limit on a fast machine
        ("javascript", "return Array(1e9).fill(0).length", {"timeout", "memory"}),
        ("javascript", "while (true) {}", {"timeout"}),
        ("jsonata", "$distinct([1..3000000])", {"timeout"}),
        ("jsonata", "$spread([1..100000])", {"timeout"}),
    ],
)
def test_a_call_stuck_past_its_limit_ends_within_a_second_of_it(
    pool: SandboxPool, language: str, code: str, kinds: set[str]
) -> None:
    # Given code that runs (in places V8 or Python cannot interrupt) far past 1 s
    run = pool.run_javascript if language == "javascript" else pool.evaluate_jsonata
    run("return 1" if language == "javascript" else "1", {})  # a warm process

    # When it runs with a limit of 1 s
    started = time.monotonic()
    with pytest.raises(SandboxError) as caught:
        run(code, {}, timeout_ms=1_000)
    elapsed = time.monotonic() - started

    # Then it fails by a limit within its time limit plus one second
    assert caught.value.kind in kinds
    assert elapsed < 2.0


def test_innocent_calls_never_fail_beside_hostile_ones() -> None:
    # Given a pool of 6 and four hostile calls running (time and memory bombs)
    box = SandboxPool(max_processes=6)
    bombs = [
        ("javascript", "return Array(1e9).fill(0).length"),
        ("javascript", "const a = []; while (true) a.push(new Uint8Array(1 << 24).fill(1))"),
        ("jsonata", "$count([[1..10000000], [1..10000000]])"),
        ("jsonata", "$distinct([1..3000000])"),
    ]

    def bomb(language: str, code: str) -> str:
        run = box.run_javascript if language == "javascript" else box.evaluate_jsonata
        return kind_of(lambda: run(code, {}, timeout_ms=1_500))

    def innocent(n: int) -> Any:
        document = {"trigger": {"data": {"n": n}}}
        if n % 2:
            return box.run_javascript(INNOCENT_JS, document).value
        return box.evaluate_jsonata(INNOCENT_JSONATA, document)

    try:
        box.run_javascript("return 1", {})
        with ThreadPoolExecutor(max_workers=6) as threads:
            hostile = [threads.submit(bomb, *pair) for pair in bombs]
            time.sleep(0.2)
            # When 60 innocent calls of both languages run meanwhile, two at a time
            results = [
                result
                for batch in range(30)
                for result in threads.map(innocent, (2 * batch, 2 * batch + 1))
            ]
            kinds = [future.result() for future in hostile]
    finally:
        box.shutdown()

    # Then every innocent call got its own answer, and every bomb failed by a limit
    assert results == [n * 2 if n % 2 else n * 3 for n in range(60)]
    assert set(kinds) <= {"timeout", "memory"}, kinds


def test_memory_outside_the_v8_heap_is_capped(pool: SandboxPool) -> None:
    # Given code filling four 128 MB ArrayBuffers (outside V8's heap limit)
    code = (
        "const a = []; for (let i = 0; i < 4; i++) a.push(new Uint8Array(1 << 27).fill(1));"
        "return a.length"
    )

    # When it runs
    with pytest.raises(SandboxError) as caught:
        pool.run_javascript(code, {})

    # Then the process cap refuses it as a memory error, and the next call works
    assert caught.value.kind == "memory"
    assert pool.run_javascript("return 'ok'", {}).value == "ok"


def test_a_sandbox_process_caps_its_data_segment(pool: SandboxPool) -> None:
    # Given a sandbox process that has run JavaScript (V8 loaded)
    pool.run_javascript("return 1", {})
    [pid] = pool.pids

    # When its limits are read
    lines = Path(f"/proc/{pid}/limits").read_text().splitlines()
    data = next(line for line in lines if line.startswith("Max data size"))
    core = next(line for line in lines if line.startswith("Max core file size"))

    # Then its data segment may grow by about the allowance, no more, and no core is written
    soft = int(data.split()[3])
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[5])  # data and stack
    in_use = pages * os.sysconf("SC_PAGE_SIZE")
    allowance = limits.data_allowance(limits.DEFAULT_MEMORY_LIMIT)
    slack = 32 * 1024 * 1024  # what the process freed or grew by since it was capped
    assert allowance - slack <= soft - in_use <= allowance + slack
    assert core.split()[4] == "0"


def test_a_memory_bomb_in_jsonata_does_not_grow_this_process(pool: SandboxPool) -> None:
    # Given this process's resident memory
    before = resident()

    # When JSONata builds two ten-million-item ranges
    kind = kind_of(lambda: pool.evaluate_jsonata("$count([[1..10000000],[1..10000000]])", {}))

    # Then it fails by a limit in its sandbox, and this process did not grow with it
    assert kind in {"memory", "timeout"}
    assert resident() - before < 50 * 1024 * 1024


# -- processes -------------------------------------------------------------------------


def niceness_of_threads(pid: int) -> set[int]:
    values = set()
    for thread in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            values.add(int((thread / "stat").read_text().rsplit(")", 1)[1].split()[16]))
    return values


def test_a_long_call_runs_at_a_lower_priority_until_it_ends(pool: SandboxPool) -> None:
    # Given a warm sandbox process at this process's priority
    pool.run_javascript("return 1", {})
    [pid] = pool.pids
    normal = os.getpriority(os.PRIO_PROCESS, 0)
    code = "const end = Date.now() + 800; while (Date.now() < end) {} return 'done'"

    # When a call runs longer than LONG_CALL_S
    with ThreadPoolExecutor(max_workers=1) as threads:
        running = threads.submit(pool.run_javascript, code, {})
        time.sleep(limits.LONG_CALL_S + 0.3)
        during = niceness_of_threads(pid)
        assert running.result().value == "done"

    # Then every thread of its process ran lower meanwhile, and runs normally again after
    assert during == {normal + limits.LONG_CALL_NICENESS}
    assert niceness_of_threads(pid) == {normal}
    assert pool.pids == [pid]


def test_calls_beyond_the_limit_wait_for_a_free_process_in_order() -> None:
    # Given a pool of two processes and five calls of about 300 ms at once
    box = SandboxPool(max_processes=2)
    code = "const end = Date.now() + 300; while (Date.now() < end) {} return trigger.data.n"
    try:
        with ThreadPoolExecutor(max_workers=5) as threads:
            results = list(
                threads.map(
                    lambda n: box.run_javascript(code, {"trigger": {"data": {"n": n}}}).value,
                    range(5),
                )
            )
        # Then each got its own answer and never more than two processes ran
        assert results == list(range(5))
        assert box.processes_started == 2
    finally:
        box.shutdown()


def test_a_burst_of_quick_calls_shares_the_processes_there_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a warm pool of up to eight processes, whose calls wait up to 0.2 s for a
    # running call to end (more than a loaded machine takes for one) before it grows
    monkeypatch.setattr(pool_module, "QUEUE_PATIENCE_S", 0.2)
    box = SandboxPool(max_processes=8)
    box.evaluate_jsonata("1", {})
    try:
        # When 16 threads make 20 quick calls each, all at once
        def calls(n: int) -> list[Any]:
            return [box.evaluate_jsonata(f"{n} + {i}", {}) for i in range(20)]

        with ThreadPoolExecutor(max_workers=16) as threads:
            results = list(threads.map(calls, range(16)))

        # Then every call got its answer from a few processes, not one per thread
        assert results == [[n + i for i in range(20)] for n in range(16)]
        assert box.processes_started <= 3
    finally:
        box.shutdown()


def test_a_call_queued_behind_a_long_one_gets_a_process_of_its_own() -> None:
    # Given a pool whose one process runs a call of 2 s
    box = SandboxPool(max_processes=4)
    long_call = "const end = Date.now() + 2000; while (Date.now() < end) {} return 'long'"
    box.run_javascript("return 1", {})
    try:
        with ThreadPoolExecutor(max_workers=1) as threads:
            running = threads.submit(box.run_javascript, long_call, {})
            time.sleep(0.2)
            # When a quick call comes
            started = time.monotonic()
            quick = box.run_javascript("return 'quick'", {})
            # Then it runs in a new process, without waiting for the long one
            assert quick.value == "quick"
            assert time.monotonic() - started < 1.5
            assert not running.done()
            assert running.result().value == "long"
        assert box.processes_started == 2
    finally:
        box.shutdown()


def test_after_a_process_is_lost_under_a_call_more_spares_are_kept() -> None:
    # Given a pool that just lost a process under a call (killed past its time limit)
    box = SandboxPool(max_processes=8)
    code = "const end = Date.now() + 3000; while (Date.now() < end) {} return 1"
    try:
        with pytest.raises(SandboxError):
            box.run_javascript("return Array(1e9).fill(0).length", {}, timeout_ms=300)
        # When two calls then run side by side
        wanted = 2 + pool_module.CHURN_SPARES
        with ThreadPoolExecutor(max_workers=2) as threads:
            running = [threads.submit(box.run_javascript, code, {}) for _ in range(2)]
            deadline = time.monotonic() + 2.5
            while len(box.pids) < wanted and time.monotonic() < deadline:
                time.sleep(0.05)
            # Then the pool keeps the larger number of spares beside them
            assert len(box.pids) == wanted
            assert [future.result().value for future in running] == [1, 1]
    finally:
        box.shutdown()


def test_a_killed_sandbox_process_fails_its_call_as_crashed_and_the_next_call_works(
    pool: SandboxPool, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a long call running in a sandbox process
    pool.run_javascript("return 1", {})
    [pid] = pool.pids

    async def kill_during() -> object:
        task = asyncio.create_task(
            pool.run_javascript_async("while (true) {}", {}, timeout_ms=20_000)
        )
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        try:
            return await asyncio.wait_for(task, 10)
        except SandboxError as error:
            return error

    # When the process is killed under it
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="workfuse.sandbox.child"):
        outcome = asyncio.run(kill_during())

    # Then the call fails at once as crashed, with a log line, and the next call works
    assert isinstance(outcome, SandboxError)
    assert outcome.kind == "crashed"
    assert "exit code -9" in outcome.message
    assert f"sandbox process {pid} stopped under a javascript call (exit code -9)" in caplog.text
    assert time.monotonic() - started < 5
    assert pool.run_javascript("return 'again'", {}).value == "again"
    assert pid not in pool.pids


def test_a_sandbox_process_that_never_starts_fails_its_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given sandbox processes that never say they are ready
    monkeypatch.setattr("workfuse.sandbox.child.STARTUP_LIMIT_S", 0.5)
    box = SandboxPool(max_processes=1)
    monkeypatch.setattr(
        box, "_command", lambda: [sys.executable, "-c", "import time; time.sleep(60)"]
    )

    # When a call is made
    started = time.monotonic()
    with pytest.raises(SandboxError) as caught:
        box.evaluate_jsonata("1", {})

    # Then it fails as crashed soon after the start limit, and the process is gone
    assert caught.value.kind == "crashed"
    assert "did not start" in caught.value.message
    assert time.monotonic() - started < 5
    box.shutdown()


def test_idle_processes_stop_and_the_next_call_starts_another() -> None:
    # Given a pool whose idle processes stop after 0.5 s
    box = SandboxPool(idle_stop_s=0.5)
    try:
        # When a call of 1 s runs (longer than that), then nothing for a while
        code = "const end = Date.now() + 1000; while (Date.now() < end) {} return 'slow'"
        assert box.run_javascript(code, {}).value == "slow"
        [pid] = box.pids
        assert wait_until_gone(pid, within_s=5)

        # Then the running call was not cut, the idle process is gone, and a call works
        assert box.pids == []
        assert box.run_javascript("return 'back'", {}).value == "back"
        assert box.processes_started == 2
    finally:
        box.shutdown()


def test_a_caller_that_gives_up_while_queued_takes_no_process() -> None:
    # Given a pool of one, busy with a call of 1 s
    box = SandboxPool(max_processes=1)
    slow = "const end = Date.now() + 1000; while (Date.now() < end) {} return 1"

    async def main() -> Any:
        busy = asyncio.create_task(box.run_javascript_async(slow, {}))
        await asyncio.sleep(0.2)
        # When a queued caller is cancelled before a process is free
        queued = asyncio.create_task(box.evaluate_jsonata_async("2", {}))
        await asyncio.sleep(0.1)
        queued.cancel()
        await busy
        # Then the next call still gets the one process
        return await box.evaluate_jsonata_async("3", {})

    try:
        assert asyncio.run(main()) == 3
        assert box.processes_started == 1
    finally:
        box.shutdown()


def test_the_sandbox_process_inherits_no_secret_from_the_environment(
    pool: SandboxPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given secrets in this process's environment
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_KEY", "k" * 44)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")

    # When a sandbox process starts
    pool.evaluate_jsonata("1", {})
    [pid] = pool.pids

    # Then its environment holds none of them
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert "WORKFUSE_ENCRYPTION_KEY" not in names
    assert "OPENAI_API_KEY" not in names
    assert names <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH"}


def test_shutdown_lets_the_running_call_answer_then_the_process_exits(pool: SandboxPool) -> None:
    # Given a call of about 300 ms in flight
    pool.run_javascript("return 1", {})
    [pid] = pool.pids
    code = "const end = Date.now() + 300; while (Date.now() < end) {} return 'done'"
    results: list[object] = []
    caller = threading.Thread(target=lambda: results.append(pool.run_javascript(code, {}).value))
    caller.start()
    time.sleep(0.1)

    # When the pool shuts down
    pool.shutdown()
    caller.join(timeout=10)

    # Then the call got its answer and the sandbox process is gone
    assert results == ["done"]
    assert wait_until_gone(pid)
    with pytest.raises(RuntimeError):
        pool.run_javascript("return 1", {})


#: Starts a sandbox process, forks, runs code in both, then dies by SIGKILL.
FORK_AND_DIE = """
import os, signal, sys
from workfuse.sandbox import pool as pool_module
from workfuse.sandbox.pool import SandboxPool
box = SandboxPool(max_processes=1)
assert box.run_javascript("return 1", {}).value == 1
[parent_sandbox] = box.pids
child = os.fork()
if child == 0:
    value = box.run_javascript("return 2", {}).value
    os._exit(0 if value == 2 and box.pids != [parent_sandbox] else 3)
_, status = os.waitpid(child, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert box.run_javascript("return 3", {}).value == 3 and box.pids == [parent_sandbox]
print(parent_sandbox, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_forked_child_gets_its_own_sandbox_and_one_dies_with_its_parent() -> None:
    # Given a process whose sandbox process served it before and after a fork
    result = subprocess.run(
        [sys.executable, "-c", FORK_AND_DIE], capture_output=True, text=True, timeout=60
    )

    # When that process is killed with SIGKILL (no exit handler runs)
    assert result.returncode == -signal.SIGKILL, result.stderr
    sandbox_pid = int(result.stdout.split()[0])

    # Then its sandbox process sees its stdin close and exits
    assert wait_until_gone(sandbox_pid)


# -- the wire --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stream",
    [
        b"1 javascript run 5000\n",
        b"x javascript run 5000 0 0\n",
        b"1 python run 0 0 0\n",
        b"1 jsonata eval 0 0 0\n",
        b"1 jsonata run 5000 9 0\nabc",
        b"1 jsonata",
    ],
)
def test_a_malformed_request_is_refused(stream: bytes) -> None:
    # Given bytes that are not a whole request
    # When the sandbox process reads them
    # Then it stops with a protocol error instead of guessing
    with pytest.raises(wire.ProtocolError):
        wire.read_request(io.BytesIO(stream))


def test_requests_and_answers_read_back_as_written() -> None:
    # Given a request and an answer with multi-byte characters
    request = wire.Request(7, "javascript", "run", 250, "return 'é\\n'", '{"x":"\\u00e9"}')
    error = SandboxError("ü", kind="syntax", line=1)
    answer = wire.Answer(7, "error", wire.error_body(error), retiring=True)

    # When they are written and read back
    stream = io.BytesIO(wire.encode_request(request) + wire.encode_request(request))
    replies = io.BytesIO(wire.encode_answer(answer) + wire.encode_answer(wire.Answer(0, "ready")))

    # Then they are the same, and the end of the stream reads as None
    assert wire.read_request(stream) == request
    assert wire.read_request(stream) == request
    assert wire.read_request(stream) is None
    read = wire.read_answer(replies)
    assert read == answer
    assert wire.read_answer(replies) == wire.Answer(0, "ready")
    decoded = wire.error_from_body(read.body)
    assert (decoded.message, decoded.kind, decoded.line, decoded.column) == ("ü", "syntax", 1, None)
