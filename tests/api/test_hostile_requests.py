"""Requests the API must refuse in its own error format, whatever server runs it.

- Ambiguous body framing (``Content-Length`` with ``Transfer-Encoding``): 400 before
  any route runs, and the connection is closed (so nothing smuggled after it is
  read), sent as raw bytes over a socket: through uvicorn (the tests' server, h11) and
  through the real backend (Reflex's granian), both of which accept such a request
  and hand both headers to the app.
- Paths under ``/api`` and ``/hooks`` that no route serves: 404, or 405 with
  ``Allow``, as JSON, also when Reflex's app is mounted behind the API (as in
  production, where Reflex took them and answered in plain text).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, func, select
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from tests.api.conftest import PASSWORD, serve
from tests.api.test_webhooks import hook, path_of
from tests.fuzz.conftest import assert_error_format
from tests.support.reflex_backend import running_backend
from workfuse.api.app import create_api
from workfuse.db import session_scope
from workfuse.models import Execution, User

SIGN_UP = b'{"email": "smuggled@example.com", "password": "correct horse battery"}'


# --- raw HTTP -------------------------------------------------------------------------


def raw_exchange(base_url: str, request: bytes, timeout: float = 10) -> bytes:
    """Send ``request`` as it is; every byte the server sends until it closes."""
    host, port = base_url.removeprefix("http://").split(":")
    received = b""
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        while chunk := sock.recv(65536):  # a timeout fails the test: it never closed
            received += chunk
    return received


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def json_error(response: bytes) -> httpx.Response:
    """The raw response as an httpx one, to check its error format."""
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [tuple(line.split(": ", 1)) for line in lines[1:]]
    return httpx.Response(status_of(response), headers=headers, content=body)


def chunked_post(path: str, body: bytes, *, order: str = "CL,TE", then: bytes = b"") -> bytes:
    """A POST that frames ``body`` with chunked encoding but also carries a (wrong)
    ``Content-Length``; ``then`` is sent right after it on the same connection (a
    request a proxy trusting Content-Length would have read as part of the body)."""
    framing = {
        "CL": b"Content-Length: 4\r\n",
        "TE": b"Transfer-Encoding: chunked\r\n",
    }
    headers = b"".join(framing[name] for name in order.split(","))
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        + b"Content-Type: application/json\r\n"
        + headers
        + b"\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
        + then
    )


HEALTH = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def assert_refused_framing(response: bytes) -> None:
    """One answer, 400 in the error format; the server closed the connection after
    it, so the request sent behind it was never read."""
    assert response.count(b"HTTP/1.1 ") == 1, response
    assert status_of(response) == 400, response
    refusal = json_error(response)
    assert_error_format(refusal)
    assert "Content-Length and Transfer-Encoding" in refusal.json()["error"]["message"]


def users() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(User)).one()


def executions() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(Execution)).one()


# --- through uvicorn (the tests' server) ----------------------------------------------


@pytest.mark.parametrize("order", ["CL,TE", "TE,CL"])
def test_a_webhook_call_with_content_length_and_transfer_encoding_is_400_and_stores_nothing(
    api_url: str, database_url: str, session: Session, user: User, order: str
) -> None:
    workflow = hook(session, user)
    session.close()

    response = raw_exchange(
        api_url, chunked_post(path_of(workflow), b'{"n": 1}', order=order, then=HEALTH)
    )

    assert_refused_framing(response)
    assert executions() == 0


def test_a_sign_up_with_content_length_and_transfer_encoding_is_400_and_creates_nobody(
    api_url: str, database_url: str
) -> None:
    response = raw_exchange(api_url, chunked_post("/api/auth/sign-up", SIGN_UP, then=HEALTH))

    assert_refused_framing(response)
    assert users() == 0


def test_the_same_sign_up_framed_once_is_accepted(api_url: str, database_url: str) -> None:
    # The control: chunked alone (no Content-Length) is fine.
    request = chunked_post("/api/auth/sign-up", SIGN_UP, order="TE")
    request = request.replace(b"Host: 127.0.0.1\r\n", b"Host: 127.0.0.1\r\nConnection: close\r\n")

    response = raw_exchange(api_url, request)

    assert status_of(response) == 201, response
    assert users() == 1


# --- unmatched paths, with Reflex's app mounted behind the API -------------------------


async def _reflex_like(scope: Scope, receive: Receive, send: Send) -> None:
    """What Reflex's backend answers for a path it does not know."""
    await PlainTextResponse("Not Found", status_code=404)(scope, receive, send)


@pytest.fixture(scope="module")
def mounted_api_url() -> Iterator[str]:
    """The API as Reflex serves it: Reflex's app mounted at "" after every API route."""
    api = create_api()
    api.mount("", _reflex_like)
    with serve(api) as url:
        yield url


UNMATCHED = [
    ("GET", "/api/nope"),
    ("POST", "/api/nope"),
    ("DELETE", "/api/workflows/x/nope"),
    ("GET", "/api"),
    ("GET", "/hooks"),
    ("POST", "/hooks/"),
    ("POST", "/hooks/token/extra"),
]


@pytest.mark.parametrize(("method", "path"), UNMATCHED)
def test_an_unmatched_api_path_is_a_json_404(
    mounted_api_url: str, database_url: str, method: str, path: str
) -> None:
    response = httpx.request(method, f"{mounted_api_url}{path}")

    assert response.status_code == 404, response.text
    assert_error_format(response)
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/health", "GET"),
        ("DELETE", "/api/auth/sign-in", "POST"),
        ("TRACE", "/api/workflows", "GET, POST"),
        ("OPTIONS", "/hooks/some-token", "DELETE, GET, PATCH, POST, PUT"),
    ],
)
def test_a_wrong_method_on_an_api_path_is_a_json_405_with_allow(
    mounted_api_url: str, database_url: str, method: str, path: str, allowed: str
) -> None:
    response = httpx.request(method, f"{mounted_api_url}{path}")

    assert response.status_code == 405, response.text
    assert_error_format(response)
    assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == allowed


def test_paths_outside_the_api_still_reach_the_mounted_app(
    mounted_api_url: str, database_url: str
) -> None:
    response = httpx.get(f"{mounted_api_url}/workflows/nope")

    assert (response.status_code, response.text) == (404, "Not Found")


def test_a_head_request_to_an_unmatched_path_gets_no_body(
    mounted_api_url: str, database_url: str
) -> None:
    response = httpx.head(f"{mounted_api_url}/api/nope")

    assert response.status_code == 404
    assert response.content == b""


# --- through the real backend (Reflex's granian) --------------------------------------


@pytest.fixture(scope="module")
def backend_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("backend")
    with running_backend(workdir, {"WORKFUSE_LOAD_DEMO": "false"}) as backend:
        yield backend.url


SMUGGLED_SIGN_UP = (
    b"POST /api/auth/sign-up HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 68\r\n\r\n"
    b'{"email": "second@example.com", "password": "correct horse battery"}'
)


@pytest.mark.timeout(300)
def test_the_real_backend_never_reads_a_request_smuggled_behind_ambiguous_framing(
    backend_url: str,
) -> None:
    """Granian (hyper) reads such a request by its chunked encoding, hands the app no
    ``Content-Length`` (so the middleware cannot see both and the request is answered,
    today 201) and closes the connection after the answer: what was sent behind it is
    never read. A server that passes both headers on gets the app's 400 instead."""
    assert len(SMUGGLED_SIGN_UP.partition(b"\r\n\r\n")[2]) == 68
    for path, body in [("/api/auth/sign-up", SIGN_UP), ("/hooks/" + "x" * 32, b"{}")]:
        response = raw_exchange(backend_url, chunked_post(path, body, then=SMUGGLED_SIGN_UP))
        assert response.count(b"HTTP/1.1 ") == 1, response  # and then it closed
        if status_of(response) == 400:
            assert_refused_framing(response)
    # The smuggled sign-up never ran: that email is still free
    second = httpx.post(
        f"{backend_url}/api/auth/sign-up",
        json={"email": "second@example.com", "password": PASSWORD},
    )
    assert second.status_code == 201, second.text


@pytest.mark.timeout(300)
def test_the_real_backend_answers_unmatched_api_paths_in_json(backend_url: str) -> None:
    for method, path, status in [
        ("GET", "/api/nope", 404),
        ("POST", "/api/nope", 404),
        ("DELETE", "/api", 404),
        ("GET", "/hooks/a/b", 404),
        ("PUT", "/api/health", 405),
        ("OPTIONS", "/hooks/" + "x" * 32, 405),
    ]:
        response = httpx.request(method, f"{backend_url}{path}")
        assert response.status_code == status, (method, path, response.text)
        assert_error_format(response)
