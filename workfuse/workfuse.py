"""The Reflex entry point: the app, its pages, the mounted API and start-up work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import reflex as rx

from workfuse.api.app import create_api
from workfuse.bootstrap import prepare
from workfuse.ui import routes
from workfuse.ui.workflows_page import workflows_page
from workfuse.ui.workflows_state import WorkflowsState


@asynccontextmanager
async def _prepare_database() -> AsyncIterator[None]:
    """Migrate and load the demo before the backend serves its first request."""
    await asyncio.to_thread(prepare)
    yield


app = rx.App(api_transformer=create_api())
app.register_lifespan_task(_prepare_database)
app.add_page(
    workflows_page,
    route=routes.WORKFLOWS,
    title="Workflows · WorkFuse",
    on_load=WorkflowsState.load,
)
