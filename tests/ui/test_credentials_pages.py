"""The credentials page in a real browser: create, rotate, delete, and no value leaks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, WebSocket, expect
from sqlmodel import Session, col, select

from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp, screenshot
from workfuse.db import get_engine
from workfuse.db_types import utcnow
from workfuse.models import LoginSession, SecretReference, SecretValue
from workfuse.services.auth import SESSION_REFRESH_AFTER, SESSION_TTL

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

CANARY = "canary-ui-4f1d9c7b2e-secret"
ROTATED_CANARY = "canary-ui-rotated-8a2b6e0f"
LOAD_TIMEOUT = 30_000  #: ms; the first page of a run may wait for the build


def settled_screenshot(page: Page, name: str) -> None:
    """A screenshot once the dialogs' open and close animations have finished."""
    page.wait_for_function(
        "document.getAnimations().every(animation => animation.playState !== 'running'"
        " || animation.effect?.getTiming().iterations === Infinity)"
    )
    screenshot(page, name)


def received_frames(page: Page) -> list[str]:
    """Every websocket frame the browser receives from now on (as text)."""
    frames: list[str] = []

    def watch(socket: WebSocket) -> None:
        socket.on(
            "framereceived",
            lambda payload: frames.append(
                payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
            ),
        )

    page.on("websocket", watch)
    return frames


@contextmanager
def owner_api(running_app: RunningApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running_app.url, timeout=10) as api:
        signed_in = api.post(
            "/api/auth/sign-in", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        yield api


def create_credential(api: httpx.Client, name: str, value: str) -> dict[str, Any]:
    created = api.post("/api/secrets", json={"name": name, "value": value})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def http_graph(arn: str) -> dict[str, Any]:
    return {
        "nodes": [
            {
                "id": "start",
                "type": "trigger",
                "data": {"label": "Start", "config": {"source": "manual"}},
            },
            {
                "id": "charge",
                "type": "http",
                "data": {
                    "label": "Charge",
                    "config": {
                        "method": "POST",
                        "url": "https://api.example.com/charges",
                        "auth": {"type": "bearer", "secretArn": arn},
                    },
                },
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "charge"}],
    }


def make_sessions_due_for_refresh(running_app: RunningApp) -> None:
    """The next use of every session extends it (a database write before the action)."""
    due = utcnow() + SESSION_TTL - SESSION_REFRESH_AFTER - timedelta(minutes=1)
    with Session(get_engine(running_app.database_url)) as session:
        for row in session.exec(select(LoginSession).where(col(LoginSession.expires_at) > due)):
            row.expires_at = due
            session.add(row)
        session.commit()


def row(page: Page, name: str) -> Any:
    return page.locator(".credential-row", has_text=name)


def test_a_signed_out_visit_is_sent_to_sign_in(
    running_app: RunningApp, page: Page, owner: None
) -> None:
    for path, encoded in (("/credentials", "%2Fcredentials"), ("/settings", "%2Fsettings")):
        page.goto(f"{running_app.url}{path}")
        back_here = re.compile(rf"/sign-in\?next={encoded}(%2F)?$")  # the server may add a /
        expect(page).to_have_url(back_here, timeout=LOAD_TIMEOUT)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()


def test_a_created_credential_is_listed_and_its_value_never_reaches_the_browser(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    page = signed_in_page
    frames = received_frames(page)

    # Given: the owner has no credentials yet, and the page says what to do
    page.goto(f"{running_app.url}/credentials")
    expect(page.get_by_text("No credentials yet.")).to_be_visible(timeout=LOAD_TIMEOUT)
    settled_screenshot(page, "credentials-empty")

    # When: they create one through the dialog, typing the value into a masked field
    # (with their session due for its sliding refresh, a write before the store's)
    make_sessions_due_for_refresh(running_app)
    page.get_by_role("button", name="New credential").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Stripe live key")
    dialog.get_by_label("Description (optional)").fill("Bearer token for api.stripe.com")
    value_field = dialog.get_by_label("Secret value")
    expect(value_field).to_have_attribute("type", "password")
    value_field.fill(CANARY)
    settled_screenshot(page, "credentials-create")
    dialog.get_by_role("button", name="Save credential").click()

    # Then: the dialog closes and the credential is listed, not used yet
    expect(page.get_by_role("dialog")).to_have_count(0)
    created = row(page, "Stripe live key")
    expect(created).to_be_visible()
    expect(created).to_contain_text("Bearer token for api.stripe.com")
    expect(created).to_contain_text("Not used")
    settled_screenshot(page, "credentials-list")

    # And: the value is stored, and the name taken: a second create says so in words
    page.get_by_role("button", name="New credential").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name").fill("Stripe live key")
    dialog.get_by_role("button", name="Save credential").click()
    expect(dialog.get_by_text("The secret value must not be empty.")).to_be_visible()
    dialog.get_by_label("Secret value").fill("another value")
    dialog.get_by_role("button", name="Save credential").click()
    taken = "A credential named 'Stripe live key' already exists."
    expect(dialog.get_by_text(taken)).to_be_visible()
    settled_screenshot(page, "credentials-create-error")
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)

    # Then: the canary is in no frame the browser received, nor in the page
    assert frames, "the page's websocket frames were not captured"
    assert not [frame for frame in frames if CANARY in frame]
    assert CANARY not in page.content()

    # And: after a reload (the state is sent again), still nowhere
    frames.clear()
    page.reload()
    expect(row(page, "Stripe live key")).to_be_visible(timeout=LOAD_TIMEOUT)
    assert frames
    assert not [frame for frame in frames if CANARY in frame]
    assert CANARY not in page.content()
    assert CANARY not in page.locator("body").inner_text()


def test_rotating_replaces_the_value_without_showing_it(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    # Given: a credential made through the API
    with owner_api(running_app) as api:
        credential = create_credential(api, "OpenAI key", "sk-old-value-123")
    page = signed_in_page
    frames = received_frames(page)
    page.goto(f"{running_app.url}/credentials")
    listed = row(page, "OpenAI key")
    expect(listed).to_be_visible(timeout=LOAD_TIMEOUT)

    # When: their session is due for its sliding refresh (a write on SQLite that must not
    # hold the lock the local secret store needs), and they rotate it with a new value
    make_sessions_due_for_refresh(running_app)
    listed.get_by_role("button", name="Rotate").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Rotate OpenAI key")
    value_field = dialog.get_by_label("New secret value")
    expect(value_field).to_have_attribute("type", "password")
    value_field.fill(ROTATED_CANARY)
    settled_screenshot(page, "credentials-rotate")
    dialog.get_by_role("button", name="Rotate").click()

    # Then: the dialog closes with a confirmation, and the store holds a new version
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_text("rotated: runs that start from now on use")).to_be_visible()
    with Session(get_engine(running_app.database_url)) as session:
        reference = session.get(SecretReference, credential["id"])
        assert reference is not None
        stored = session.exec(
            select(SecretValue).where(SecretValue.id == reference.arn.removeprefix("local:"))
        ).one()
        assert stored.version == 2
    assert not [frame for frame in frames if ROTATED_CANARY in frame]
    assert ROTATED_CANARY not in page.content()


def test_deleting_a_credential_in_use_names_the_workflows_first(
    running_app: RunningApp, signed_in_page: Page
) -> None:
    # Given: a credential used by a workflow's HTTP node, and one nobody uses
    with owner_api(running_app) as api:
        used = create_credential(api, "Payments API", "pay-secret-value")
        create_credential(api, "Spare key", "spare-secret-value")
        workflow = api.post(
            "/api/workflows", json={"name": "Charge customers", "graph": http_graph(used["arn"])}
        )
        assert workflow.status_code == 201, workflow.text
    page = signed_in_page
    page.goto(f"{running_app.url}/credentials")
    listed = row(page, "Payments API")
    expect(listed).to_be_visible(timeout=LOAD_TIMEOUT)

    # Then: the list shows which workflow uses it
    expect(listed.get_by_role("link", name="Charge customers")).to_have_attribute(
        "href", f"/workflows/{workflow.json()['id']}"
    )
    expect(row(page, "Spare key")).to_contain_text("Not used")
    settled_screenshot(page, "credentials-used-by")

    # When: they ask to delete it
    listed.get_by_role("button", name="Delete").click()

    # Then: the confirmation warns that the workflow uses it, by name
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Delete Payments API?")
    expect(dialog.locator(".in-use-warning")).to_contain_text("In use by 1 workflow.")
    expect(dialog.locator(".in-use-warning")).to_contain_text("Charge customers")
    settled_screenshot(page, "credentials-delete-in-use")

    # When: they cancel, nothing is deleted
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    expect(listed).to_be_visible()

    # When: they delete the unused one, the dialog says nobody uses it, and it goes
    row(page, "Spare key").get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("No workflow uses it.")
    dialog.get_by_role("button", name="Delete credential").click()
    expect(page.get_by_role("alertdialog")).to_have_count(0)
    expect(row(page, "Spare key")).to_have_count(0)

    # And: deleting the used one after the warning removes it too
    listed.get_by_role("button", name="Delete").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete credential").click()
    expect(row(page, "Payments API")).to_have_count(0)
    with Session(get_engine(running_app.database_url)) as session:
        names = session.exec(select(SecretReference.name)).all()
        assert "Payments API" not in names and "Spare key" not in names
