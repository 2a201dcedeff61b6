"""Routes that speak the OpenAI chat completions API, for the AI node's tests.

The model name picks the behaviour: ``echo`` answers "You said: <prompt>",
``rate-limited`` answers 429 with ``Retry-After: 7``, ``broken`` 500, ``bad-key`` 401.
With ``"stream": true`` the answer comes as server-sent events, word by word.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from tests.support.local_server import Request, Response


def _answer(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(part.get("text", "") for part in last)
    return f"You said: {text}"


def _usage(body: dict[str, Any], answer: str) -> dict[str, int]:
    prompt = sum(len(str(message["content"]).split()) for message in body["messages"])
    completion = len(answer.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _events(body: dict[str, Any], answer: str) -> Iterator[bytes]:
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": body["model"],
    }
    for index, word in enumerate(answer.split(" ")):
        delta = {"content": word if index == 0 else " " + word}
        if index == 0:
            delta["role"] = "assistant"
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        time.sleep(0.02)  # one network packet per token, as a real model sends them
    final = {
        **base,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": _usage(body, answer),
    }
    yield f"data: {json.dumps(final)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def chat_completions(request: Request) -> Response:
    body = request.json()
    model = body["model"]
    if model == "rate-limited":
        return Response.json(
            {"error": {"message": "slow down", "type": "rate_limit"}}, 429, **{"Retry-After": "7"}
        )
    if model == "broken":
        return Response.json({"error": {"message": "server exploded", "type": "server_error"}}, 500)
    if model == "bad-key":
        return Response.json({"error": {"message": "invalid api key", "type": "auth"}}, 401)
    answer = _answer(body)
    if body.get("stream"):
        return Response(200, _events(body, answer), {"Content-Type": "text/event-stream"})
    return Response.json(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(body, answer),
        }
    )


ROUTES = {"POST /v1/chat/completions": chat_completions}
