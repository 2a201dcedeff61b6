"""The security tests reuse the API's fixtures: a real uvicorn server, and clients
signed in over HTTP as Ada and Grace (see ``tests/api/conftest.py``); the corpora of
user code share one small sandbox pool per module."""

from collections.abc import Iterator

import pytest

from tests.api.conftest import _fresh_rate_limits, ada, anonymous, api_url, grace
from workfuse.sandbox.pool import SandboxPool

__all__ = ["_fresh_rate_limits", "ada", "anonymous", "api_url", "grace", "sandbox_pool"]


@pytest.fixture(scope="module")
def sandbox_pool() -> Iterator[SandboxPool]:
    """Two sandbox processes, as a worker with two busy threads would have."""
    pool = SandboxPool(max_processes=2)
    yield pool
    pool.shutdown()
