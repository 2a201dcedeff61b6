"""The signed-in user of a browser tab, for every page that needs one.

The session cookie is HttpOnly: the browser's scripts cannot read it, but it travels
with the websocket handshake, and Reflex gives that request's cookie header to the
backend only (it is never sent to the frontend). Each event handler re-reads the
user from it, so a session revoked elsewhere stops working at the next click.
Only the email and name go to the browser.

A handler does its work through :meth:`SessionState._unit_of_work`::

    with self._unit_of_work(error_var="error") as work:
        workflow = workflow_service.get_workflow(
            session=work.session, user=work.user, workflow_id=workflow_id
        )
    if not work.done:
        return work.redirect  # to sign-in, or None after showing a refusal in self.error
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session

from workfuse import web_paths
from workfuse.db import session_scope
from workfuse.models import User
from workfuse.services import auth
from workfuse.services.errors import ServiceError, Unauthorized


def _session_token(cookie_header: str) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(web_paths.SESSION_COOKIE)
    return morsel.value if morsel is not None else None


class _SignedOut(Exception):
    """Raised by :attr:`UnitOfWork.user` when the tab has no signed-in user; it ends
    the ``with`` body and :meth:`SessionState._unit_of_work` turns it into a redirect."""


@dataclass
class UnitOfWork:
    """What a ``with self._unit_of_work(...) as work:`` body works with, and how it ended.

    Inside the body: ``session`` (the unit's database session) and ``user``. After it:
    ``done`` is true if the body ran to its end and was committed; otherwise
    ``redirect`` is the way to sign-in (signed out), or ``error`` the refusal shown.
    """

    session: Session
    signed_in: User | None
    done: bool = False
    redirect: EventSpec | None = None
    error: ServiceError | None = None

    @property
    def user(self) -> User:
        """The signed-in user; signed out, this ends the body (read it before changing
        anything the body should not change for a signed-out tab)."""
        if self.signed_in is None:
            raise _SignedOut
        return self.signed_in


class SessionState(rx.State):
    """Base of every signed-in page's state."""

    user_email: str = ""
    user_name: str = ""

    def _signed_in_user(self, session: Session) -> User | None:
        """The user of this tab's session cookie, or ``None`` (never raises)."""
        token = _session_token(self.router.headers.cookie)
        try:
            user = auth.resolve_session(session=session, token=token)
        except Unauthorized:
            return None
        self.user_email, self.user_name = user.email, user.name or ""
        return user

    def _to_sign_in(self) -> EventSpec:
        """Redirect to sign-in, coming back to this page afterwards."""
        url = self.router.url
        here = url.path + (f"?{url.query}" if url.query else "")
        return rx.redirect(f"{web_paths.SIGN_IN}?{urlencode({'next': here})}")

    @contextmanager
    def _unit_of_work(
        self,
        *,
        error_var: str | None = None,
        message: Callable[[ServiceError], str] = str,
        user_first: bool = False,
    ) -> Iterator[UnitOfWork]:
        """One database transaction acting for the tab's signed-in user.

        The body runs in a :func:`~workfuse.db.session_scope`: committed when it ends
        (or returns), rolled back when it raises. Signed out, reading ``work.user``
        ends the body (what it did so far is committed, as a handler returning early
        would) and ``work.redirect`` is the way to sign-in. A ``ServiceError`` is rolled
        back and, if ``error_var`` names a state var, shown there as
        ``message(error)`` and kept in ``work.error``; without ``error_var`` it
        propagates, like any other exception.

        Parameters:
            error_var: the state var that shows a refusal (default ``None``: none).
            message: the text shown for a refusal (default ``str``).
            user_first: resolve the user in a transaction of its own, committed before
                the body's (default ``False``). For services that write through
                another connection (the local secret store): on SQLite, the session's
                sliding refresh still pending here would hold the lock they wait for.
        """
        user: User | None = None
        if user_first:
            with session_scope() as session:
                user = self._signed_in_user(session)
        work: UnitOfWork | None = None
        try:
            with session_scope() as session:
                if not user_first:
                    user = self._signed_in_user(session)
                work = UnitOfWork(session=session, signed_in=user)
                with suppress(_SignedOut):  # signed out: the body ends, like a `return`
                    yield work
        except ServiceError as error:
            if error_var is None or work is None:
                raise
            setattr(self, error_var, message(error))
            work.error = error
            return
        assert work is not None  # the scope ran its body
        if user is None:
            work.redirect = self._to_sign_in()
        else:
            work.done = True
