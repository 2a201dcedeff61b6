"""The JavaScript sandbox process: ``python -m workfuse.sandbox.javascript.host``.

Started by :class:`~.process.SandboxProcess` on the first JavaScript call of a process,
it is the only process that loads V8: it initialises V8 on its main thread (importing
:mod:`.pool` does that), reads requests (:mod:`.wire`) from stdin, runs them on a
:class:`~.pool.JavaScriptSandbox` of ``--workers`` threads and writes each answer to
stdout when it is ready. At the end of stdin (its parent closed it, or exited however
it did) it lets the running calls finish, closes its isolates and exits with 0.

Its stdout is kept for the answers: anything else written to file descriptor 1 goes to
stderr, which it shares with its parent. Ctrl-C in a terminal reaches the whole process
group; the host ignores it and ends with its parent instead.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from concurrent.futures import Future
from typing import IO

from workfuse.sandbox import SandboxError
from workfuse.sandbox.javascript import wire
from workfuse.sandbox.javascript.pool import JavaScriptSandbox

#: A run's JSON answer, or a syntax check's error (``None``: the code parses).
_Outcome = Future[str] | Future[SandboxError | None]


class _Answers:
    """Writes answers to the parent, one whole message at a time, from any thread."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, call_id: int, status: wire.Status, body: bytes) -> None:
        message = wire.encode_answer(wire.Answer(call_id, status, body))
        with self._lock:
            try:
                self._stream.write(message)
                self._stream.flush()
            except (BrokenPipeError, ValueError):  # the parent is gone: nobody to tell
                pass

    def send_when_done(self, call_id: int, future: _Outcome) -> None:
        future.add_done_callback(lambda done: self._send_outcome(call_id, done))

    def _send_outcome(self, call_id: int, done: _Outcome) -> None:
        try:
            outcome = done.result()
        except SandboxError as error:
            self.send(call_id, "error", wire.error_body(error))
        except Exception as error:  # every call gets an answer
            failure = SandboxError(f"the JavaScript engine failed: {error}", kind="error")
            self.send(call_id, "error", wire.error_body(failure))
        else:
            if isinstance(outcome, SandboxError):  # a syntax check that found an error
                self.send(call_id, "error", wire.error_body(outcome))
            else:
                self.send(call_id, "result", (outcome or "").encode())


def serve(requests: IO[bytes], answers: _Answers, sandbox: JavaScriptSandbox) -> None:
    """Run every request until the end of ``requests``, then close the sandbox."""
    try:
        while (request := wire.read_request(requests)) is not None:
            future: _Outcome
            if request.operation == "run":
                future = sandbox.evaluate(request.code, request.input_json, request.timeout_ms)
            else:
                future = sandbox.syntax_error(request.code)
            answers.send_when_done(request.call_id, future)
    finally:
        sandbox.shutdown()  # lets queued calls finish, so their answers are sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("limits", help="JavaScriptSandbox's keyword arguments, as a JSON object")
    options = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers = _Answers(os.fdopen(os.dup(1), "wb"))
    os.dup2(2, 1)  # stray prints (a library's, V8's) must not corrupt the answers
    sandbox = JavaScriptSandbox(**json.loads(options.limits))
    try:
        serve(sys.stdin.buffer, answers, sandbox)
    except wire.ProtocolError as error:
        sys.stderr.write(f"workfuse JavaScript sandbox: {error}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
