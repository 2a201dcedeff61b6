"""A scripted model behind the OpenAI chat completions and Anthropic messages APIs,
for magic input: each call answers the next scripted item as a call of the output
tool that pydantic-ai offers (so the real client path, retries with feedback and
error handling run over HTTP).

A script item is a proposal dict (``{"label", "config", "reasoning", "confidence"}``),
a :class:`Response` (an error status), or :class:`Slow` (wait, then answer). The
last item repeats. A script may also be a function of the request body.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.local_server import Handler, Request, Response

PROMPT_TOKENS = 120
COMPLETION_TOKENS = 40


@dataclass(frozen=True)
class Slow:
    seconds: float
    answer: Any


Answer = dict[str, Any] | Response | Slow
Script = list[Answer] | Callable[[dict[str, Any]], Answer]


def _next(script: Script, calls: list[dict[str, Any]], body: dict[str, Any]) -> Answer:
    calls.append(body)
    if callable(script):
        return script(body)
    return script[min(len(calls), len(script)) - 1]


def _resolve(answer: Answer) -> dict[str, Any] | Response:
    while isinstance(answer, Slow):
        time.sleep(answer.seconds)
        answer = answer.answer
    return answer


def routes(script: Script) -> tuple[dict[str, Handler], list[dict[str, Any]]]:
    """The server's routes and the list of request bodies it will receive."""
    calls: list[dict[str, Any]] = []

    def openai(request: Request) -> Response:
        body = request.json()
        answer = _resolve(_next(script, calls, body))
        if isinstance(answer, Response):
            return answer
        tool = body["tools"][0]["function"]["name"]
        call = {
            "id": f"call_{len(calls)}",
            "type": "function",
            "function": {"name": tool, "arguments": json.dumps(answer)},
        }
        return Response.json(
            {
                "id": f"chatcmpl-{len(calls)}",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                        "finish_reason": "tool_calls",
                    }
                ],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            }
        )

    def anthropic(request: Request) -> Response:
        body = request.json()
        answer = _resolve(_next(script, calls, body))
        if isinstance(answer, Response):
            return answer
        tool = body["tools"][0]["name"]
        return Response.json(
            {
                "id": f"msg_{len(calls)}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [
                    {"type": "tool_use", "id": f"toolu_{len(calls)}", "name": tool, "input": answer}
                ],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS},
            }
        )

    return {"POST /v1/chat/completions": openai, "POST /v1/messages": anthropic}, calls


def prompt_text(body: dict[str, Any]) -> str:
    """Everything a request showed the model (system and user messages), as one string."""
    return json.dumps(body.get("messages", [])) + json.dumps(body.get("system", ""))
