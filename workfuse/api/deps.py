"""Dependencies of the API routes: the database session and the acting user.

A request authenticates with the session cookie (browsers) or with
``Authorization: Bearer wf_...`` (scripts). Cookie-authenticated requests that
change something, and the routes that set or clear the cookie (sign-up, sign-in,
sign-out: :data:`OwnOrigin`), must come from one of WorkFuse's own origins
(:func:`workfuse.api.origins.write_allowed`): a second line against cross-site request
forgery and login CSRF after ``SameSite=Lax``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from workfuse.api import origins
from workfuse.db import session_scope
from workfuse.models import User
from workfuse.ratelimit import Limit, get_rate_limiter
from workfuse.services.api_tokens import resolve_api_token
from workfuse.services.auth import resolve_session
from workfuse.services.errors import Forbidden, RateLimited, Unauthorized
from workfuse.settings import get_settings
from workfuse.web_paths import SESSION_COOKIE

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db_session() -> Iterator[Session]:
    """One transaction per request: committed when the route returns, else rolled back."""
    with session_scope() as session:
        yield session


# "function" scope: committed before the response is sent, so the next request sees it.
DbSession = Annotated[Session, Depends(db_session, scope="function")]


def bearer_token(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def own_origin(request: Request) -> None:
    """403 unless a state-changing request comes from one of the app's own origins (or
    from a script: see :func:`workfuse.api.origins.write_allowed`)."""
    if request.method in SAFE_METHODS:
        return
    if not origins.write_allowed(origins.policy_from(get_settings()), request.scope):
        raise Forbidden("requests from other sites may not sign in, sign out or act for a user")


#: For routes that set or clear the session cookie without needing a signed-in user.
OwnOrigin = Depends(own_origin)


def current_user(request: Request, session: DbSession) -> User:
    """The acting user, or 401 (the same for a missing, unknown or expired credential)."""
    token = bearer_token(request)
    if token is not None:
        user = resolve_api_token(session=session, token=token)
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise Unauthorized("sign in, or send an API token as 'Authorization: Bearer ...'")
        own_origin(request)
        user = resolve_session(session=session, token=cookie)
    # Authentication's own writes (a session's sliding refresh, a token's last use) stand
    # whatever the route does, and are committed now: on SQLite a pending write would hold
    # the database lock while the route calls the local secret store, which writes through
    # a connection of its own and would wait for it until it timed out.
    session.commit()
    request.state.user_id = user.id
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def rate_limited(name: str, limit: Limit) -> Callable[[User], None]:
    """A dependency that counts one call of ``name`` per user against ``limit``."""

    def check(user: CurrentUser) -> None:
        wait = get_rate_limiter().hit(f"{name}:user:{user.id}", limit)
        if wait:
            raise RateLimited(
                f"too many {name} requests: at most {limit.count} per {limit.window} seconds; "
                f"try again in {wait} seconds",
                wait,
            )

    return check
