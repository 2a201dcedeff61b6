"""JavaScript through the sandbox process: same answers, its life cycle, its failures."""

from __future__ import annotations

import asyncio
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

import pytest

from workfuse.sandbox import MAX_INPUT_BYTES, SandboxError
from workfuse.sandbox.javascript import process, wire
from workfuse.sandbox.javascript.process import SandboxProcess


@pytest.fixture
def box() -> Iterator[SandboxProcess]:
    client = SandboxProcess(workers=2)
    yield client
    client.shutdown()


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


def test_results_logs_and_errors_are_those_of_the_in_process_sandbox(box: SandboxProcess) -> None:
    # Given code that logs and returns, code that throws, code that does not parse
    document = {"trigger": {"data": {"n": 21, "name": "Zoë"}}}

    # When each runs through the sandbox process
    result = box.run("console.log('hi', trigger.data.name); return trigger.data.n * 2", document)
    with pytest.raises(SandboxError) as thrown:
        box.run("const x = 1;\nthrow new TypeError('bad ' + x)", {})
    with pytest.raises(SandboxError) as syntax:
        box.run("return 1 +;", {})

    # Then the value, the logs (non-ASCII intact) and the errors' kinds and positions arrive
    assert (result.value, result.logs) == (42, ["hi Zoë"])
    assert (thrown.value.kind, thrown.value.message) == (
        "error",
        "TypeError: bad 1 (line 2, column 7)",
    )
    assert (thrown.value.line, thrown.value.column) == (2, 7)
    assert (syntax.value.kind, syntax.value.line, syntax.value.column) == ("syntax", 1, 11)
    assert (
        box.check_syntax("return 1 +;") == "SyntaxError: Unexpected token ';' (line 1, column 11)"
    )
    assert box.check_syntax("return trigger.data.n") is None


def test_the_process_starts_on_the_first_call_only(box: SandboxProcess) -> None:
    # Given a new client
    assert (box.pid, box.processes_started) == (None, 0)

    # When an input over the limit is refused, then two calls run
    with pytest.raises(SandboxError) as refused:
        box.run("return 1", {"trigger": {"data": "x" * (MAX_INPUT_BYTES + 1)}})
    assert (refused.value.kind, box.processes_started) == ("input_too_large", 0)
    box.run("return 1", {})
    first = box.pid
    box.run("return 2", {})

    # Then one sandbox process served both, and it is not this process
    assert box.processes_started == 1
    assert first is not None and first == box.pid != os.getpid()


def test_a_time_limit_ends_the_call_and_the_sandbox_serves_the_next(box: SandboxProcess) -> None:
    # Given a call that loops forever with a 200 ms limit
    started = time.monotonic()
    with pytest.raises(SandboxError) as caught:
        box.run("while (true) {}", {}, timeout_ms=200)

    # Then it times out on time, in the same sandbox process as the next call
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 5
    assert box.run("return 'next'", {}).value == "next"
    assert box.processes_started == 1


def test_calls_from_many_threads_get_their_own_answers(box: SandboxProcess) -> None:
    # Given 24 calls from 8 threads, every sixth one looping until its limit
    def call(n: int) -> object:
        code = "while (true) {}" if n % 6 == 5 else "return trigger.data.n"
        try:
            return box.run(code, {"trigger": {"data": {"n": n}}}, timeout_ms=300).value
        except SandboxError as error:
            return error.kind

    # When they run at once (answers come back out of order)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(24)))

    # Then each got its own answer
    assert results == [("timeout" if n % 6 == 5 else n) for n in range(24)]


def test_a_killed_sandbox_fails_its_calls_as_crashed_and_the_next_call_restarts_it(
    box: SandboxProcess, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a long call running in the sandbox process
    box.run("return 1", {})
    pid = box.pid
    assert pid is not None

    async def long_call() -> object:
        try:
            return await box.run_async("while (true) {}", {}, timeout_ms=20_000)
        except SandboxError as error:
            return error

    async def kill_during() -> object:
        task = asyncio.create_task(long_call())
        await asyncio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)
        return await asyncio.wait_for(task, 10)

    # When the sandbox process is killed under it
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="workfuse.sandbox.javascript.process"):
        outcome = asyncio.run(kill_during())

    # Then the call fails at once as crashed, and the next call runs in a new process
    assert isinstance(outcome, SandboxError)
    assert outcome.kind == "crashed"
    assert "exit code -9" in outcome.message
    assert f"sandbox process {pid} stopped (exit code -9); calls failed: 1" in caplog.text
    assert time.monotonic() - started < 5
    assert box.run("return 'again'", {}).value == "again"
    assert box.processes_started == 2
    assert box.pid not in (None, pid)


def test_an_idle_sandbox_process_stops_and_the_next_call_starts_another() -> None:
    # Given a client whose sandbox process stops after 0.5 s without a call
    client = SandboxProcess(workers=1, idle_stop_s=0.5)
    try:
        # When a call of 1 s runs (longer than that), then nothing for a while
        code = "const end = Date.now() + 1000; while (Date.now() < end) {} return 'slow'"
        assert client.run(code, {}).value == "slow"
        pid = client.pid
        assert pid is not None
        assert wait_until_gone(pid, within_s=5)

        # Then the running call was not cut, the idle process is gone, and a call works
        assert client.pid is None
        assert client.run("return 'back'", {}).value == "back"
        assert client.processes_started == 2
    finally:
        client.shutdown()


def test_a_sandbox_that_stops_before_every_call_is_sent_fails_the_call_after_two_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given sandbox processes that are always stopping when a call is sent
    client = SandboxProcess(workers=1)
    client._command = [sys.executable, "-c", "pass"]

    def stopping(host: process._Host, *_: object) -> None:
        host.alive = False  # as the idle stop or a failed start would have done

    monkeypatch.setattr(process._Host, "send", stopping)

    # When a call is made
    with pytest.raises(SandboxError) as caught:
        client.run("return 1", {})

    # Then it fails as crashed after starting two processes, instead of starting more
    assert caught.value.kind == "crashed"
    assert client.processes_started == 2
    client.shutdown()


def test_the_sandbox_process_inherits_no_secret_from_the_environment(
    box: SandboxProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given secrets in this process's environment
    monkeypatch.setenv("WORKFUSE_ENCRYPTION_KEY", "k" * 44)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")

    # When the sandbox process starts
    box.run("return 1", {})

    # Then its environment holds none of them
    environ = Path(f"/proc/{box.pid}/environ").read_bytes().split(b"\0")
    names = {entry.split(b"=", 1)[0].decode() for entry in environ if entry}
    assert "WORKFUSE_ENCRYPTION_KEY" not in names
    assert "OPENAI_API_KEY" not in names
    assert names <= {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH"}


def test_shutdown_lets_the_running_call_answer_then_the_process_exits(box: SandboxProcess) -> None:
    # Given a call of about 300 ms in flight
    box.run("return 1", {})
    pid = box.pid
    assert pid is not None
    code = "const end = Date.now() + 300; while (Date.now() < end) {} return 'done'"
    results: list[object] = []
    caller = threading.Thread(target=lambda: results.append(box.run(code, {}).value))
    caller.start()
    time.sleep(0.1)

    # When the client shuts down
    box.shutdown()
    caller.join(timeout=10)

    # Then the call got its answer and the sandbox process is gone
    assert results == ["done"]
    assert wait_until_gone(pid)
    with pytest.raises(RuntimeError):
        box.run("return 1", {})


#: Starts a sandbox process, forks, runs JavaScript in both, then dies by SIGKILL.
FORK_AND_DIE = """
import os, signal, sys
from workfuse.sandbox.javascript.process import SandboxProcess
box = SandboxProcess(workers=1)
assert box.run("return 1", {}).value == 1
parent_sandbox = box.pid
child = os.fork()
if child == 0:
    value = box.run("return 2", {}).value
    os._exit(0 if value == 2 and box.pid != parent_sandbox else 3)
_, status = os.waitpid(child, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
assert box.run("return 3", {}).value == 3 and box.pid == parent_sandbox
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


@pytest.mark.parametrize(
    "stream",
    [b"1 run 5000\n", b"x run 5000 0 0\n", b"1 eval 0 0 0\n", b"1 run 5000 9 0\nabc", b"1 run"],
)
def test_a_malformed_request_is_refused(stream: bytes) -> None:
    # Given bytes that are not a whole request
    # When the sandbox process reads them
    # Then it stops with a protocol error instead of guessing
    with pytest.raises(wire.ProtocolError):
        wire.read_request(io.BytesIO(stream))


def test_requests_and_answers_read_back_as_written() -> None:
    # Given a request and an answer with multi-byte characters
    request = wire.Request(7, "run", 250, "return 'é\\n'", '{"trigger":{"x":"\\u00e9"}}')
    answer = wire.Answer(7, "error", wire.error_body(SandboxError("ü", kind="syntax", line=1)))

    # When they are written and read back
    stream = io.BytesIO(wire.encode_request(request) + wire.encode_request(request))
    replies = io.BytesIO(wire.encode_answer(answer))

    # Then they are the same, and the end of the stream reads as None
    assert wire.read_request(stream) == request
    assert wire.read_request(stream) == request
    assert wire.read_request(stream) is None
    read = wire.read_answer(replies)
    assert read == answer
    error = wire.error_from_body(read.body)
    assert (error.message, error.kind, error.line, error.column) == ("ü", "syntax", 1, None)
