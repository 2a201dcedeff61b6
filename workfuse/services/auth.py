"""Sign-up, sign-in, sign-out and server-side sessions.

A session token is 32 random bytes (URL-safe text) handed to the browser once; the
database keeps only its SHA-256, so a leaked table cannot be replayed. Sessions last
:data:`SESSION_TTL` and slide: a session used after :data:`SESSION_REFRESH_AFTER`
gets a fresh expiry. Sign-out deletes the row, so the token stops working at once.

Failed sign-ins are throttled per email and per client address (the shared rate
limiter); the error for an unknown email and a wrong password is the same, and an
unknown email still costs one argon2 verification, so neither the message nor the
timing tells which accounts exist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, select

from workfuse.db_types import utcnow
from workfuse.models import LoginSession, User
from workfuse.ratelimit import Limit, RateLimiter, get_rate_limiter
from workfuse.services.errors import Conflict, InvalidInput, RateLimited, Unauthorized
from workfuse.services.users import (
    check_password,
    create_user,
    normalise_email,
    password_hasher,
)
from workfuse.settings import get_settings

SESSION_TTL = timedelta(days=14)
SESSION_REFRESH_AFTER = timedelta(hours=1)  #: a used session is extended at most this often
TOKEN_BYTES = 32  #: random bytes in a session or API token
SIGN_IN_LIMIT_PER_EMAIL = Limit(count=5, window=15 * 60)  #: failed sign-ins per email
SIGN_IN_LIMIT_PER_CLIENT = Limit(count=20, window=15 * 60)  #: failed sign-ins per address
WRONG_CREDENTIALS = "the email or password is not right"

# Verified against when the email is unknown, so that case costs the same time.
_DUMMY_HASH = password_hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class SignedIn:
    """A new session: ``token`` goes to the browser (cookie) and is never stored."""

    user: User
    token: str
    expires_at: datetime


def new_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 hex: tokens are random, so a slow hash adds nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign_up(*, session: Session, email: str, password: str, name: str | None = None) -> SignedIn:
    """Create an account (password rules apply) and sign it in.

    On an embedded install whose first-run owner (the demo user, created without a
    password) is still unclaimed, the first sign-up *becomes* that user, so the person
    setting up the install owns the demo workflow (n8n's "owner setup").
    """
    owner = unclaimed_owner(session=session)
    if owner is None:
        user = create_user(session=session, email=email, name=name, password=password)
        return start_session(session=session, user=user)
    email = normalise_email(email)
    check_password(password, email)
    taken = session.exec(select(User).where(User.email == email)).first()
    if taken is not None and taken.id != owner.id:
        raise Conflict(f"a user with the email {email} already exists")
    owner.email, owner.password_hash = email, password_hasher.hash(password)
    owner.name = name or owner.name
    session.add(owner)
    session.flush()
    return start_session(session=session, user=owner)


def unclaimed_owner(*, session: Session) -> User | None:
    """The first-run owner if nobody has signed up as them yet, else ``None``."""
    query = select(User).where(
        User.email == get_settings().demo_email, col(User.password_hash).is_(None)
    )
    return session.exec(query).first()


def sign_in(
    *,
    session: Session,
    email: str,
    password: str,
    client: str | None = None,
    limiter: RateLimiter | None = None,
) -> SignedIn:
    """Check the password and open a session; throttled after repeated failures."""
    limiter = limiter or get_rate_limiter()
    email = email.strip().lower()
    keys = [(f"sign-in:email:{email}", SIGN_IN_LIMIT_PER_EMAIL)]
    if client:
        keys.append((f"sign-in:client:{client}", SIGN_IN_LIMIT_PER_CLIENT))
    wait = max(limiter.blocked_for(key, limit) for key, limit in keys)
    if wait:
        raise RateLimited(f"too many failed sign-ins; try again in {wait} seconds", wait)
    user = _user_with_password(session=session, email=email, password=password)
    if user is None:
        for key, limit in keys:
            limiter.hit(key, limit)
        raise Unauthorized(WRONG_CREDENTIALS)
    limiter.reset(keys[0][0])
    return start_session(session=session, user=user)


def _user_with_password(*, session: Session, email: str, password: str) -> User | None:
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = ""
    user = session.exec(select(User).where(User.email == email)).first() if email else None
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        password_hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.password_hash:
        return None
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)
        session.add(user)
    return user


def start_session(*, session: Session, user: User) -> SignedIn:
    token = new_token()
    row = LoginSession(
        token_hash=hash_token(token), expires_at=utcnow() + SESSION_TTL, user_id=user.id
    )
    session.add(row)
    session.flush()
    return SignedIn(user=user, token=token, expires_at=row.expires_at)


def resolve_session(*, session: Session, token: str | None) -> User:
    """The user a session token belongs to; extends the session (sliding expiry).

    Raises ``Unauthorized`` for a missing, unknown, expired or revoked token.
    """
    if not token:
        raise Unauthorized("sign in to continue")
    row = session.exec(
        select(LoginSession).where(LoginSession.token_hash == hash_token(token))
    ).first()
    now = utcnow()
    if row is None or row.expires_at <= now:
        if row is not None:
            session.delete(row)
            session.flush()
        raise Unauthorized("your session has ended; sign in again")
    if row.expires_at - SESSION_TTL + SESSION_REFRESH_AFTER <= now:
        row.expires_at = now + SESSION_TTL
        session.add(row)
        session.flush()
    user = session.get(User, row.user_id)
    if user is None:  # deleted between the two reads
        raise Unauthorized("sign in to continue")
    return user


def session_expiry(*, session: Session, token: str) -> datetime | None:
    """When the session ends (for the cookie's lifetime), or ``None`` if it is unknown."""
    row = session.exec(
        select(LoginSession).where(LoginSession.token_hash == hash_token(token))
    ).first()
    return row.expires_at if row is not None else None


def sign_out(*, session: Session, token: str | None) -> None:
    """Revoke the session; an unknown or missing token is not an error."""
    if token:
        session.exec(delete(LoginSession).where(col(LoginSession.token_hash) == hash_token(token)))


def sign_out_everywhere(*, session: Session, user: User) -> int:
    """Revoke every session of the user; returns how many there were."""
    result = session.exec(delete(LoginSession).where(col(LoginSession.user_id) == user.id))
    return int(result.rowcount or 0)
