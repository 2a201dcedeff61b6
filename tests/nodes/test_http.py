"""The HTTP node against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from tests.support.local_server import LocalServer, Request, Response, serve
from workfuse.nodes import http as http_node
from workfuse.nodes.execution import ExecutionError, NodeContext
from workfuse.nodes.http import HTTPNodeConfig, execute
from workfuse.nodes.runner import run_node

TOKEN = "tok-canary-93b1c7"


def _slow(_: Request) -> Response:
    time.sleep(2)
    return Response.json({"late": True})


ROUTES = {
    "GET /items": lambda request: Response.json({"items": [{"price": 3}, {"price": 4}]}),
    "POST /echo": lambda request: Response.json(
        {"received": request.json(), "contentType": request.headers.get("content-type")}, 201
    ),
    "GET /headers": lambda request: Response.json(request.headers),
    "GET /text": lambda request: Response(200, b"plain words", {"Content-Type": "text/plain"}),
    "GET /missing": lambda request: Response.json({"error": "no such thing"}, 404),
    "GET /echo-auth": lambda request: Response(
        401, f"bad token {request.headers.get('authorization')}".encode()
    ),
    "GET /busy": lambda request: Response.json({"error": "busy"}, 503, **{"Retry-After": "3"}),
    "GET /later": lambda request: Response(
        429,
        b"",
        {"Retry-After": format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)},
    ),
    "GET /timeout": lambda request: Response(408, b"request timeout"),
    "GET /slow": _slow,
    "GET /redirect": lambda request: Response(302, b"", {"Location": "/items"}),
    "GET /big": lambda request: Response(200, b"x" * 5000, {"Content-Type": "text/plain"}),
    "GET /set-cookie": lambda request: Response(
        200, b"ok", {"Set-Cookie": "session=victim-cookie; Path=/"}
    ),
}


@pytest.fixture
def server(allow_loopback: None) -> Iterator[LocalServer]:
    with serve(ROUTES) as local:
        yield local


def context(**overrides: Any) -> NodeContext:
    return NodeContext(
        execution_id="exec1",
        node_id="fetch",
        secrets={"arn:token": TOKEN, "arn:basic": "ada:s3cret-pw"},
        **overrides,
    )


def call(**config: Any) -> http_node.HTTPNodeOutput:
    return asyncio.run(execute(HTTPNodeConfig.model_validate(config), context()))


def failure(**config: Any) -> ExecutionError:
    with pytest.raises(ExecutionError) as caught:
        call(**config)
    return caught.value


def test_get_parses_json_and_reports_status_headers_duration(server: LocalServer) -> None:
    output = call(url=f"{server.url}/items")
    assert output.status == 200
    assert output.body == {"items": [{"price": 3}, {"price": 4}]}
    assert output.headers["content-type"] == "application/json"
    assert output.duration >= 0
    assert server.requests[-1].headers["idempotency-key"] == "exec1:fetch"


def test_post_sends_json_body(server: LocalServer) -> None:
    output = call(method="POST", url=f"{server.url}/echo", body={"a": [1, 2]})
    assert output.status == 201
    assert output.body == {"received": {"a": [1, 2]}, "contentType": "application/json"}


def test_runs_share_connections_but_never_cookies(server: LocalServer) -> None:
    # Given: one run whose server sets a cookie, then another run on the same loop
    async def two_runs() -> http_node.HTTPNodeOutput:
        first = HTTPNodeConfig.model_validate({"url": f"{server.url}/set-cookie"})
        await execute(first, context())
        second = HTTPNodeConfig.model_validate({"url": f"{server.url}/headers"})
        return await execute(second, context())

    # When: both run
    output = asyncio.run(two_runs())

    # Then: the second request carries no cookie from the first
    assert "cookie" not in output.body


def test_text_body_stays_text(server: LocalServer) -> None:
    assert call(url=f"{server.url}/text").body == "plain words"


@pytest.mark.parametrize(
    ("auth", "header", "expected"),
    [
        ({"type": "bearer", "secretArn": "arn:token"}, "authorization", f"Bearer {TOKEN}"),
        (
            {"type": "basic", "secretArn": "arn:basic"},
            "authorization",
            "Basic " + base64.b64encode(b"ada:s3cret-pw").decode(),
        ),
        ({"type": "apiKey", "secretArn": "arn:token", "headerName": "X-Token"}, "x-token", TOKEN),
    ],
)
def test_auth_headers_come_from_credentials(
    server: LocalServer, auth: dict[str, str], header: str, expected: str
) -> None:
    output = call(url=f"{server.url}/headers", auth=auth)
    assert output.body[header] == expected


def test_every_field_is_templated(server: LocalServer) -> None:
    # Given a config whose url, headers and body are templates
    raw = {
        "method": "POST",
        "url": "{{ trigger.data.base }}/echo",
        "headers": {"X-Count": "{{ nodes.prev.count }}"},
        "body": {"total": "{{ nodes.prev.count }}", "note": "n={{ nodes.prev.count }}"},
    }
    ctx = context(trigger={"data": {"base": server.url}}, nodes={"prev": {"count": 7}})
    # When it runs through the registry
    output = asyncio.run(run_node("http", raw, ctx))
    # Then templates resolved (a lone expression keeps its type, mixed text becomes text)
    assert output["body"]["received"] == {"total": 7, "note": "n=7"}
    assert server.requests[-1].headers["x-count"] == "7"


def test_client_errors_are_not_retryable(server: LocalServer) -> None:
    error = failure(url=f"{server.url}/missing")
    assert error.code == "HTTP_404"
    assert not error.retryable
    assert "no such thing" in error.message


def test_secrets_echoed_by_the_server_are_masked(server: LocalServer) -> None:
    error = failure(
        url=f"{server.url}/echo-auth", auth={"type": "bearer", "secretArn": "arn:token"}
    )
    assert error.code == "HTTP_401"
    assert TOKEN not in error.message
    assert "***" in error.message


def test_unavailable_is_retryable_with_retry_after_seconds(server: LocalServer) -> None:
    error = failure(url=f"{server.url}/busy")
    assert (error.code, error.retryable, error.retry_after) == ("HTTP_503", True, 3.0)


def test_rate_limit_honours_an_http_date_retry_after(server: LocalServer) -> None:
    error = failure(url=f"{server.url}/later")
    assert error.retryable
    assert error.retry_after is not None and 20 < error.retry_after <= 30


def test_request_timeout_status_is_retryable(server: LocalServer) -> None:
    assert failure(url=f"{server.url}/timeout").retryable


def test_slow_server_times_out_retryably(server: LocalServer) -> None:
    started = time.perf_counter()
    error = failure(url=f"{server.url}/slow", timeout=300)
    assert (error.code, error.retryable) == ("HTTP_TIMEOUT", True)
    assert time.perf_counter() - started < 1.5


def test_refused_connection_is_retryable(server: LocalServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    error = failure(url=f"http://127.0.0.1:{closed_port}/")
    assert (error.code, error.retryable) == ("HTTP_CONNECTION", True)


def test_redirects_are_followed(server: LocalServer) -> None:
    output = call(url=f"{server.url}/redirect")
    assert output.body == {"items": [{"price": 3}, {"price": 4}]}


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "apiKey", "secretArn": "arn:token", "headerName": "X-Shop"},  # any name
        {"type": "apiKey", "secretArn": "arn:token"},  # X-API-Key
        {"type": "bearer", "secretArn": "arn:token"},
        {"type": "basic", "secretArn": "arn:basic"},
    ],
    ids=["apiKey-custom-header", "apiKey", "bearer", "basic"],
)
def test_a_redirect_to_another_origin_does_not_carry_the_credential(
    server: LocalServer, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a server that redirects to another server (another port: another origin)
    with serve(dict(ROUTES)) as other:
        elsewhere = Response(302, b"", {"Location": f"{other.url}/headers"})
        monkeypatch.setitem(server.routes, "GET /elsewhere", lambda _request: elsewhere)

        # When the node follows the redirect with its credential
        output = call(url=f"{server.url}/elsewhere", auth=auth, headers={"X-Trace": "t-1"})

    # Then the first server got the credential and the second did not
    assert output.status == 200
    first = server.requests[-1].headers
    assert TOKEN in str(first) or "authorization" in first
    assert TOKEN not in str(output.body) and "authorization" not in output.body
    assert base64.b64encode(b"ada:s3cret-pw").decode() not in str(output.body)
    assert output.body["x-trace"] == "t-1"  # the node's other headers go on
    assert output.body["idempotency-key"] == "exec1:fetch"


def test_oversize_response_is_refused(server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_node, "MAX_RESPONSE_BYTES", 1000)
    error = failure(url=f"{server.url}/big")
    assert (error.code, error.retryable) == ("HTTP_RESPONSE_TOO_LARGE", False)


def test_private_addresses_are_refused_without_an_allowlist() -> None:
    with serve(ROUTES) as local:
        error = failure(url=f"{local.url}/items")
        assert (error.code, error.retryable) == ("HTTP_EGRESS_DENIED", False)
        assert local.requests == []


def test_missing_credential_is_a_clear_error(server: LocalServer) -> None:
    error = failure(url=f"{server.url}/items", auth={"type": "bearer", "secretArn": "arn:gone"})
    assert error.code == "CREDENTIAL_MISSING"
    assert "arn:gone" in error.message
