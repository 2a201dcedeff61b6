"""The messages between the app (or a worker) and its JavaScript sandbox process.

Over the process's stdin and stdout, each message is one ASCII header line followed by
its payloads, whose lengths (in bytes) the header gives, so code and JSON travel as
they are, never escaped a second time:

* request: ``<id> run <timeout ms> <code bytes> <input bytes>\\n<code><input JSON>``, or
  ``<id> check 0 <code bytes> 0\\n<code>``;
* answer: ``<id> <status> <body bytes>\\n<body>``, where ``status`` is ``result`` (a run's
  JSON answer from the runner, or an empty body for code without a syntax error) or
  ``error`` (a :class:`~workfuse.sandbox.SandboxError` as JSON: ``message``, ``kind``,
  ``line``, ``column``; for ``check`` the syntax error found).

Ids are chosen by the client and only echoed. Answers come in any order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Literal

from workfuse.sandbox import SandboxError

Operation = Literal["run", "check"]
Status = Literal["result", "error"]


@dataclass(frozen=True)
class Request:
    call_id: int
    operation: Operation
    timeout_ms: int
    code: str
    input_json: str


@dataclass(frozen=True)
class Answer:
    call_id: int
    status: Status
    body: bytes


class ProtocolError(Exception):
    """A header that is not of the form above: the stream cannot be trusted any more."""


def encode_request(request: Request) -> bytes:
    code = request.code.encode()
    data = request.input_json.encode()
    header = f"{request.call_id} {request.operation} {request.timeout_ms} {len(code)} {len(data)}\n"
    return header.encode() + code + data


def read_request(stream: IO[bytes]) -> Request | None:
    """The next request, or ``None`` at the end of the stream."""
    fields = _header(stream, 5)
    if fields is None:
        return None
    call_id, operation, timeout_ms, code_length, input_length = fields
    if operation not in ("run", "check"):
        raise ProtocolError(f"unknown operation {operation!r}")
    return Request(
        call_id=int(call_id),
        operation="run" if operation == "run" else "check",
        timeout_ms=int(timeout_ms),
        code=_exactly(stream, code_length).decode(),
        input_json=_exactly(stream, input_length).decode(),
    )


def encode_answer(answer: Answer) -> bytes:
    return f"{answer.call_id} {answer.status} {len(answer.body)}\n".encode() + answer.body


def read_answer(stream: IO[bytes]) -> Answer | None:
    """The next answer, or ``None`` at the end of the stream."""
    fields = _header(stream, 3)
    if fields is None:
        return None
    call_id, status, length = fields
    if status not in ("result", "error"):
        raise ProtocolError(f"unknown status {status!r}")
    return Answer(
        call_id=int(call_id),
        status="result" if status == "result" else "error",
        body=_exactly(stream, length),
    )


def error_body(error: SandboxError) -> bytes:
    fields = {
        "message": error.message,
        "kind": error.kind,
        "line": error.line,
        "column": error.column,
    }
    return json.dumps(fields).encode()


def error_from_body(body: bytes) -> SandboxError:
    fields = json.loads(body)
    return SandboxError(
        str(fields["message"]), kind=fields["kind"], line=fields["line"], column=fields["column"]
    )


def _header(stream: IO[bytes], count: int) -> list[str] | None:
    line = stream.readline()
    if not line:
        return None
    fields = line.decode("ascii", errors="replace").split()
    if len(fields) != count or not line.endswith(b"\n"):
        raise ProtocolError(f"malformed header {line[:80]!r}")
    if not all(field.isdigit() for field in [fields[0], *fields[2:]]):
        raise ProtocolError(f"malformed header {line[:80]!r}")
    return fields


def _exactly(stream: IO[bytes], length: int | str) -> bytes:
    length = int(length)
    data = stream.read(length) if length else b""
    if len(data) != length:
        raise ProtocolError(f"the stream ended {length - len(data)} bytes early")
    return data
