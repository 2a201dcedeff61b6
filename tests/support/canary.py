"""A canary credential and a workflow that uses it, for the leak searches.

The services the workflow calls echo the credential back (the HTTP server its
Authorization header, the model its API key), so a search for the canary cannot pass
by the value never coming back.
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
from typing import Any

from tests.support import openai_server
from tests.support.local_server import LocalServer, Request, Response
from workfuse.secrets.redaction import REDACTED

#: Random per run: a raw scan of shared files (a session's SQLite database) cannot find
#: another test's value.
CANARY = f"sk-canary-{secrets.token_hex(8)}"
#: The value and forms a template could derive from it (Jinja ``reverse``, ``upper``).
NEEDLES = (CANARY, CANARY[::-1], CANARY.upper())
BEARER_REDACTED = f"Bearer {REDACTED}"
RELEASE_WAIT_S = 30.0  #: seconds the echo waits for its release before answering anyway


def assert_clean(text: str | bytes, where: str) -> None:
    """No needle in ``text``."""
    haystack = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for needle in NEEDLES:
        assert needle not in haystack, f"the canary ({needle!r}) is in {where}"


class Echo:
    """``POST /echo`` answers with the Authorization header and the body it received
    (and the header again as ``X-Echo-Authorization``). Each call first reports its
    execution id (from the Idempotency-Key) on ``arrivals`` and waits for a word on
    ``release`` (at most :data:`RELEASE_WAIT_S`), so a test can watch the run before
    the node's output exists."""

    def __init__(self) -> None:
        self.arrivals: queue.Queue[str] = queue.Queue()
        self.release: queue.Queue[None] = queue.Queue()

    def __call__(self, request: Request) -> Response:
        self.arrivals.put(request.headers["idempotency-key"].split(":")[0])
        with contextlib.suppress(queue.Empty):
            self.release.get(timeout=RELEASE_WAIT_S)
        authorization = request.headers.get("authorization", "")
        return Response.json(
            {"authorization": authorization, "body": request.json()},
            **{"X-Echo-Authorization": authorization},
        )


def deny(request: Request) -> Response:
    """``POST /deny``: 401, the error body repeating the Authorization header."""
    return Response.json({"error": f"refused {request.headers.get('authorization', '')}"}, 401)


def chat_with_key(request: Request) -> Response:
    """The test server's ``echo`` model (streaming word by word when asked), whose
    answer also repeats the API key it got: ``You said: <prompt> (key: Bearer <key>)``.
    Model ``refuse``: 401 with the key in the error message."""
    body = request.json()
    key = request.headers.get("authorization", "")
    if body["model"] == "refuse":
        return Response.json({"error": {"message": f"invalid key {key}", "type": "auth"}}, 401)
    body["messages"][-1]["content"] = f"{body['messages'][-1]['content']} (key: {key})"
    return openai_server.chat_completions(
        Request(request.method, request.path, request.headers, json.dumps(body).encode())
    )


def routes(echo: Echo) -> dict[str, Any]:
    return {"POST /echo": echo, "POST /deny": deny, "POST /v1/chat/completions": chat_with_key}


def _node(node_id: str, node_type: str, label: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "data": {"label": label, "config": config}}


def canary_graph(server: LocalServer, arn: str) -> dict[str, Any]:
    """trigger (webhook, synchronous) -> call (HTTP, bearer) -> ask (AI, streaming), the
    prompt templated from what the HTTP node got back, as is and transformed."""
    prompt = (
        "Order {{ trigger.data.order }} was sent with {{ nodes.call.body.authorization }}"
        " | reversed {{ nodes.call.body.authorization | reverse }}"
        " | shouted {{ nodes.call.headers['x-echo-authorization'] | upper }}"
        " | body {{ nodes.call.body.body | tojson }}"
    )
    trigger = {"source": "webhook", "syncTimeoutSeconds": 25, "samplePayload": {"order": "S-0"}}
    return {
        "nodes": [
            _node("start", "trigger", "Start", trigger),
            _node(
                "call",
                "http",
                "Call",
                {
                    "method": "POST",
                    "url": f"{server.url}/echo",
                    "body": {"order": "{{ trigger.data.order }}", "note": "plain"},
                    "auth": {"type": "bearer", "secretArn": arn},
                },
            ),
            _node(
                "ask",
                "ai",
                "Ask",
                {
                    "provider": "openai-compatible",
                    "baseUrl": f"{server.url}/v1",
                    "model": "echo",
                    "prompt": prompt,
                    "stream": True,
                    "secretArn": arn,
                },
            ),
        ],
        "edges": [
            {"id": "start-call", "source": "start", "target": "call"},
            {"id": "call-ask", "source": "call", "target": "ask"},
        ],
    }


def refusing_graph(server: LocalServer, arn: str) -> dict[str, Any]:
    """trigger -> deny (HTTP, bearer) and trigger -> refuse (AI): both services refuse
    with the credential in their error bodies, so both nodes fail."""
    return {
        "nodes": [
            _node("start", "trigger", "Start", {"source": "manual"}),
            _node(
                "deny",
                "http",
                "Deny",
                {
                    "method": "POST",
                    "url": f"{server.url}/deny",
                    "auth": {"type": "bearer", "secretArn": arn},
                },
            ),
            _node(
                "refuse",
                "ai",
                "Refuse",
                {
                    "provider": "openai-compatible",
                    "baseUrl": f"{server.url}/v1",
                    "model": "refuse",
                    "prompt": "hello",
                    "secretArn": arn,
                },
            ),
        ],
        "edges": [
            {"id": "start-deny", "source": "start", "target": "deny"},
            {"id": "start-refuse", "source": "start", "target": "refuse"},
        ],
    }


def assert_redacted_outputs(outputs: dict[str, Any], order: str) -> None:
    """The HTTP and AI nodes' outputs show ``[REDACTED]`` wherever the echo carried the
    canary, and the prompt's derived forms were made from the redacted text."""
    call, answer = outputs["call"], outputs["ask"]["response"]
    assert call["body"] == {
        "authorization": BEARER_REDACTED,
        "body": {"order": order, "note": "plain"},
    }
    assert call["headers"]["x-echo-authorization"] == BEARER_REDACTED
    assert f"sent with {BEARER_REDACTED}" in answer, answer
    assert f"reversed {BEARER_REDACTED[::-1]}" in answer, answer
    assert f"shouted {BEARER_REDACTED.upper()}" in answer, answer
    assert answer.endswith(f"(key: {BEARER_REDACTED})"), answer


def assert_canary_was_sent(server: LocalServer, runs: int) -> None:
    """Both services of :func:`canary_graph` received the real value once per run: the
    secret was used."""
    sent = [
        (r.path, (r.json() or {}).get("model"), r.headers.get("authorization"))
        for r in server.requests
    ]
    assert sent.count(("/echo", None, f"Bearer {CANARY}")) == runs, sent
    assert sent.count(("/v1/chat/completions", "echo", f"Bearer {CANARY}")) == runs, sent
