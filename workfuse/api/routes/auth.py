"""Accounts and API tokens: sign-up, sign-in, sign-out, who am I, tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response, status
from pydantic import Field

from workfuse.api.deps import CurrentUser, DbSession, OwnOrigin
from workfuse.models import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, ApiSchema, ApiTokenPublic, UserPublic
from workfuse.services import api_tokens, auth
from workfuse.services.users import MAX_PASSWORD_LENGTH
from workfuse.settings import get_settings
from workfuse.web_paths import SESSION_COOKIE

router = APIRouter(prefix="/api", tags=["auth"])


class SignUp(ApiSchema):
    email: str = Field(max_length=MAX_EMAIL_LENGTH)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)
    name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)


class SignIn(ApiSchema):
    email: str = Field(max_length=MAX_EMAIL_LENGTH)
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class SessionInfo(ApiSchema):
    user: UserPublic
    expires_at: datetime


class TokenCreate(ApiSchema):
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)


class TokenCreated(ApiSchema):
    """The token itself is in this response only; it cannot be read again."""

    token: str
    api_token: ApiTokenPublic


def set_session_cookie(response: Response, signed_in: auth.SignedIn) -> None:
    """The HttpOnly, SameSite=Lax session cookie (Secure when the site is https)."""
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=int(auth.SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=get_settings().base_url.startswith("https://"),
        path="/",
    )


def _session_info(signed_in: auth.SignedIn) -> SessionInfo:
    return SessionInfo(
        user=UserPublic.model_validate(signed_in.user), expires_at=signed_in.expires_at
    )


@router.post("/auth/sign-up", status_code=status.HTTP_201_CREATED, dependencies=[OwnOrigin])
def sign_up(data: SignUp, response: Response, session: DbSession) -> SessionInfo:
    """Create an account and sign in (sets the session cookie)."""
    signed_in = auth.sign_up(
        session=session, email=data.email, password=data.password, name=data.name
    )
    set_session_cookie(response, signed_in)
    return _session_info(signed_in)


@router.post("/auth/sign-in", dependencies=[OwnOrigin])
def sign_in(data: SignIn, request: Request, response: Response, session: DbSession) -> SessionInfo:
    """Sign in with email and password (sets the session cookie); throttled on failures."""
    client = request.client.host if request.client else None
    signed_in = auth.sign_in(
        session=session, email=data.email, password=data.password, client=client
    )
    set_session_cookie(response, signed_in)
    return _session_info(signed_in)


@router.post("/auth/sign-out", status_code=status.HTTP_204_NO_CONTENT, dependencies=[OwnOrigin])
def sign_out(request: Request, response: Response, session: DbSession) -> None:
    """End this session (the cookie's token stops working at once)."""
    auth.sign_out(session=session, token=request.cookies.get(SESSION_COOKIE))
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me")
def me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.get("/tokens", tags=["tokens"])
def list_tokens(user: CurrentUser, session: DbSession) -> list[ApiTokenPublic]:
    rows = api_tokens.list_api_tokens(session=session, user=user)
    return [ApiTokenPublic.model_validate(row) for row in rows]


@router.post("/tokens", tags=["tokens"], status_code=status.HTTP_201_CREATED)
def create_token(data: TokenCreate, user: CurrentUser, session: DbSession) -> TokenCreated:
    row, token = api_tokens.create_api_token(session=session, user=user, name=data.name)
    return TokenCreated(token=token, api_token=ApiTokenPublic.model_validate(row))


@router.delete("/tokens/{token_id}", tags=["tokens"], status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: str, user: CurrentUser, session: DbSession) -> None:
    api_tokens.revoke_api_token(session=session, user=user, token_id=token_id)
