"""The security tests reuse the API's fixtures: a real uvicorn server, and clients
signed in over HTTP as Ada and Grace (see ``tests/api/conftest.py``)."""

from tests.api.conftest import _fresh_rate_limits, ada, anonymous, api_url, grace

__all__ = ["_fresh_rate_limits", "ada", "anonymous", "api_url", "grace"]
