"""Sign-in, sign-up and sign-out for the browser pages, as plain HTML form posts.

The pages post here and get a 303 redirect: on success to where the person was going
(with the HttpOnly session cookie set), on failure back to the form with the message.
The password never passes through the UI's state. Not part of the JSON API (no
OpenAPI entry); scripts use ``/api/auth/*`` or API tokens.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from workfuse import web_paths
from workfuse.api.deps import DbSession, OwnOrigin
from workfuse.api.routes.auth import set_session_cookie
from workfuse.services import auth
from workfuse.services.errors import ServiceError

#: Every route here sets or clears the session cookie: only the app's own pages may post.
router = APIRouter(prefix="/api/auth/form", include_in_schema=False, dependencies=[OwnOrigin])

FormText = Annotated[str, Form(max_length=1000)]
NextPath = Annotated[str, Form(alias="next", max_length=1000)]


def safe_next(target: str) -> str:
    """``target`` if it is a path on this site, else the home page (no open redirects)."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc:
        return web_paths.WORKFLOWS
    if "\\" in target or any(ord(char) < 32 for char in target):
        return web_paths.WORKFLOWS
    return target


def _back(page: str, message: str, next_path: str, email: str) -> RedirectResponse:
    query = urlencode({"error": message, "next": safe_next(next_path), "email": email[:320]})
    return RedirectResponse(f"{page}?{query}", status_code=303)


def _signed_in(signed_in: auth.SignedIn, next_path: str) -> RedirectResponse:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, signed_in)
    return response


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: DbSession,
    email: FormText = "",
    password: FormText = "",
    next_path: NextPath = web_paths.WORKFLOWS,
) -> RedirectResponse:
    client = request.client.host if request.client else None
    try:
        signed_in = auth.sign_in(session=session, email=email, password=password, client=client)
    except ServiceError as error:
        return _back(web_paths.SIGN_IN, str(error), next_path, email)
    return _signed_in(signed_in, next_path)


@router.post("/sign-up")
def sign_up(
    session: DbSession,
    email: FormText = "",
    password: FormText = "",
    name: FormText = "",
    next_path: NextPath = web_paths.WORKFLOWS,
) -> RedirectResponse:
    try:
        signed_in = auth.sign_up(
            session=session, email=email, password=password, name=name.strip() or None
        )
    except ServiceError as error:
        session.rollback()
        return _back(web_paths.SIGN_UP, str(error), next_path, email)
    return _signed_in(signed_in, next_path)


@router.post("/sign-out")
def sign_out(request: Request, session: DbSession) -> RedirectResponse:
    auth.sign_out(session=session, token=request.cookies.get(web_paths.SESSION_COOKIE))
    response = RedirectResponse(web_paths.SIGN_IN, status_code=303)
    response.delete_cookie(web_paths.SESSION_COOKIE, path="/")
    return response
