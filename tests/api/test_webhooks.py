"""Webhooks over real HTTP, on both stacks (SQLite + embedded workers, PostgreSQL + Redis).

Every refused call is checked to have stored nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, func, select

from tests.engine.helpers import edge, jsonata, make_workflow, node, wait_for
from workfuse.db import session_scope
from workfuse.engine import broker
from workfuse.logs import configure_logging
from workfuse.models import Execution, ExecutionStatus, NodeRun, NodeRunStatus, User, Workflow
from workfuse.nodes.trigger import TriggerNodeConfig, WebhookHmac
from workfuse.secrets import process_secret_store
from workfuse.services import webhooks as webhook_service
from workfuse.services.errors import Unauthorized
from workfuse.services.secrets import create_secret
from workfuse.services.webhooks import parse_body, sign, verify_signature
from workfuse.services.workflows import WorkflowUpdate, set_active, update_workflow
from workfuse.settings import get_settings

SIGNING_KEY = "whsec-test-signing-key-4d1c"


@pytest.fixture
def client(api_url: str, engine: str) -> Iterator[httpx.Client]:
    """An anonymous caller; the engine's workers are running."""
    with httpx.Client(base_url=api_url, timeout=40) as caller:
        yield caller


def hook(
    session: Session, user: User, trigger: dict[str, Any] | None = None, code: str = "trigger.data"
) -> Workflow:
    """trigger -> transform ``shape`` (JSONata ``code``)."""
    return make_workflow(
        session,
        user,
        [
            node("start", "trigger", {"source": "webhook", **(trigger or {})}),
            jsonata("shape", code),
        ],
        [edge("start", "shape")],
    )


def path_of(workflow: Workflow) -> str:
    return f"/hooks/{workflow.webhook_token}"


def stored(workflow: Workflow) -> list[Execution]:
    with session_scope() as session:
        query = select(Execution).where(Execution.workflow_id == workflow.id)
        return list(session.exec(query.order_by(col(Execution.started_at))))


def execution_count() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(Execution)).one()


def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"executionId"}
    execution_id: str = body["executionId"]
    return execution_id


def output(run: NodeRun) -> Any:
    """A node run's output (it succeeded)."""
    assert run.status == NodeRunStatus.SUCCEEDED, run.error
    return run.output


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    message: str = error["message"]
    return message


def signing_key(session: Session, user: User, value: str = SIGNING_KEY) -> str:
    """A credential of ``user``; its ARN, as a trigger's ``hmac.secretArn``."""
    reference = create_secret(
        session=session,
        store=process_secret_store(),
        user_id=user.id,
        name=f"webhook key {value[-4:]}",
        value=value,
    )
    return reference.arn


# --- accepting a call ---------------------------------------------------------------


def test_a_call_is_accepted_and_the_run_sees_the_payload(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given an active workflow whose transform reads trigger.data.x
    workflow = hook(session, user, code="trigger.data.x + 1")

    # When its webhook is called with JSON and a query string
    response = client.post(path_of(workflow), params={"a": ["1", "2"], "b": "3"}, json={"x": 41})

    # Then 202 with the id, and the execution completes with the payload visible
    execution, runs = wait_for(accepted(response))
    assert execution.status == ExecutionStatus.COMPLETED
    assert output(runs["shape"])["result"] == 42
    trigger = output(runs["start"])
    assert (trigger["source"], trigger["method"], trigger["data"]) == ("webhook", "POST", {"x": 41})
    assert trigger["query"] == {"a": ["1", "2"], "b": "3"}
    assert trigger["headers"]["content-type"] == "application/json"


def test_unknown_token_inactive_workflow_and_wrong_method_are_refused(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given an inactive workflow and an active one that accepts POST and PUT only
    inactive = hook(session, user)
    inactive.is_active = False
    session.add(inactive)
    session.commit()
    active = hook(session, user, {"methods": ["POST", "PUT"]})

    # When they are called wrongly
    unknown = client.post("/hooks/not-a-real-token", json={})
    off = client.post(path_of(inactive), json={})
    wrong = client.get(path_of(active))
    deleted = client.delete(path_of(active))

    # Then 404, 404, 405 (naming what is accepted), and nothing is stored
    assert refused(unknown, 404, "NOT_FOUND") == refused(off, 404, "NOT_FOUND")
    assert "POST, PUT" in refused(wrong, 405, "METHOD_NOT_ALLOWED")
    assert wrong.headers["allow"] == "POST, PUT"
    refused(deleted, 405, "METHOD_NOT_ALLOWED")
    assert execution_count() == 0

    # And the accepted methods do start runs
    accepted(client.put(path_of(active), json={}))
    assert len(stored(active)) == 1


def test_a_known_webhook_follows_changes_to_its_workflow_at_once(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given a webhook that accepts POST and has been called (so the app knows it)
    workflow = hook(session, user, {"methods": ["POST"]})
    accepted(client.post(path_of(workflow), json={}))
    refused(client.put(path_of(workflow), json={}), 405, "METHOD_NOT_ALLOWED")

    # When a new version that accepts PUT only is saved behind the app's back (as
    # another app process would)
    graph = json.loads(json.dumps(workflow.graph))
    graph["nodes"][0]["data"]["config"]["methods"] = ["PUT"]
    update_workflow(
        session=session, user=user, workflow_id=workflow.id, data=WorkflowUpdate(graph=graph)
    )
    session.commit()

    # Then it applies at once both ways, and the run is pinned to the new version
    execution, _ = wait_for(accepted(client.put(path_of(workflow), json={})))
    assert (execution.status, execution.workflow_version) == (ExecutionStatus.COMPLETED, 2)
    refused(client.post(path_of(workflow), json={}), 405, "METHOD_NOT_ALLOWED")

    # And once it is switched off, or deleted, calls are refused and store nothing
    set_active(session=session, user=user, workflow_id=workflow.id, active=False)
    session.commit()
    refused(client.put(path_of(workflow), json={}), 404, "NOT_FOUND")
    assert len(stored(workflow)) == 2
    set_active(session=session, user=user, workflow_id=workflow.id, active=True)
    session.commit()
    accepted(client.put(path_of(workflow), json={}))
    session.delete(workflow)
    session.commit()
    refused(client.put(path_of(workflow), json={}), 404, "NOT_FOUND")


def test_get_is_accepted_when_configured(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given a workflow that accepts GET
    workflow = hook(session, user, {"methods": ["GET"]}, code="trigger.query.id")

    # When it is called with GET and no body
    response = client.get(path_of(workflow), params={"id": "77"})

    # Then the run sees the query, and data is null
    _, runs = wait_for(accepted(response))
    assert output(runs["shape"])["result"] == "77"
    assert output(runs["start"])["data"] is None


def test_invalid_json_is_400_and_nothing_is_stored(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given an active workflow
    workflow = hook(session, user)

    # When the body claims to be JSON but is not (or holds what JSON forbids)
    broken = client.post(
        path_of(workflow), content=b'{"x": ', headers={"Content-Type": "application/json"}
    )
    infinite = client.post(
        path_of(workflow), content=b'{"x": 1e999}', headers={"Content-Type": "application/json"}
    )
    nul = client.post(
        path_of(workflow),
        content=b'{"x": "a\\u0000b"}',
        headers={"Content-Type": "application/json"},
    )

    # Then 400 each time, and no execution exists
    assert "not valid JSON" in refused(broken, 400, "BAD_REQUEST")
    refused(infinite, 400, "BAD_REQUEST")
    assert "NUL" in refused(nul, 400, "BAD_REQUEST")
    assert execution_count() == 0


def test_a_body_over_the_limit_is_413_and_nothing_is_stored(
    client: httpx.Client, session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a webhook limit of 1,000 bytes
    monkeypatch.setenv("WORKFUSE_WEBHOOK_MAX_BYTES", "1000")
    get_settings.cache_clear()
    workflow = hook(session, user)
    big = json.dumps({"x": "y" * 1000}).encode()

    # When a larger body is sent, with Content-Length and streamed without it
    declared = client.post(
        path_of(workflow), content=big, headers={"Content-Type": "application/json"}
    )
    streamed = client.post(
        path_of(workflow),
        content=iter([big[:500], big[500:]]),
        headers={"Content-Type": "application/json"},
    )

    # Then 413 both times, and nothing is stored
    assert "1000 bytes" in refused(declared, 413, "PAYLOAD_TOO_LARGE")
    refused(streamed, 413, "PAYLOAD_TOO_LARGE")
    assert execution_count() == 0

    # And a body within the limit is accepted
    accepted(client.post(path_of(workflow), json={"x": "small"}))


def test_form_text_and_binary_bodies(client: httpx.Client, session: Session, user: User) -> None:
    # Given an active workflow
    workflow = hook(session, user)

    # When it is called with a form, plain text and bytes
    form = client.post(path_of(workflow), data={"name": "Ada", "tag": ["a", "b"]})
    text = client.post(
        path_of(workflow), content="héllo", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    binary = client.post(
        path_of(workflow), content=b"\x00\xff", headers={"Content-Type": "application/pdf"}
    )

    # Then the runs see an object, a string and base64 with the content type
    results = [output(wait_for(accepted(r))[1]["shape"])["result"] for r in (form, text, binary)]
    assert results == [
        {"name": "Ada", "tag": ["a", "b"]},
        "héllo",
        {"contentType": "application/pdf", "base64": "AP8="},
    ]


def test_credentials_in_headers_are_not_stored(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given an active workflow
    workflow = hook(session, user)

    # When it is called with credentials in several headers
    response = client.post(
        path_of(workflow),
        json={},
        headers={
            "Authorization": "Bearer top-secret-1",
            "Cookie": "session=top-secret-2",
            "Proxy-Authorization": "Basic top-secret-3",
            "X-Api-Key": "top-secret-4",
            "X-Auth-Token": "top-secret-5",
            "X-Hub-Signature-256": "sha256=top-secret-6",
            "X-Client-Secret": "top-secret-7",
            "X-Request-Id": "req-1",
        },
    )
    execution_id = accepted(response)

    # Then the stored trigger payload keeps the others and none of the secrets
    with session_scope() as db:
        row = db.get(Execution, execution_id)
        assert row is not None
        headers = row.trigger_data["headers"]
    assert headers["x-request-id"] == "req-1"
    assert "top-secret" not in json.dumps(headers)
    assert not {"authorization", "cookie", "proxy-authorization", "x-api-key"} & set(headers)


# --- HMAC ---------------------------------------------------------------------------


def test_hmac_good_bad_stale_and_missing(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given a workflow that wants a signed timestamp and body (credential from the store)
    arn = signing_key(session, user)
    workflow = hook(
        session,
        user,
        {"hmac": {"secretArn": arn, "timestampHeader": "X-Timestamp", "toleranceSeconds": 60}},
    )
    body = b'{"order": 7}'
    now = str(int(time.time()))
    json_type = {"Content-Type": "application/json"}

    def call(signature: str | None, stamp: str = now) -> httpx.Response:
        headers = {**json_type, "X-Timestamp": stamp}
        if signature is not None:
            headers["X-Signature-256"] = signature
        return client.post(path_of(workflow), content=body, headers=headers)

    # When it is called with a good, a wrong, a stale and no signature (and a good one
    # as bare hex, signed a second earlier: the same signature twice would be a replay)
    good = call(sign(SIGNING_KEY, body, timestamp=now))
    earlier = str(int(now) - 1)
    bare_hex = call(sign(SIGNING_KEY, body, timestamp=earlier).removeprefix("sha256="), earlier)
    wrong = call(sign("another-key", body, timestamp=now))
    old = str(int(time.time()) - 3600)
    stale = call(sign(SIGNING_KEY, body, timestamp=old), stamp=old)
    missing = call(None)

    # Then only the good ones start runs; the others are 401 and store nothing
    good_id, bare_id = accepted(good), accepted(bare_hex)
    assert "does not match" in refused(wrong, 401, "UNAUTHORIZED")
    assert "seconds away" in refused(stale, 401, "UNAUTHORIZED")
    assert "X-Signature-256" in refused(missing, 401, "UNAUTHORIZED")
    assert {e.id for e in stored(workflow)} == {good_id, bare_id}
    for response in (wrong, stale, missing):
        assert SIGNING_KEY not in response.text
    execution, _ = wait_for(good_id)
    assert execution.status == ExecutionStatus.COMPLETED
    assert "x-signature-256" not in execution.trigger_data["headers"]


@pytest.mark.parametrize("timestamped", [True, False], ids=["timestamp", "body-only"])
def test_a_replayed_signed_call_is_refused_and_stores_nothing(
    client: httpx.Client, session: Session, user: User, timestamped: bool
) -> None:
    # Given a signed webhook (a signed timestamp and body, or the body alone)
    arn = signing_key(session, user)
    options = {"timestampHeader": "X-Timestamp"} if timestamped else {}
    workflow = hook(session, user, {"hmac": {"secretArn": arn, **options}})
    body = b'{"order": 7}'
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json"}
    if timestamped:
        headers["X-Timestamp"] = stamp
    headers["X-Signature-256"] = sign(SIGNING_KEY, body, timestamp=stamp if timestamped else None)

    # When a call is sent, and then sent again as it was captured (also with the hex
    # in upper case, without its prefix)
    first = accepted(client.post(path_of(workflow), content=body, headers=headers))
    replay = client.post(path_of(workflow), content=body, headers=headers)
    respelled = {**headers, "X-Signature-256": headers["X-Signature-256"][7:].upper()}
    replay_respelled = client.post(path_of(workflow), content=body, headers=respelled)

    # Then every replay is refused with a plain message and only the first is stored
    message = refused(replay, 409, "WEBHOOK_REPLAYED")
    assert "already used" in message and SIGNING_KEY not in replay.text
    refused(replay_respelled, 409, "WEBHOOK_REPLAYED")
    assert [row.id for row in stored(workflow)] == [first]


def test_identical_signed_calls_at_the_same_moment_get_one_202(
    client: httpx.Client, api_url: str, session: Session, user: User
) -> None:
    # Given a signed webhook and one signed call
    arn = signing_key(session, user)
    workflow = hook(session, user, {"hmac": {"secretArn": arn, "timestampHeader": "X-Timestamp"}})
    body = b'{"order": 8}'
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature-256": sign(SIGNING_KEY, body, timestamp=stamp),
    }
    barrier = threading.Barrier(6)

    def send(_index: int) -> int:
        with httpx.Client(base_url=api_url, timeout=40) as caller:
            barrier.wait()
            return caller.post(path_of(workflow), content=body, headers=headers).status_code

    # When six connections send it at the same moment
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(send, range(6)))

    # Then exactly one is accepted, the others are refused, and one run is stored
    assert statuses == [202, 409, 409, 409, 409, 409]
    assert len(stored(workflow)) == 1


def test_hmac_with_another_users_credential_is_refused(
    client: httpx.Client, session: Session, user: User, other_user: User
) -> None:
    # Given a workflow whose hmac names a credential of another user
    arn = signing_key(session, other_user)
    workflow = hook(session, user, {"hmac": {"secretArn": arn, "algorithm": "sha512"}})
    body = b"{}"

    # When it is called with a signature made with that credential's value
    response = client.post(
        path_of(workflow),
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Signature-256": sign(SIGNING_KEY, body, algorithm="sha512"),
        },
    )

    # Then it is refused: only the workflow owner's credentials count
    assert "credential is missing" in refused(response, 401, "UNAUTHORIZED")
    assert execution_count() == 0


def test_verify_signature_scheme() -> None:
    # Given the documented scheme: hex HMAC of "<timestamp>.<body>", optional prefix
    config = WebhookHmac(secret_arn="arn", timestamp_header="X-Timestamp", algorithm="sha1")
    body = b"payload"
    digest = hmac.new(b"k3y", b"1700000000.payload", hashlib.sha1).hexdigest()

    # When / Then: the bare and prefixed hex pass, in any case, within the tolerance
    for sent in (digest, f"sha1={digest}", digest.upper()):
        headers = {"x-signature-256": sent, "x-timestamp": "1700000000"}
        verify_signature(config, key="k3y", headers=headers, body=body, now=1_700_000_100)
    # And a non-numeric or far-off timestamp is refused
    for stamp, now in (("17e8", 1_700_000_000), ("1700000000", 1_700_000_301)):
        headers = {"x-signature-256": digest, "x-timestamp": stamp}
        with pytest.raises(Unauthorized):
            verify_signature(config, key="k3y", headers=headers, body=body, now=now)


# --- idempotency, sync mode, broker outage -----------------------------------------------


def test_a_repeated_idempotency_key_returns_the_first_execution(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given a workflow that reads an idempotency key from a header
    workflow = hook(session, user, {"idempotencyHeader": "Idempotency-Key"})

    # When the same key is sent twice, then another key
    first = accepted(
        client.post(path_of(workflow), json={"n": 1}, headers={"Idempotency-Key": "k1"})
    )
    second = accepted(
        client.post(path_of(workflow), json={"n": 2}, headers={"Idempotency-Key": "k1"})
    )
    third = accepted(
        client.post(path_of(workflow), json={"n": 3}, headers={"Idempotency-Key": "k2"})
    )

    # Then the repeat got the first id and started nothing
    assert first == second != third
    rows = stored(workflow)
    assert [row.id for row in rows] == [first, third]
    assert rows[0].trigger_data["data"] == {"n": 1}


def test_sync_mode_answers_with_the_final_output(
    client: httpx.Client, session: Session, user: User
) -> None:
    # Given a synchronous workflow: trigger -> shape -> total
    workflow = make_workflow(
        session,
        user,
        [
            node("start", "trigger", {"syncTimeoutSeconds": 20}),
            jsonata("shape", "trigger.data.items"),
            jsonata("total", "$sum(nodes.shape.result)"),
        ],
        [edge("start", "shape"), edge("shape", "total")],
    )

    # When it is called
    response = client.post(path_of(workflow), json={"items": [1, 2, 3.5]})

    # Then 200 with the last node's output, once the run completed
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "COMPLETED"
    assert body["output"]["result"] == 6.5
    execution, runs = wait_for(body["executionId"])
    assert execution.status == ExecutionStatus.COMPLETED
    assert runs["total"].status == NodeRunStatus.SUCCEEDED


def test_broker_down_still_202_and_the_execution_waits(
    client: httpx.Client, session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a broker that refuses every message, and a plain and a synchronous workflow
    def refuse(execution_id: str) -> None:
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(broker, "enqueue", refuse)
    plain = hook(session, user)
    waiting = hook(session, user, {"syncTimeoutSeconds": 1})

    # When both are called
    plain_id = accepted(client.post(path_of(plain), json={"x": 1}))
    started = time.monotonic()
    waiting_id = accepted(client.post(path_of(waiting), json={"x": 2}))

    # Then both got 202 (the synchronous one after its timeout), and both are stored
    # PENDING for the reconciler
    assert time.monotonic() - started >= 0.9
    time.sleep(0.2)
    for workflow, execution_id in ((plain, plain_id), (waiting, waiting_id)):
        (row,) = stored(workflow)
        assert (row.id, row.status) == (execution_id, ExecutionStatus.PENDING)


# --- config -----------------------------------------------------------------------------


def test_trigger_webhook_options_and_defaults() -> None:
    # Given the smallest trigger config and a full one
    default = TriggerNodeConfig()
    full = TriggerNodeConfig.model_validate(
        {
            "methods": ["GET", "POST"],
            "hmac": {"secretArn": "local:x", "algorithm": "sha1", "timestampHeader": "X-T"},
            "idempotencyHeader": "Idempotency-Key",
            "syncTimeoutSeconds": 30,
        }
    )

    # Then the defaults keep old workflows as they were, and the full one reads camelCase
    assert (default.methods, default.hmac, default.idempotency_header) == (["POST"], None, None)
    assert default.sync_timeout_seconds is None
    assert full.hmac is not None
    assert (full.hmac.header, full.hmac.tolerance_seconds) == ("X-Signature-256", 300)
    bad_configs: list[dict[str, Any]] = [
        {"syncTimeoutSeconds": 31},
        {"methods": ["HEAD"]},
        {"methods": []},
        {"hmac": {}},
    ]
    for bad in bad_configs:
        with pytest.raises(ValueError):
            TriggerNodeConfig.model_validate(bad)


def test_parse_body_by_content_type() -> None:
    assert parse_body(b"", "application/json") is None
    assert parse_body(b'{"a": [1]}', "application/vnd.api+json") == {"a": [1]}
    assert parse_body(b"a=1&a=2&b=", "application/x-www-form-urlencoded") == {
        "a": ["1", "2"],
        "b": "",
    }
    assert parse_body("é".encode("latin-1"), "text/plain; charset=latin-1") == "é"
    assert parse_body(b"\xff", "text/plain") == {"contentType": "text/plain", "base64": "/w=="}
    assert parse_body(b"x", None) == {"contentType": "application/octet-stream", "base64": "eA=="}


def test_json_nested_deeper_than_a_run_can_hold_is_refused() -> None:
    """Found by tests/fuzz: 1.3 million ``[`` were a 500 (RecursionError in the JSON
    decoder); 300 levels were accepted, then the run crashed serializing them."""
    from workfuse.db_types import MAX_JSON_DEPTH
    from workfuse.services.errors import BadRequest

    def nested(depth: int) -> bytes:
        return b"[" * depth + b"]" * depth

    assert parse_body(nested(MAX_JSON_DEPTH), "application/json") is not None
    for depth in (MAX_JSON_DEPTH + 1, 300, 1_300_000):
        with pytest.raises(BadRequest, match="nested more than"):
            parse_body(nested(depth), "application/json")


# --- logs -----------------------------------------------------------------------------


def _server_log(records: list[logging.LogRecord]) -> str:
    """Every log line of the server process, rendered with its traceback; the lines of
    the test's own HTTP client (httpx, which logs the URL it calls) are left out."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(
        formatter.format(record)
        for record in records
        if not record.name.startswith(("httpx", "httpcore"))
    )


@pytest.mark.parametrize("failure", ["unexpected", "database"])
def test_an_unhandled_error_logs_the_route_template_never_the_token(
    anonymous: httpx.Client,
    session: Session,
    user: User,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    # Given a webhook whose handling fails in a way nobody planned for, with an error
    # that quotes the token (as a lookup error or a database error with parameters does)
    workflow = hook(session, user)
    token = workflow.webhook_token
    assert token is not None

    def broken(**call: Any) -> None:
        if failure == "database":
            cause = ConnectionRefusedError("server closed the connection")
            raise OperationalError("SELECT 1 WHERE token = %(t)s", {"t": call["token"]}, cause)
        raise LookupError(f"no cached target for {call['token']}")

    monkeypatch.setattr(webhook_service, "receive_webhook", broken)

    # When it is called (every logger of the process listening, at every level, set up
    # as the app sets up logging when it starts)
    with caplog.at_level(logging.DEBUG):
        configure_logging()
        response = anonymous.post(path_of(workflow), json={})
        time.sleep(0.3)  # a server logs an error it was handed after the answer went out

    # Then the caller gets the error format, and no log line names the token: only
    # the route template
    assert response.status_code == (503 if failure == "database" else 500), response.text
    logged = _server_log(caplog.records)
    assert "/hooks/{token}" in logged
    assert token not in logged
    if failure == "unexpected":
        reference = response.json()["error"]["message"].split("reference ")[1].split()[0]
        assert reference in logged and "LookupError" in logged  # the operator can find it
    assert execution_count() == 0


def test_a_token_the_database_cannot_store_is_refused_not_500(
    anonymous: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A NUL in the token was a 500 on PostgreSQL (a DataError that quoted the token)."""
    with caplog.at_level(logging.DEBUG):
        configure_logging()
        response = anonymous.post("/hooks/abc%00defghij", json={})

    # (400 from the request check in front of every route; 404 from the webhook service
    # itself, for a caller that reaches it some other way)
    assert response.status_code in (400, 404), response.text
    assert "defghij" not in _server_log(caplog.records)
