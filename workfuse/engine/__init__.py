"""The durable execution engine: the seed's execution algorithm on Dramatiq.

``runner`` (the step loop) is put together from ``scheduler`` (which nodes run next, and
which are skipped: pure), ``transitions`` (the one place a status changes: checked
against ``state``'s tables, recorded, handed to the hooks), ``hooks`` (redaction, live
updates, log lines, heartbeats, in that order) and ``memo`` (the node runs as the run
knows them, and the ``checkpoint`` writes that save them). Besides: ``plan`` (what an
execution runs, cached per pinned version), ``retry`` (backoff), ``events`` (the
``ExecutionUpdate`` buses), ``broker`` (Redis or the in-process broker, and the actor),
``reconciler`` (executions nobody is running), ``worker`` (the worker processes' module).

The engine imports nothing from ``workfuse.services`` (the services call the engine, not
the other way round); ``tests/engine/test_layers.py`` checks it.
"""
