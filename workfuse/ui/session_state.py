"""The signed-in user of a browser tab, for every page that needs one.

The session cookie is HttpOnly: the browser's scripts cannot read it, but it travels
with the websocket handshake, and Reflex gives that request's cookie header to the
backend only (it is never sent to the frontend). Each event handler re-reads the
user from it, so a session revoked elsewhere stops working at the next click.
Only the email and name go to the browser.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlencode

import reflex as rx
from reflex.event import EventSpec
from sqlmodel import Session

from workfuse.api.deps import SESSION_COOKIE
from workfuse.models import User
from workfuse.services import auth
from workfuse.services.errors import Unauthorized
from workfuse.ui import routes


def _session_token(cookie_header: str) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except CookieError:
        return None
    morsel = cookies.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else None


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
        return rx.redirect(f"{routes.SIGN_IN}?{urlencode({'next': here})}")
