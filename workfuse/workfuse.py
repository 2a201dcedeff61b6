"""The Reflex entry point: the app, its pages, the mounted API and start-up work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import reflex as rx

from workfuse.api.app import create_api
from workfuse.bootstrap import prepare
from workfuse.logs import configure_logging
from workfuse.ui import routes
from workfuse.ui.auth_page import AuthFormState, sign_in_page, sign_up_page
from workfuse.ui.workflows_page import workflows_page
from workfuse.ui.workflows_state import WorkflowsState


@asynccontextmanager
async def _prepare_database() -> AsyncIterator[None]:
    """Migrate and load the demo before the backend serves its first request."""
    configure_logging()  # after the server set up its own handlers
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
app.add_page(
    sign_in_page, route=routes.SIGN_IN, title="Sign in · WorkFuse", on_load=AuthFormState.load
)
app.add_page(
    sign_up_page, route=routes.SIGN_UP, title="Sign up · WorkFuse", on_load=AuthFormState.load
)
