"""The API's authorization matrix: one row per route (method and path) of ``create_api()``.

A route without a row, or a row without a route, fails
:func:`test_every_route_has_exactly_one_row`, so a new route cannot ship without a
decision. A public row says why anyone may call it. Every other row is requested
three times, over real HTTP:

- anonymous: 401 in the one error format, and nothing written;
- Grace on Ada's resource: 404 in the error format (never 403, never the data), or,
  for a route without a resource id (lists, creates, the caller's own account), an
  answer about Grace only; either way Ada's world (everything Ada can read through the
  API, and her credentials' values) is exactly as before, and no canary of Ada's
  (names, payload, credential value, email, ids Grace was not given) is in the answer;
- Ada on her own resource: the route's success status.

Limits: the canaries catch data copied verbatim, not data an answer reveals in another
form (a count, a timing). Public routes are listed, not probed here (their own tests
are in ``tests/api``). Reflex's own endpoints (the event websocket, ``/_upload``) are
not FastAPI routes: see ``test_ui_authorization.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from tests.support.local_server import Handler, LocalServer, serve
from tests.support.magic_llm import routes as magic_routes
from tests.support.openai_server import ROUTES as OPENAI_ROUTES
from workfuse.api.app import create_api
from workfuse.db import session_scope
from workfuse.secrets import process_secret_store
from workfuse.services import secrets as secret_service
from workfuse.services.workflows import starter_graph

ADA_EMAIL = "ada@example.com"
WORKFLOW_NAME = "Ada canary ledger 7f3a"
PAYLOAD_CANARY = "ada-canary-payload-52e1"
SECRET_NAME = "Ada canary key 0c9d"
SECRET_VALUE = "sk-ada-canary-value-91b2"
TOKEN_NAME = "Ada canary token 3e8f"
MODEL_CANARY = "ada-canary-model-4c1d"
CANARIES = (
    ADA_EMAIL,
    WORKFLOW_NAME,
    PAYLOAD_CANARY,
    SECRET_NAME,
    SECRET_VALUE,
    TOKEN_NAME,
    MODEL_CANARY,
)

MAGIC_ANSWER = {
    "label": "Fetch order",
    "config": {"method": "GET", "url": "https://shop.test/orders/1"},
    "reasoning": "A fixed order.",
    "confidence": 0.9,
}


class Adas:
    """Ada's resources, each created through the API the first time a row asks for it."""

    def __init__(self, client: httpx.Client, stack: ExitStack) -> None:
        self.client = client
        self._stack = stack
        self.ids: list[str] = []
        self.servers: list[LocalServer] = []

    def _created(self, response: httpx.Response, status: int = 201) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def _graph(self) -> dict[str, Any]:
        graph = starter_graph()
        graph["nodes"][0]["data"]["config"]["samplePayload"] = {"note": PAYLOAD_CANARY}
        return graph

    @cached_property
    def workflow(self) -> str:
        body = {"name": WORKFLOW_NAME, "graph": self._graph()}
        workflow_id: str = self._created(self.client.post("/api/workflows", json=body))["id"]
        self.ids.append(workflow_id)
        return workflow_id

    def _run(self) -> str:
        response = self.client.post(f"/api/workflows/{self.workflow}/run", json={})
        execution_id: str = self._created(response, 202)["executionId"]
        self.ids.append(execution_id)
        return execution_id

    @cached_property
    def execution(self) -> str:
        """A PENDING execution (no worker runs in these tests, so it stays pending)."""
        return self._run()

    @cached_property
    def finished_execution(self) -> str:
        execution_id = self._run()
        cancelled = self.client.post(f"/api/executions/{execution_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        return execution_id

    @cached_property
    def secret(self) -> dict[str, str]:
        body = {"name": SECRET_NAME, "value": SECRET_VALUE}
        secret: dict[str, str] = self._created(self.client.post("/api/secrets", json=body))
        self.ids += [secret["id"], secret["arn"]]
        return secret

    @cached_property
    def token(self) -> str:
        created = self._created(self.client.post("/api/tokens", json={"name": TOKEN_NAME}))
        self.ids.append(created["apiToken"]["id"])
        self.ids.append(created["token"])
        token_id: str = created["apiToken"]["id"]
        return token_id

    @cached_property
    def settings(self) -> None:
        body = {"defaultAiProvider": "openai", "defaultAiModel": MODEL_CANARY}
        self._created(self.client.put("/api/settings", json=body), 200)

    @cached_property
    def openai_url(self) -> str:
        handlers: dict[str, Handler] = dict(OPENAI_ROUTES)
        server = self._stack.enter_context(serve(handlers))
        self.servers.append(server)
        return server.url

    @cached_property
    def magic_url(self) -> str:
        handlers, _ = magic_routes([MAGIC_ANSWER])
        server = self._stack.enter_context(serve(handlers))
        self.servers.append(server)
        return server.url

    def world(self) -> dict[str, Any]:
        """Everything Ada can read through the API, plus her credentials' values."""
        get = self.client.get
        workflows = get("/api/workflows").json()
        executions = get("/api/executions").json()["items"]
        secrets = get("/api/secrets").json()
        with session_scope() as session:
            values = {
                row.id: process_secret_store().get_secret_value(row.arn)
                for row in secret_service.list_secrets(
                    session=session, user_id=get("/api/auth/me").json()["id"]
                )
            }
        return {
            "me": get("/api/auth/me").json(),
            "settings": get("/api/settings").json(),
            "tokens": get("/api/tokens").json(),
            "workflows": workflows,
            "versions": [get(f"/api/workflows/{w['id']}/versions").json() for w in workflows],
            "executions": [get(f"/api/executions/{e['id']}").json() for e in executions],
            "secrets": secrets,
            "secret_values": values,
        }


Params = Callable[[Adas], dict[str, str]]
Body = Callable[[Adas], Any]


def _none(_: Adas) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Row:
    """One route. ``given`` builds Ada's resource and returns the path (and query)
    parameters naming it; ``body`` is the request body. ``ada`` is the status Ada gets
    on her own resource; ``grace`` the status Grace gets on it (404: in the error
    format; otherwise an answer holding only Grace's data)."""

    method: str
    path: str
    public: str = ""  #: why anyone may call it; public rows are not probed here
    given: Params = _none
    query: Params = _none
    body: Body | None = None
    ada: int = 200
    grace: int = 404
    grace_code: str | None = None  #: the error code Grace gets, when it is not 404's

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _public(method: str, path: str, reason: str) -> Row:
    return Row(method, path, public=reason)


def _workflow(adas: Adas) -> dict[str, str]:
    return {"workflow_id": adas.workflow}


def _execution(adas: Adas) -> dict[str, str]:
    return {"execution_id": adas.execution}


def _finished(adas: Adas) -> dict[str, str]:
    return {"execution_id": adas.finished_execution}


def _secret(adas: Adas) -> dict[str, str]:
    return {"secret_id": adas.secret["id"]}


def _token(adas: Adas) -> dict[str, str]:
    return {"token_id": adas.token}


def _everything(adas: Adas) -> dict[str, str]:
    """For lists and the caller's own account: Ada has one of each, Grace must see none."""
    _ = adas.finished_execution, adas.secret, adas.token, adas.settings
    return {}


def _ada_workflow_filter(adas: Adas) -> dict[str, str]:
    return {"workflowId": adas.workflow}


def _test_prompt(adas: Adas) -> dict[str, Any]:
    config = {
        "provider": "openai-compatible",
        "baseUrl": f"{adas.openai_url}/v1",
        "model": "echo",
        "prompt": "Hello",
        "secretArn": adas.secret["arn"],
    }
    return {"config": config}


def _generate_config(adas: Adas) -> dict[str, Any]:
    return {
        "prompt": "Fetch order 1",
        "nodeType": "http",
        "provider": "openai-compatible",
        "model": "scripted",
        "baseUrl": f"{adas.magic_url}/v1",
        "secretArn": adas.secret["arn"],
    }


WORKFLOW_BODY: Body = lambda _: {"name": "Caller's flow", "graph": starter_graph()}  # noqa: E731
WEBHOOK = "the webhook token in the path is the credential (services/webhooks.py)"
FORM = "signs the caller in, up or out: HTML form post answered by a redirect"

ROWS: list[Row] = [
    _public("GET", "/api/health", "liveness, no user data"),
    _public("GET", "/api/openapi.json", "the API's description, no user data"),
    _public("GET", "/api/docs", "Swagger UI page, no user data"),
    _public("GET", "/docs/oauth2-redirect", "Swagger UI's OAuth helper page, no user data"),
    *(_public(method, "/hooks/{token}", WEBHOOK) for method in ("POST", "GET", "PUT")),
    *(_public(method, "/hooks/{token}", WEBHOOK) for method in ("PATCH", "DELETE")),
    _public("POST", "/api/auth/sign-up", "creates an account: anyone may"),
    _public("POST", "/api/auth/sign-in", "password sign-in, throttled on failures"),
    _public("POST", "/api/auth/sign-out", "ends the session of the caller's own cookie"),
    _public("POST", "/api/auth/form/sign-in", FORM),
    _public("POST", "/api/auth/form/sign-up", FORM),
    _public("POST", "/api/auth/form/sign-out", FORM),
    # The caller's own account
    Row("GET", "/api/auth/me", given=_everything, grace=200),
    Row("GET", "/api/settings", given=_everything, grace=200),
    Row(
        "PUT",
        "/api/settings",
        given=_everything,
        body=lambda _: {"defaultAiProvider": "anthropic", "defaultAiModel": "claude-x"},
        grace=200,
    ),
    # API tokens
    Row("GET", "/api/tokens", given=_everything, grace=200),
    Row(
        "POST", "/api/tokens", given=_everything, body=lambda _: {"name": "ci"}, ada=201, grace=201
    ),
    Row("DELETE", "/api/tokens/{token_id}", given=_token, ada=204),
    # Workflows
    Row("GET", "/api/workflows", given=_everything, grace=200),
    Row("POST", "/api/workflows", given=_everything, body=WORKFLOW_BODY, ada=201, grace=201),
    Row("POST", "/api/workflows/import", given=_everything, body=WORKFLOW_BODY, ada=201, grace=201),
    Row("GET", "/api/workflows/{workflow_id}", given=_workflow),
    Row(
        "PATCH",
        "/api/workflows/{workflow_id}",
        given=_workflow,
        body=lambda _: {"name": "Renamed by the caller", "isActive": False},
    ),
    Row("DELETE", "/api/workflows/{workflow_id}", given=_workflow, ada=204),
    Row("GET", "/api/workflows/{workflow_id}/export", given=_workflow),
    Row("GET", "/api/workflows/{workflow_id}/versions", given=_workflow),
    # Executions
    Row(
        "POST",
        "/api/workflows/{workflow_id}/run",
        given=_workflow,
        body=lambda _: {"payload": {"by": "the caller"}},
        ada=202,
    ),
    Row(
        "POST",
        "/api/workflows/{workflow_id}/executions",
        given=_workflow,
        body=lambda _: {"payload": {"by": "the caller"}},
        ada=202,
    ),
    Row("GET", "/api/executions", given=_everything, query=_ada_workflow_filter, grace=200),
    Row("GET", "/api/executions/{execution_id}", given=_execution),
    Row("POST", "/api/executions/{execution_id}/cancel", given=_execution),
    Row(
        "POST",
        "/api/executions/{execution_id}/retry",
        given=_finished,
        body=lambda _: {"fromFailedNode": False},
        ada=201,
    ),
    # Credentials
    Row("GET", "/api/secrets", given=_everything, grace=200),
    Row(
        "POST",
        "/api/secrets",
        body=lambda adas: {"name": "Caller key", "value": "v-1", "workflowId": adas.workflow},
        ada=201,
    ),
    Row(
        "POST",
        "/api/secrets/{secret_id}/rotate",
        given=_secret,
        body=lambda _: {"value": "rotated by the caller"},
    ),
    Row("DELETE", "/api/secrets/{secret_id}", given=_secret, ada=204),
    # AI helpers: Ada's credential named by Grace is not used (nor its value sent anywhere)
    Row(
        "POST",
        "/api/ai/test-prompt",
        body=_test_prompt,
        grace=422,
        grace_code="CREDENTIAL_MISSING",
    ),
    Row(
        "POST",
        "/api/ai/generate-config",
        body=_generate_config,
        grace=422,
        grace_code="CREDENTIAL_MISSING",
    ),
]

USER_ROWS = [row for row in ROWS if not row.public]


def _route_keys() -> list[str]:
    keys = []
    for route in iter_route_contexts(create_api().routes):
        for method in sorted((route.methods or set()) - {"HEAD"}):
            keys.append(f"{method} {route.path}")
    return keys


def test_every_route_has_exactly_one_row() -> None:
    routes = _route_keys()
    rows = [row.key for row in ROWS]

    missing = sorted(set(routes) - set(rows))
    stale = sorted(set(rows) - set(routes))
    repeated = sorted({key for key in rows if rows.count(key) > 1})

    assert not missing, (
        f"routes without a row in {__name__}.ROWS: {missing}. Add one: public (with the "
        "reason), or how to build Ada's resource and what Ada and Grace get."
    )
    assert not stale, f"rows for routes that no longer exist: {stale}"
    assert not repeated, f"routes with more than one row: {repeated}"


@pytest.fixture
def adas(ada: httpx.Client, allow_loopback: None) -> Iterator[Adas]:
    with ExitStack() as stack:
        yield Adas(ada, stack)


@dataclass
class Call:
    method: str
    url: str
    query: dict[str, str]
    body: Any = field(default=None)

    def send(self, client: httpx.Client) -> httpx.Response:
        if self.body is None:
            return client.request(self.method, self.url, params=self.query)
        return client.request(self.method, self.url, params=self.query, json=self.body)


def _assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) <= {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], body


def _assert_no_leak(response: httpx.Response, call: Call, adas: Adas) -> None:
    sent = f"{call.url} {call.query} {call.body}"
    leaked = [item for item in (*CANARIES, *adas.ids) if item in response.text and item not in sent]
    assert not leaked, f"the answer holds Ada's {leaked}: {response.text[:500]}"
    for server in adas.servers:
        for request in server.requests:
            assert SECRET_VALUE not in f"{request.headers} {request.body!r}", (
                "Ada's credential value was sent to a model for another caller"
            )


@pytest.mark.parametrize("row", USER_ROWS, ids=[row.key for row in USER_ROWS])
def test_only_the_owner_reaches_a_users_data(
    row: Row, adas: Adas, anonymous: httpx.Client, grace: httpx.Client
) -> None:
    # Given: Ada's resource for this route, and all Ada can see
    params = row.given(adas)
    call = Call(
        row.method,
        row.path.format(**params),
        row.query(adas),
        row.body(adas) if row.body else None,
    )
    before = adas.world()

    # When/Then: anonymous is refused (401, one error format) and writes nothing
    _assert_error(call.send(anonymous), 401, "UNAUTHORIZED")
    assert adas.world() == before, "an anonymous request changed Ada's data"

    # When/Then: Grace gets 404 (or only her own data) and writes nothing of Ada's
    answer = call.send(grace)
    if row.grace == 404:
        _assert_error(answer, 404, "NOT_FOUND")
    elif row.grace_code is not None:
        _assert_error(answer, row.grace, row.grace_code)
    else:
        assert answer.status_code == row.grace, answer.text
    _assert_no_leak(answer, call, adas)
    assert adas.world() == before, "another user's request changed Ada's data"

    # When/Then: Ada, the owner, is allowed
    own = call.send(adas.client)
    assert own.status_code == row.ada, own.text
