"""Webhook bodies the fuzzer makes up, over real HTTP, on both databases.

Every call is accepted (202, and the stored execution's trigger ``data`` is what was
sent, read by an oracle written independently of the app's parser) or refused with
400 or 413 in the error format, having stored nothing. Never a 500.
"""

from __future__ import annotations

import base64
import decimal
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from tests.engine.helpers import edge, jsonata, make_workflow, node, wait_for
from tests.fuzz.conftest import assert_error_format
from workfuse.db import session_scope
from workfuse.db_types import MAX_JSON_DEPTH
from workfuse.models import Execution, ExecutionStatus, User, Workflow
from workfuse.settings import get_settings

LIMIT = 4096  #: bytes: WORKFUSE_WEBHOOK_MAX_BYTES in these tests, so huge bodies are cheap
EXAMPLES = 60

JSON_TYPES = ["application/json", "application/vnd.api+json", "application/json; charset=utf-8"]
OTHER_TYPES = [
    None,
    "",
    "text/plain",
    "text/plain; charset=latin-1",
    "text/plain; charset=no-such-charset",
    "text/csv; charset=utf-16",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "multipart/form-data; boundary=xyz",
    "application/octet-stream",
    "application/xml",
    "image/png",
    "no slash at all",
    ";;;=",
    "application/json-seq",
]
#: A body that looks like the app's own fields: it must stay data.
INTERNAL_LOOKING = {
    "__class__": "workfuse.models.Execution",
    "__proto__": {"admin": True},
    "constructor": {"prototype": {"x": 1}},
    "nodes": [{"id": "x", "type": "http", "data": {"config": {"url": "http://127.0.0.1"}}}],
    "trigger": {"source": "manual", "data": "{{ secrets }}"},
    "source": "internal",
    "executionId": "0" * 32,
    "status": "COMPLETED",
    "{{ 7 * 7 }}": "{% raw %}{{ config }}{% endraw %}",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@st.composite
def bodies(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A raw body and the Content-Type it is sent with (None: no header)."""
    kind = draw(st.sampled_from(["json", "form", "text", "bytes", "internal", "big", "empty"]))
    content_type = draw(st.sampled_from([*JSON_TYPES, *OTHER_TYPES]))
    if kind == "json":
        raw = json.dumps(draw(json_values), ensure_ascii=draw(st.booleans())).encode()
    elif kind == "internal":
        raw = json.dumps(INTERNAL_LOOKING).encode()
    elif kind == "form":
        pairs = draw(st.lists(st.tuples(st.text(), st.text()), max_size=5))
        raw = urlencode(pairs).encode()
    elif kind == "text":
        raw = draw(st.text()).encode(
            draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), "replace"
        )
    elif kind == "big":
        raw = b"x" * draw(st.integers(min_value=LIMIT - 2, max_value=LIMIT * 3))
    elif kind == "empty":
        raw = b""
    else:
        raw = draw(st.binary(max_size=300))
    return raw, content_type


def expected_data(raw: bytes, content_type: str | None) -> Any:
    """What the trigger's ``data`` must be, from the HTTP rules, not from the app's code:
    ``None`` for no body, JSON parsed, a form as an object, text as a string, else the
    bytes in base64 with the content type."""
    if not raw:
        return None
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = params.partition("charset=")[2].strip() or "utf-8"
    if media == "application/json" or media.endswith("+json"):
        return json.loads(raw)
    if media == "application/x-www-form-urlencoded":
        form: dict[str, Any] = {}
        for name, value in parse_qsl(raw.decode(charset), keep_blank_values=True):
            previous = form.get(name)
            if previous is None:
                form[name] = value
            else:
                form[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        return form
    if media.startswith("text/"):
        try:
            text = raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            text = None
        # Text PostgreSQL cannot store (NUL, lone surrogates) is kept as bytes instead.
        if text is not None and not any(
            char == "\0" or "\ud800" <= char <= "\udfff" for char in text
        ):
            return text
    return {"contentType": content_type or "application/octet-stream", "base64": ""}


def execution_count() -> int:
    with session_scope() as session:
        return session.exec(select(func.count()).select_from(Execution)).one()


@pytest.fixture
def hook_url(
    api_url: str, session: Session, user: User, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The webhook URL of an active workflow (trigger -> transform); a 4 KiB limit."""
    monkeypatch.setenv("WORKFUSE_WEBHOOK_MAX_BYTES", str(LIMIT))
    get_settings.cache_clear()
    workflow = make_workflow(
        session,
        user,
        [node("start", "trigger", {}), jsonata("shape", "trigger.data")],
        [edge("start", "shape")],
    )
    yield f"{api_url}/hooks/{workflow.webhook_token}"


def check_call(response: httpx.Response, raw: bytes, content_type: str | None, before: int) -> Any:
    """The invariants of one call; the stored trigger data of an accepted one."""
    assert response.status_code in (202, 400, 413), (response.status_code, response.text[:500])
    if response.status_code != 202:
        assert_error_format(response)
        assert execution_count() == before, "a refused webhook call stored an execution"
        if response.status_code == 413:
            assert len(raw) > LIMIT
        return None
    assert len(raw) <= LIMIT
    with session_scope() as db:
        execution = db.get(Execution, response.json()["executionId"])
        assert execution is not None, "an accepted call has no stored execution"
        stored = execution.trigger_data
    assert stored["source"] == "webhook" and stored["method"] == "POST"
    expected = expected_data(raw, content_type)
    if isinstance(expected, dict) and expected.get("base64") == "":  # bytes kept as base64
        assert stored["data"]["contentType"] == expected["contentType"]
        assert base64.b64decode(stored["data"]["base64"]) == raw
    else:
        assert as_json_numbers(stored["data"]) == as_json_numbers(expected)
    return stored["data"]


def as_json_numbers(value: Any) -> Any:
    """``value`` with every number as the decimal its JSON text denotes.

    PostgreSQL's JSONB keeps a number's decimal value, not its type: ``7.205759403792149e16``
    comes back as ``72057594037921490``, the same JSON number, but Python parses the one
    as a float (72057594037921488.0) and the other as an int.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return decimal.Decimal(repr(value)) if isinstance(value, float) else decimal.Decimal(value)
    if isinstance(value, list):
        return [as_json_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: as_json_numbers(item) for key, item in value.items()}
    return value


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies(), query=st.lists(st.tuples(st.text(), st.text()), max_size=3))
def test_any_body_is_stored_as_sent_or_refused(
    hook_url: str, body: tuple[bytes, str | None], query: list[tuple[str, str]]
) -> None:
    # Given a body with some content type, and a query string
    raw, content_type = body
    headers = {} if content_type is None else {"Content-Type": content_type}
    before = execution_count()

    # When it is posted to the webhook
    response = httpx.post(hook_url, content=raw, headers=headers, params=query, timeout=20)

    # Then it is stored as sent, or refused in the error format with nothing stored
    check_call(response, raw, content_type, before)


def nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, MAX_JSON_DEPTH + 1, 5_000, 1_300_000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_deeply_nested_json_is_stored_or_refused(
    hook_url: str, monkeypatch: pytest.MonkeyPatch, depth: int, kind: str
) -> None:
    # Given JSON nested ``depth`` deep (the largest within the 10 MiB API limit)
    monkeypatch.setenv("WORKFUSE_WEBHOOK_MAX_BYTES", str(10 * 1024 * 1024))
    get_settings.cache_clear()
    raw = nested(depth, kind)
    before = execution_count()

    # When it is posted
    response = httpx.post(
        hook_url, content=raw, headers={"Content-Type": "application/json"}, timeout=30
    )

    # Then it is stored as sent up to the depth limit, refused with 400 beyond it
    # (never a 500 or a dead server)
    assert response.status_code == (202 if depth <= MAX_JSON_DEPTH else 400), response.text[:300]
    if response.status_code == 400:
        assert_error_format(response)
        assert "nested" in response.json()["error"]["message"]
        assert execution_count() == before
    else:
        with session_scope() as db:
            execution = db.get(Execution, response.json()["executionId"])
            assert execution is not None
            assert execution.trigger_data["data"] == json.loads(raw)
    assert httpx.get(hook_url.split("/hooks/")[0] + "/api/health").status_code == 200


def test_odd_bodies_run_to_the_end(api_url: str, session: Session, user: User, engine: str) -> None:
    # Given a workflow that passes its trigger data on, and the workers running
    workflow: Workflow = make_workflow(
        session,
        user,
        [node("start", "trigger", {}), jsonata("shape", "trigger.data")],
        [edge("start", "shape")],
    )
    url = f"{api_url}/hooks/{workflow.webhook_token}"
    calls: list[tuple[bytes, str | None]] = [
        (json.dumps(INTERNAL_LOOKING).encode(), "application/json"),
        (nested(MAX_JSON_DEPTH, "object"), "application/json"),  # the deepest allowed
        (b"\xff\xfe\x00garbage", "text/plain"),
        (b"a=1&a=2&__class__=x", "application/x-www-form-urlencoded"),
        (b"", None),
    ]

    # When each is posted
    ids = []
    for raw, content_type in calls:
        headers = {} if content_type is None else {"Content-Type": content_type}
        response = httpx.post(url, content=raw, headers=headers, timeout=20)
        assert response.status_code == 202, response.text[:300]
        ids.append(response.json()["executionId"])

    # Then every run ends, completed, with the data as sent as the transform's input
    for execution_id, (raw, content_type) in zip(ids, calls, strict=True):
        execution, runs = wait_for(execution_id)
        assert execution.status == ExecutionStatus.COMPLETED, execution.error
        expected = expected_data(raw, content_type)
        if not (isinstance(expected, dict) and expected.get("base64") == ""):
            assert runs["start"].output["data"] == expected
