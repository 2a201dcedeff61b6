"""The Reflex entry point: the app, its pages, the mounted API and start-up work."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import reflex as rx
from reflex_base import constants
from reflex_base.config import get_config
from starlette.types import ASGIApp

from workfuse import web_paths
from workfuse.api.app import create_api
from workfuse.api.browser_origins import BrowserOriginGuard
from workfuse.bootstrap import prepare
from workfuse.db_types import utcnow
from workfuse.engine.broker import start_embedded_workers
from workfuse.engine.reconciler import Periodic, start_reconciler_thread
from workfuse.engine.runner_lock import hold_runner_lock
from workfuse.logs import configure_logging
from workfuse.services.retention import prune_by_settings
from workfuse.settings import get_settings
from workfuse.ui.auth_page import AuthFormState, sign_in_page, sign_up_page
from workfuse.ui.credentials_page import credentials_page
from workfuse.ui.credentials_state import CredentialsState
from workfuse.ui.editor.page import editor_page
from workfuse.ui.editor.state import EditorState
from workfuse.ui.executions_page import execution_detail_page, executions_page
from workfuse.ui.executions_state import ExecutionDetailState, ExecutionsState
from workfuse.ui.settings_page import settings_page
from workfuse.ui.settings_state import SettingsState
from workfuse.ui.workflows_page import workflows_page
from workfuse.ui.workflows_state import WorkflowsState

RETENTION_INTERVAL_S = 3600.0  #: seconds between the app's retention passes


@asynccontextmanager
async def _start_up() -> AsyncIterator[None]:
    """Migrate and load the demo before the backend serves its first request; in the
    embedded default, run the engine's workers as threads of this process and resume
    at once the executions the last run of the app left unfinished."""
    configure_logging()  # after the server set up its own handlers
    started = utcnow()
    await asyncio.to_thread(prepare)
    workers = start_embedded_workers()
    stop_reconciler = threading.Event()
    # In-process workers: what the app's last run left unfinished died with it, and
    # with the runner lock no other app can be finishing it.
    start_reconciler_thread(
        stop=stop_reconciler,
        resume_before=started if workers is not None else None,
        runners_gone=workers is not None and hold_runner_lock(get_settings().resolved_database_url),
        periodic=[Periodic("retention", RETENTION_INTERVAL_S, prune_by_settings)],
    )
    try:
        yield
    finally:
        stop_reconciler.set()
        if workers is not None:
            grace_ms = get_settings().shutdown_grace_seconds * 1000
            await asyncio.to_thread(workers.stop, grace_ms)


class WorkFuseApp(rx.App):
    """Reflex's app behind :class:`BrowserOriginGuard`: WorkFuse answers CORS itself and
    refuses socket handshakes from other origins, outside all of Reflex's layers."""

    def __call__(self) -> ASGIApp:
        socket_path = get_config().prepend_backend_path(str(constants.Endpoint.EVENT))
        return BrowserOriginGuard(super().__call__(), socket_path=socket_path)


app = WorkFuseApp(api_transformer=create_api())
app.register_lifespan_task(_start_up)
app.add_page(
    workflows_page,
    route=web_paths.WORKFLOWS,
    title="Workflows · WorkFuse",
    on_load=WorkflowsState.load,
)
app.add_page(
    sign_in_page, route=web_paths.SIGN_IN, title="Sign in · WorkFuse", on_load=AuthFormState.load
)
app.add_page(
    sign_up_page, route=web_paths.SIGN_UP, title="Sign up · WorkFuse", on_load=AuthFormState.load
)
app.add_page(
    executions_page,
    route=web_paths.EXECUTIONS,
    title="Executions · WorkFuse",
    on_load=ExecutionsState.load,
)
app.add_page(
    execution_detail_page,
    route=web_paths.EXECUTION,
    title="Execution · WorkFuse",
    on_load=ExecutionDetailState.load,
)
app.add_page(
    editor_page,
    route=web_paths.WORKFLOW,
    title="Editor · WorkFuse",
    on_load=EditorState.load,
)
app.add_page(
    credentials_page,
    route=web_paths.CREDENTIALS,
    title="Credentials · WorkFuse",
    on_load=CredentialsState.load,
)
app.add_page(
    settings_page, route=web_paths.SETTINGS, title="Settings · WorkFuse", on_load=SettingsState.load
)
