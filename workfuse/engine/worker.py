"""The module Dramatiq's worker processes import: ``dramatiq workfuse.engine.worker``.

``workfuse worker [--processes N] [--threads M]`` runs exactly that. Importing this
module sets up WorkFuse's logging (with secret redaction) and declares the broker and
the ``run_execution`` actor as Dramatiq's global broker, which is all Dramatiq needs.

Workers on other machines: install WorkFuse there (same release as the app), give
them the same settings as the app (at least ``WORKFUSE_DATABASE_URL``,
``WORKFUSE_REDIS_URL``, ``WORKFUSE_ENCRYPTION_KEY`` or the AWS secret-store settings,
and any AI provider keys), then run ``workfuse worker``; no database migration or
port is needed. Every worker process on every machine takes messages from the same
Redis queue; a message whose worker dies is redelivered by Dramatiq, and
``workfuse reconcile`` re-sends what was lost otherwise.

Workers need Redis: without ``WORKFUSE_REDIS_URL`` the broker is in-process, so a
separate process would wait on a queue nobody writes to; importing this module then
fails with that message (the embedded default runs its workers inside the app).

Importing it also imports the engine's runner and so the node types, once, before
Dramatiq starts its worker threads. A worker process does not load V8 or evaluate
JSONata: transforms run in sandbox processes it starts on demand
(:mod:`workfuse.sandbox.pool`).
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.stub import StubBroker

import workfuse.engine.runner  # noqa: F401  (the node types, before any worker thread)
from workfuse.engine.broker import get_engine
from workfuse.logs import configure_logging
from workfuse.settings import SettingsError

configure_logging()
broker: dramatiq.Broker = get_engine().broker

if isinstance(broker, StubBroker):
    raise SettingsError(
        "worker processes need WORKFUSE_REDIS_URL; the embedded default runs its "
        "workers inside the app"
    )
