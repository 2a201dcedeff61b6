"""The API served by a real HTTP server (uvicorn) on 127.0.0.1, on both databases.

The server runs in a thread of the test process and reads the settings per request,
so each test's ``database_url`` fixture decides which database it talks to.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from workfuse.api.app import create_api
from workfuse.ratelimit import _limiter_for

PASSWORD = "correct horse battery"


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API server did not start", pytrace=False)
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def api_url() -> Iterator[str]:
    with serve(create_api()) as url:
        yield url


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Every test starts with no failed sign-ins counted."""
    _limiter_for.cache_clear()


@pytest.fixture
def anonymous(api_url: str, database_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=10) as client:
        yield client


def signed_up(api_url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=api_url, timeout=10)
    response = client.post("/api/auth/sign-up", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return client


@pytest.fixture
def ada(api_url: str, database_url: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in as ada@example.com (session cookie)."""
    client = signed_up(api_url, "ada@example.com")
    yield client
    client.close()


@pytest.fixture
def grace(api_url: str, database_url: str) -> Iterator[httpx.Client]:
    client = signed_up(api_url, "grace@example.com")
    yield client
    client.close()
