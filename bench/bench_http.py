"""Benchmark the HTTP node's overhead over a raw httpx call to the same local server.

A small threaded HTTP/1.1 server on 127.0.0.1 answers ``GET /items`` with
``{"ok":true,"items":[1,2,3]}``. Times, per request (median over N runs of a fixed
number of requests, all in one asyncio loop):

* raw: one reused ``httpx.AsyncClient`` (keep-alive), ``GET`` + ``.json()``;
* node: ``run_node("http", config, context)`` with a templated URL and header: template
  rendering, config validation, the egress guard, the request, JSON decoding and the
  output model. The target: at most 1 ms more than raw per request;
* the overhead, node minus raw, in µs and as a ratio;
* for reference, the parts: the node's ``execute`` on an already validated config, the
  templates and validation alone, ``net.async_client`` reused and new per request, a new
  plain ``httpx.AsyncClient`` per request, building a client without a request, and one
  ``httpx.create_ssl_context``.

The verdict is informational (exit status 0); the script exits with 1 only if a
response is not the expected one.

Run: ``.venv/bin/python bench/bench_http.py`` (``--runs N`` to change the run count).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.report import record
from workfuse import net
from workfuse.nodes.execution import NodeContext
from workfuse.nodes.http import HTTPNodeConfig, HTTPNodeOutput, execute
from workfuse.nodes.registry import REGISTRY
from workfuse.nodes.runner import resolve_templates, run_node
from workfuse.settings import get_settings

TARGET_OVERHEAD_MS = 1.0
FAST = 400  #: calls per run of the sub-millisecond figures
NODE = 30  #: calls per run of the node figure (about 36 ms each: a new client per call)
SLOW = 12  #: calls per run of the reference figures that build a client per call
PAYLOAD: dict[str, Any] = {"ok": True, "items": [1, 2, 3]}
BODY = json.dumps(PAYLOAD, separators=(",", ":")).encode()
CONFIG: dict[str, Any] = {
    "method": "GET",
    "url": "{{ trigger.data.url }}",
    "headers": {"Accept": "application/json", "X-Region": "{{ env.REGION }}"},
    "timeout": 5000,
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real API
    # Headers and body go out in two writes; with Nagle on, the second one waits for the
    # client's delayed ACK (about 40 ms) on a kept-alive connection.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path != "/items":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


@contextmanager
def serve() -> Iterator[str]:
    """A threaded server on a free port of 127.0.0.1; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def measure(
    label: str,
    loop: asyncio.AbstractEventLoop,
    action: Callable[[], Awaitable[object]],
    runs: int,
    calls: int,
) -> float:
    """Time ``runs`` runs of ``calls`` awaited calls (after a warm-up); print, return ms/call."""

    async def batch(count: int) -> None:
        for _ in range(count):
            await action()

    loop.run_until_complete(batch(min(calls, 10)))
    per_call = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        loop.run_until_complete(batch(calls))
        per_call.append((time.perf_counter() - start) * 1000 / calls)
    median = statistics.median(per_call)
    print(
        f"{label:<50} median {median:8.3f} ms/call   min {min(per_call):8.3f}   "
        f"max {max(per_call):8.3f}   ({runs} runs x {calls} calls)"
    )
    return median


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per figure")
    args = parser.parse_args(argv)
    runs = args.runs
    print(f"Python {sys.version.split()[0]}, httpx {httpx.__version__}")

    # The egress guard refuses loopback unless it is allowlisted.
    os.environ["WORKFUSE_EGRESS_ALLOW"] = "127.0.0.1/32"
    get_settings.cache_clear()

    loop = asyncio.new_event_loop()
    with serve() as base:
        url = f"{base}/items"
        context = NodeContext(
            execution_id="bench",
            node_id="fetch",
            trigger={"source": "webhook", "data": {"url": url}, "headers": {}},
            env={"REGION": "eu-west-1"},
        )
        headers = {
            "Accept": "application/json",
            "X-Region": "eu-west-1",
            "Idempotency-Key": context.idempotency_key,
        }
        validated = HTTPNodeConfig.model_validate(resolve_templates(
            REGISTRY.get("http"), CONFIG, context.template_context()
        ))  # fmt: skip
        raw_client = httpx.AsyncClient(timeout=5.0)
        guarded_client = net.async_client(timeout=5.0)

        async def raw() -> Any:
            response = await raw_client.get(url, headers=headers)
            return response.json()

        async def node() -> dict[str, Any]:
            return await run_node("http", CONFIG, context)

        async def node_execute() -> HTTPNodeOutput:
            return await execute(validated, context)

        async def templates_and_validation() -> HTTPNodeConfig:
            resolved = resolve_templates(REGISTRY.get("http"), CONFIG, context.template_context())
            return HTTPNodeConfig.model_validate(resolved)

        async def guarded_reused() -> Any:
            response = await guarded_client.get(url, headers=headers)
            return response.json()

        async def guarded_new() -> Any:
            async with net.async_client(timeout=5.0) as client:
                response = await client.get(url, headers=headers)
                return response.json()

        async def raw_new() -> Any:
            async with httpx.AsyncClient(timeout=5.0) as client:
                response = await client.get(url, headers=headers)
                return response.json()

        async def build_client() -> None:
            await net.async_client(timeout=5.0).aclose()

        async def ssl_context() -> None:
            httpx.create_ssl_context(verify=True, trust_env=False)

        output = loop.run_until_complete(node())
        if output["status"] != 200 or output["body"] != PAYLOAD:
            print(f"unexpected node output: {output!r}")
            return 1
        if loop.run_until_complete(raw()) != PAYLOAD:
            print("unexpected raw response")
            return 1

        raw_ms = measure("raw: httpx.AsyncClient reused, GET + .json()", loop, raw, runs, FAST)
        node_ms = measure('node: run_node("http", templated config)', loop, node, runs, NODE)
        overhead_ms = node_ms - raw_ms
        print(
            f"{'overhead: node - raw':<50} median {overhead_ms * 1000:8.0f} µs/call   "
            f"ratio {node_ms / raw_ms:.1f}x"
        )
        print("reference:")
        measure("node: execute() on a validated config", loop, node_execute, runs, SLOW)
        measure("node: templates + config validation only", loop, templates_and_validation,
                runs, FAST)  # fmt: skip
        measure("net.async_client reused, GET + .json()", loop, guarded_reused, runs, FAST)
        measure("net.async_client new per request, GET", loop, guarded_new, runs, SLOW)
        measure("raw: new httpx.AsyncClient per request, GET", loop, raw_new, runs, SLOW)
        measure("net.async_client() built + closed, no request", loop, build_client, runs, SLOW)
        measure("httpx.create_ssl_context()", loop, ssl_context, runs, SLOW)

        loop.run_until_complete(raw_client.aclose())
        loop.run_until_complete(guarded_client.aclose())
    loop.close()

    verdict = "OK" if overhead_ms <= TARGET_OVERHEAD_MS else "OVER TARGET"
    print(
        f"target: node overhead <= {TARGET_OVERHEAD_MS:g} ms/request "
        f"({overhead_ms:.3f}) -> {verdict}"
    )
    record("http.raw: httpx.AsyncClient reused, GET + .json()", raw_ms, "ms")
    record('http.node: run_node("http", templated config)', node_ms, "ms")
    record("http.overhead: node - raw", overhead_ms, "ms", ("<=", TARGET_OVERHEAD_MS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
