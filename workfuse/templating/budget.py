"""The render's budget: its deadline and the bytes it may still build.

One render (or one :func:`render_limits` scope, e.g. all the templates of one node) has
a :class:`_Limits`: a deadline (``MAX_RENDER_SECONDS``) and a budget of bytes
(``MAX_RENDER_BYTES``) for all the values it builds, even short-lived ones. It lives in
a context variable, so every guard reaches it without being handed the Jinja context,
and a render in a worker thread has its own. Outside a render (a guard called
directly) nothing is counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from workfuse.templating.errors import MAX_RENDER_BYTES, MAX_RENDER_SECONDS, _limit

_MEGABYTES = MAX_RENDER_BYTES // 1_000_000


class _Limits:
    """What one render (or one :func:`render_limits` scope) may still spend."""

    __slots__ = ("budget", "deadline")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS
        self.budget = MAX_RENDER_BYTES


_LIMITS: ContextVar[_Limits | None] = ContextVar("workfuse_template_limits", default=None)


@contextmanager
def render_limits() -> Iterator[None]:
    """Renders inside this block share one deadline and one memory budget (e.g. all
    the templates of one node). Nested scopes and renders join the outer one."""
    if _LIMITS.get() is not None:
        yield
        return
    token = _LIMITS.set(_Limits())
    try:
        yield
    finally:
        _LIMITS.reset(token)


def _too_slow() -> Exception:
    return _limit(f"rendering took longer than {MAX_RENDER_SECONDS:g} s")


def _check_time() -> None:
    limits = _LIMITS.get()
    if limits is not None and time.monotonic() > limits.deadline:
        raise _too_slow()


def _charge(size: int) -> None:
    """Count ``size`` bytes against the render's budget."""
    limits = _LIMITS.get()
    if limits is not None:
        limits.budget -= size
        if limits.budget < 0:
            raise _limit(f"the template built more than {_MEGABYTES} MB of values in one render")


def _timed(iterable: Iterable[Any], cap: int | None = None, what: str = "") -> Iterator[Any]:
    """Iterate ``iterable`` with the clock read at every item; with ``cap``, refuse more
    than ``cap`` items (for filters that collect or sort their input)."""
    limits = _LIMITS.get()
    deadline = limits.deadline if limits is not None else float("inf")
    clock = time.monotonic
    for index, item in enumerate(iterable):
        if clock() > deadline:
            raise _too_slow()
        if cap is not None and index >= cap:
            raise _limit(f"{what} takes at most {cap:,} items")
        yield item
