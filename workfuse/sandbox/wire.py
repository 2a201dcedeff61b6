"""The messages between a process (the app, a worker) and one of its sandbox processes.

Over the sandbox process's stdin and stdout, each message is one ASCII header line
followed by its payloads, whose lengths (in bytes) the header gives, so code and JSON
travel as they are, never escaped a second time:

* request: ``<id> <language> <operation> <timeout ms> <code bytes> <input bytes>\\n``
  ``<code><input>``, where ``language`` is ``javascript``, ``jsonata`` or ``regex`` and
  ``operation`` is ``run`` (JavaScript and JSONata: the code on the input JSON; regex:
  search the input text for the pattern) or ``check`` (the code's syntax; no input);
* answer: ``<id> <status> <body bytes> <retiring>\\n<body>``, where ``status`` is

  - ``ready`` (id 0, empty body): sent once, when the process can take calls;
  - ``started`` (empty body): the call's time limit starts now, sent only when the
    process first had to load an engine for it (V8, for its first JavaScript call);
  - ``result``: a JavaScript run's JSON answer from the runner, JSONata's result as
    JSON, a regex search's ``true`` or ``false``, or an empty body for code without a
    syntax error;
  - ``error``: a :class:`~workfuse.sandbox.SandboxError` as JSON (``message``,
    ``kind``, ``line``, ``column``; for ``syntax`` the syntax error found);

  and ``retiring`` is ``1`` when the process exits right after this answer (it must not
  be given another call), else ``0``.

A sandbox process takes one call at a time: the next request is sent after the answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Literal, get_args

from workfuse.sandbox import SandboxError

Language = Literal["javascript", "jsonata", "regex"]
Operation = Literal["run", "check"]
Status = Literal["ready", "started", "result", "error"]

_LANGUAGES: tuple[Language, ...] = get_args(Language)
_OPERATIONS: tuple[Operation, ...] = get_args(Operation)
_STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class Request:
    call_id: int
    language: Language
    operation: Operation
    timeout_ms: int
    code: str
    input_json: str


@dataclass(frozen=True)
class Answer:
    call_id: int
    status: Status
    body: bytes = b""
    retiring: bool = False


class ProtocolError(Exception):
    """A header that is not of the form above: the stream cannot be trusted any more."""


def encode_request(request: Request) -> bytes:
    code = request.code.encode()
    data = request.input_json.encode()
    header = (
        f"{request.call_id} {request.language} {request.operation} {request.timeout_ms} "
        f"{len(code)} {len(data)}\n"
    )
    return header.encode() + code + data


def read_request(stream: IO[bytes]) -> Request | None:
    """The next request, or ``None`` at the end of the stream."""
    fields = _header(stream, 6, words=2)
    if fields is None:
        return None
    call_id, language, operation, timeout_ms, code_length, input_length = fields
    if language not in _LANGUAGES or operation not in _OPERATIONS:
        raise ProtocolError(f"unknown call {language!r} {operation!r}")
    return Request(
        call_id=int(call_id),
        language=language,
        operation=operation,
        timeout_ms=int(timeout_ms),
        code=_exactly(stream, code_length).decode(),
        input_json=_exactly(stream, input_length).decode(),
    )


def encode_answer(answer: Answer) -> bytes:
    header = f"{answer.call_id} {answer.status} {len(answer.body)} {int(answer.retiring)}\n"
    return header.encode() + answer.body


def read_answer(stream: IO[bytes]) -> Answer | None:
    """The next answer, or ``None`` at the end of the stream."""
    fields = _header(stream, 4, words=1)
    if fields is None:
        return None
    call_id, status, length, retiring = fields
    if status not in _STATUSES or retiring not in ("0", "1"):
        raise ProtocolError(f"unknown status {status!r}")
    return Answer(
        call_id=int(call_id),
        status=status,
        body=_exactly(stream, length),
        retiring=retiring == "1",
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


def _header(stream: IO[bytes], count: int, *, words: int) -> list[str] | None:
    """The header's ``count`` fields: an id, ``words`` words, then numbers."""
    line = stream.readline()
    if not line:
        return None
    fields = line.decode("ascii", errors="replace").split()
    if len(fields) != count or not line.endswith(b"\n"):
        raise ProtocolError(f"malformed header {line[:80]!r}")
    if not all(field.isdigit() for field in [fields[0], *fields[1 + words :]]):
        raise ProtocolError(f"malformed header {line[:80]!r}")
    return fields


def _exactly(stream: IO[bytes], length: int | str) -> bytes:
    length = int(length)
    data = stream.read(length) if length else b""
    if len(data) != length:
        raise ProtocolError(f"the stream ended {length - len(data)} bytes early")
    return data
