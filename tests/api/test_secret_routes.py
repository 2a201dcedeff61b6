"""Credentials over HTTP: values go in and never come out, anywhere."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from tests.api.test_workflow_routes import GRAPH
from workfuse.db import get_engine
from workfuse.logs import REDACTOR, configure_logging
from workfuse.models import LoginSession
from workfuse.services.auth import SESSION_REFRESH_AFTER, SESSION_TTL

CANARY = "sk-canary-7f3e9a1c5b"


def test_create_list_rotate_delete(ada: httpx.Client) -> None:
    # When: a credential is created
    created = ada.post("/api/secrets", json={"name": "OpenAI", "value": CANARY})

    # Then: it is described, never echoed; its ARN is what node configs reference
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {"id", "name", "arn", "description", "createdAt", "workflowId"}
    assert body["arn"].startswith("local:")
    assert [s["name"] for s in ada.get("/api/secrets").json()] == ["OpenAI"]

    # And: rotation keeps the reference; deletion removes it
    rotated = ada.post(f"/api/secrets/{body['id']}/rotate", json={"value": "sk-new-value-123"})
    assert rotated.status_code == 200 and rotated.json()["arn"] == body["arn"]
    assert ada.delete(f"/api/secrets/{body['id']}").status_code == 204
    assert ada.get("/api/secrets").json() == []


def test_a_session_due_for_its_refresh_can_create_and_rotate(
    ada: httpx.Client, database_url: str
) -> None:
    """The refresh's write is committed before the secret store writes (SQLite locks)."""
    due = datetime.now(UTC) + SESSION_TTL - SESSION_REFRESH_AFTER - timedelta(minutes=1)
    with get_engine(database_url).begin() as connection:
        connection.execute(sa.update(LoginSession).values(expires_at=due))

    created = ada.post("/api/secrets", json={"name": "Due", "value": CANARY}, timeout=10)
    assert created.status_code == 201, created.text
    with get_engine(database_url).begin() as connection:
        connection.execute(sa.update(LoginSession).values(expires_at=due))
    rotated = ada.post(
        f"/api/secrets/{created.json()['id']}/rotate", json={"value": "sk-rotated-1"}, timeout=10
    )
    assert rotated.status_code == 200, rotated.text


def test_a_duplicate_name_is_a_conflict_and_other_users_see_nothing(
    ada: httpx.Client, grace: httpx.Client
) -> None:
    created = ada.post("/api/secrets", json={"name": "Stripe", "value": CANARY}).json()

    again = ada.post("/api/secrets", json={"name": "Stripe", "value": "x" * 10})
    assert again.status_code == 409

    assert grace.get("/api/secrets").json() == []
    assert grace.delete(f"/api/secrets/{created['id']}").status_code == 404
    rotate = grace.post(f"/api/secrets/{created['id']}/rotate", json={"value": "mine now"})
    assert rotate.status_code == 404
    assert len(ada.get("/api/secrets").json()) == 1


def test_an_empty_or_oversized_value_is_refused_without_echoing_it(ada: httpx.Client) -> None:
    empty = ada.post("/api/secrets", json={"name": "Empty", "value": ""})
    huge = ada.post("/api/secrets", json={"name": "Huge", "value": CANARY * 10_000})
    assert empty.status_code == huge.status_code == 422
    assert CANARY not in huge.text
    assert ada.get("/api/secrets").json() == []


def test_the_canary_value_is_nowhere_a_person_or_a_log_could_see_it(
    ada: httpx.Client, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: logging configured as in the app, everything at DEBUG
    configure_logging()
    responses: list[httpx.Response] = []
    with caplog.at_level(logging.DEBUG):
        # When: a credential with the canary value goes through every route, and a
        # workflow references it (export included)
        created = ada.post("/api/secrets", json={"name": "Canary", "value": CANARY})
        responses.append(created)
        arn = created.json()["arn"]
        graph = {**GRAPH, "nodes": [*GRAPH["nodes"]]}
        graph["nodes"].append(
            {
                "id": "call",
                "type": "http",
                "position": {"x": 400, "y": 0},
                "data": {
                    "label": "Call",
                    "config": {
                        "url": "https://api.example.com",
                        "auth": {"type": "bearer", "secretArn": arn},
                    },
                },
            }
        )
        graph["edges"] = [*graph["edges"], {"id": "e2", "source": "shape", "target": "call"}]
        workflow = ada.post("/api/workflows", json={"name": "Uses it", "graph": graph})
        responses += [
            workflow,
            ada.get(f"/api/workflows/{workflow.json()['id']}/export"),
            ada.get("/api/secrets"),
            ada.post("/api/secrets", json={"name": "Canary", "value": CANARY}),  # 409
            ada.post(f"/api/secrets/{created.json()['id']}/rotate", json={"value": CANARY}),
        ]
        logging.getLogger("workfuse.test").warning("a careless line with %s", CANARY)

    # Then: no response, no log line and no database row holds the value in clear text
    for response in responses:
        assert CANARY not in response.text, response.request.url
    assert CANARY not in caplog.text
    assert any("[REDACTED]" in record.getMessage() for record in caplog.records)
    with get_engine(database_url).connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                assert CANARY not in repr(tuple(row)), table.name
    assert REDACTOR.redact_text(f"x{CANARY}x") == "x[REDACTED]x"


def test_api_keys_from_the_settings_are_redacted_from_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Given: an operator's default OpenAI key in the settings
    from workfuse.settings import get_settings

    monkeypatch.setenv("WORKFUSE_OPENAI_API_KEY", "sk-operator-canary-123")
    get_settings.cache_clear()

    # When: logging is configured and something logs it by mistake
    configure_logging()
    with caplog.at_level(logging.INFO):
        logging.getLogger("workfuse.test").info("calling with sk-operator-canary-123")

    # Then: the line has it redacted
    assert "sk-operator-canary-123" not in caplog.text


def test_a_workflow_id_with_a_nul_character_is_refused(ada: httpx.Client) -> None:
    """Found by tests/fuzz: on PostgreSQL the lookup of such an id was a 500."""
    response = ada.post(
        "/api/secrets", json={"name": "k", "value": "v", "workflowId": "c0mwy\u0000"}
    )

    assert response.status_code == 422, response.text
    assert "NUL" in response.json()["error"]["message"]
    assert ada.get("/api/secrets").json() == []
