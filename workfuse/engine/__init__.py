"""The durable execution engine: the seed's execution algorithm on Dramatiq.

``state`` (the transition table), ``plan`` (what an execution runs, cached per pinned
version), ``runner`` (the step loop, with ``NodeRun`` rows as its memo), ``retry``
(backoff), ``events`` (``ExecutionUpdate`` publishing), ``broker`` (Redis or the
in-process broker, and the actor), ``reconciler`` (executions nobody is running).
"""
