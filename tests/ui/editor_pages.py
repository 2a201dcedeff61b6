"""Helpers of the editor's browser tests: workflows created through the API, the
canvas's nodes and handles, dragging an edge, adding from the palette."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.ui.conftest import OWNER_EMAIL, OWNER_PASSWORD, RunningApp


@contextlib.contextmanager
def owner_client(app: RunningApp) -> Iterator[httpx.Client]:
    """An API client signed in as the owner."""
    with httpx.Client(base_url=app.url, timeout=10) as api:
        signed_in = api.post(
            "/api/auth/sign-in", json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        yield api


def create_workflow(app: RunningApp, name: str, graph: dict[str, Any]) -> str:
    with owner_client(app) as api:
        created = api.post("/api/workflows", json={"name": name, "graph": graph})
        assert created.status_code == 201, created.text
        return str(created.json()["id"])


def stored_graph(app: RunningApp, workflow_id: str) -> dict[str, Any]:
    with owner_client(app) as api:
        graph: dict[str, Any] = api.get(f"/api/workflows/{workflow_id}").json()["graph"]
        return graph


def canvas_node(page: Page, node_id: str) -> Locator:
    return page.locator(f'[data-testid="canvas-node"][data-node-id="{node_id}"]')


def handle(page: Page, node_id: str, kind: str, name: str | None = None) -> Locator:
    selector = f'.react-flow__node[data-id="{node_id}"] .react-flow__handle.{kind}'
    if name is not None:
        selector += f'[data-handleid="{name}"]'
    return page.locator(selector)


def connect(page: Page, source: str, target: str, source_handle: str | None = None) -> None:
    """Drag from ``source``'s output handle to ``target``'s input, as a person would."""
    start = handle(page, source, "source", source_handle).bounding_box()
    end = handle(page, target, "target").bounding_box()
    assert start is not None and end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()


def fit_view(page: Page) -> None:
    """Show every node (the canvas renders only the nodes in view)."""
    page.locator(".react-flow__controls-fitview").click()
    page.wait_for_timeout(300)


def add_from_palette(page: Page, node_type_label: str, expected_count: int) -> None:
    page.locator(".palette-item", has_text=node_type_label).first.click()
    fit_view(page)
    expect(page.locator('[data-testid="canvas-node"]')).to_have_count(expected_count)
