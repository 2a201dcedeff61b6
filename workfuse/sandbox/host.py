"""The sandbox process: ``python -m workfuse.sandbox.host LIMITS_JSON``.

Started by :class:`~workfuse.sandbox.pool.SandboxPool`, it is where user code runs:
JavaScript (V8, loaded on the first JavaScript call, or at start with
``"javascript": true``), JSONata expressions and regular expressions. It reads
requests (:mod:`workfuse.sandbox.wire`) from stdin and runs them **one at a time on its
main thread**, so a call that must be killed takes no other call with it.

Its data segment is capped once it is ready (:mod:`workfuse.sandbox.limits`), lifted
only while V8 loads. A call that hit a limit leaves a fresh isolate behind it; the
process retires (answers, then exits) after a call that left it holding much more
memory than when it was ready, or that failed in a way that leaves an engine's state
unknown.

Its stdout is kept for the answers: anything else written to file descriptor 1 goes to
stderr, which its parent reads. Ctrl-C in a terminal reaches the whole process group;
the host ignores it and ends with its parent instead (at the end of stdin).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
from typing import IO, TYPE_CHECKING

from workfuse.sandbox import SandboxError, memory_message, patterns, timeout_error, wire
from workfuse.sandbox import jsonata as jsonata_engine
from workfuse.sandbox.limits import (
    INTERRUPT_AFTER_S,
    RECYCLE_GROWTH_BYTES,
    HostLimits,
    Overtime,
    cap_data,
    data_allowance,
    data_cap_lifted,
    data_in_use,
    interrupt_after,
    no_core_dumps,
)

if TYPE_CHECKING:
    from workfuse.sandbox.javascript.runner import JavaScriptRunner


class _Answers:
    """Writes whole answers to the parent."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream

    def send(self, answer: wire.Answer) -> None:
        try:
            self._stream.write(wire.encode_answer(answer))
            self._stream.flush()
        except (BrokenPipeError, ValueError):  # the parent is gone: nobody to tell
            pass


class _Engines:
    """The engines of one sandbox process, and whether it should retire."""

    def __init__(self, limits: HostLimits) -> None:
        self.limits = limits
        self._runner: JavaScriptRunner | None = None
        self._baseline = 0

    def start(self) -> None:
        """Load what is loaded at start, then cap the data segment."""
        no_core_dumps()
        if self.limits.javascript:
            self._load_javascript()
        cap_data(data_allowance(self.limits.memory_limit))
        self._baseline = data_in_use()

    @property
    def javascript_loaded(self) -> bool:
        return self._runner is not None

    def load_javascript(self) -> None:
        """Load V8 (about 0.1 s and 560 MB of reserved data: the cap is lifted meanwhile)."""
        with data_cap_lifted(data_allowance(self.limits.memory_limit)):
            self._load_javascript()
        self._baseline = data_in_use()

    def _load_javascript(self) -> None:
        from workfuse.sandbox.javascript.runner import JavaScriptRunner  # initialises V8

        runner = JavaScriptRunner(
            memory_limit=self.limits.memory_limit,
            max_log_lines=self.limits.max_log_lines,
            max_log_line_chars=self.limits.max_log_line_chars,
            max_output_chars=self.limits.max_output_chars,
        )
        runner.prepare()
        self._runner = runner

    def answer(self, request: wire.Request) -> wire.Answer:
        """Run ``request``; the answer says whether this process retires after it.

        After a call that hit a limit, the isolate is replaced and Python's garbage
        collected before answering (if V8 cannot let go of a stuck isolate, the pool
        kills this process at the call's deadline). The process retires only if it then
        still holds :data:`~workfuse.sandbox.limits.RECYCLE_GROWTH_BYTES` more data than
        when it was ready (it would leave the next call less than its allowance), or if
        an engine failed in a way that leaves its state unknown.
        """
        status: wire.Status = "result"
        try:
            body = self._run(request)
        except SandboxError as error:
            status, body = "error", wire.error_body(error)
            if error.kind in ("timeout", "memory"):
                self._recover()
        except MemoryError:
            failure = SandboxError(memory_message(request.language), kind="memory")
            status, body = "error", wire.error_body(failure)
            self._recover()
        except Exception as error:  # every call gets an answer; the engine's state is unknown
            failure = SandboxError(f"the sandbox failed: {error}", kind="error")
            return wire.Answer(request.call_id, "error", wire.error_body(failure), True)
        grown = data_in_use() - self._baseline > RECYCLE_GROWTH_BYTES
        return wire.Answer(request.call_id, status, body, grown)

    def _recover(self) -> None:
        """Free what a failed call left: a spoiled isolate, unreachable Python objects."""
        if self._runner is not None and self._runner.spoiled:
            self._runner.prepare()  # closes the spoiled isolate, makes a fresh one
        gc.collect()

    def _run(self, request: wire.Request) -> bytes:
        code, data, limit = request.code, request.input_json, request.timeout_ms
        if request.language == "javascript":
            assert self._runner is not None, "load_javascript() first"
            if request.operation == "run":
                return self._runner.evaluate(code, data, limit).encode()
            return _raise_or_empty(self._runner.syntax_error(code))
        if request.language == "jsonata":
            if request.operation == "run":
                return _evaluate_jsonata(code, data, limit).encode()
            jsonata_engine.compile_expression(code)
            return b""
        if request.operation == "run":
            return b"true" if patterns.search(code, data, timeout_ms=limit) else b"false"
        return _raise_or_empty(patterns.check(code))


def _evaluate_jsonata(expr: str, input_json: str, timeout_ms: int) -> str:
    """JSONata's evaluation, interrupted if a built-in runs past the time limit."""
    try:
        with interrupt_after(timeout_ms / 1000 + INTERRUPT_AFTER_S):
            return jsonata_engine.evaluate_json(expr, input_json, timeout_ms=timeout_ms)
    except Overtime:
        raise timeout_error("jsonata", timeout_ms) from None


def _raise_or_empty(error: SandboxError | None) -> bytes:
    if error is not None:
        raise error
    return b""


def serve(requests: IO[bytes], answers: _Answers, engines: _Engines) -> None:
    """Answer every request until the end of ``requests`` or a retirement."""
    answers.send(wire.Answer(0, "ready"))
    while (request := wire.read_request(requests)) is not None:
        if request.language == "javascript" and not engines.javascript_loaded:
            engines.load_javascript()
            answers.send(wire.Answer(request.call_id, "started"))
        answer = engines.answer(request)
        answers.send(answer)
        if answer.retiring:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("limits", help="HostLimits as a JSON object")
    options = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = _Answers(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)  # stray prints (a library's, V8's) must not corrupt the answers
    engines = _Engines(HostLimits(**json.loads(options.limits)))
    engines.start()
    try:
        serve(sys.stdin.buffer, answers, engines)
    except wire.ProtocolError as error:
        sys.stderr.write(f"workfuse sandbox: {error}\n")
        return 2
    # Whatever V8 is still doing (a terminated call's isolate may be stuck in a built-in)
    # must not hold the exit: nothing here needs cleaning up.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
