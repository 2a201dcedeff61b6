"""API tokens for scripts: ``Authorization: Bearer wf_...``.

A token is shown once, when it is created; the database keeps its SHA-256 and its
first characters (so a person can tell tokens apart in a list). Revoking deletes it.
``last_used_at`` is written at most once per :data:`LAST_USED_PRECISION`.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from workfuse.db_types import utcnow
from workfuse.models import MAX_NAME_LENGTH, ApiToken, User
from workfuse.services.auth import hash_token, new_token
from workfuse.services.errors import InvalidInput, NotFound, Unauthorized, reject_unstorable_text

TOKEN_PREFIX = "wf_"
SHOWN_PREFIX_LENGTH = 10  #: characters of a token kept to recognise it (``wf_`` + 7)
MAX_TOKENS_PER_USER = 100
LAST_USED_PRECISION = timedelta(minutes=1)


def create_api_token(*, session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token for ``user``; the second value is the token itself, shown once."""
    reject_unstorable_text(name, "the token name")
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"the token name must have 1 to {MAX_NAME_LENGTH} characters")
    if len(list_api_tokens(session=session, user=user)) >= MAX_TOKENS_PER_USER:
        raise InvalidInput(f"a user may have at most {MAX_TOKENS_PER_USER} API tokens")
    token = new_token(TOKEN_PREFIX)
    row = ApiToken(
        name=name,
        token_hash=hash_token(token),
        prefix=token[:SHOWN_PREFIX_LENGTH],
        user_id=user.id,
    )
    session.add(row)
    session.flush()
    return row, token


def list_api_tokens(*, session: Session, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id)
    return list(session.exec(query.order_by(col(ApiToken.created_at).desc())))


def revoke_api_token(*, session: Session, user: User, token_id: str) -> None:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"no API token with the id {token_id}")
    session.delete(row)
    session.flush()


def resolve_api_token(*, session: Session, token: str) -> User:
    """The user a bearer token belongs to; ``Unauthorized`` if it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthorized("the API token is not valid")
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    user = session.get(User, row.user_id) if row is not None else None
    if row is None or user is None:
        raise Unauthorized("the API token is not valid")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = now
        session.add(row)
        session.flush()
    return user
