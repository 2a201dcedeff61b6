"""Users: creation and lookup (sign-in and sessions come with the auth module)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlmodel import Session, select

from workfuse.models import MAX_EMAIL_LENGTH, User
from workfuse.services.errors import Conflict, InvalidInput, NotFound, reject_nul

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_LENGTH = 10  #: characters

_hasher = PasswordHasher()


def normalise_email(email: str) -> str:
    reject_nul(email, "the email address")
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email):
        raise InvalidInput(f"{email[:80]!r} is not an email address")
    return email


def create_user(
    *, session: Session, email: str, name: str | None = None, password: str | None = None
) -> User:
    """Create a user; the password (optional until sign-in exists) is stored as argon2."""
    reject_nul(name, "the name")
    email = normalise_email(email)
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"a user with the email {email} already exists")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = User(
        email=email,
        name=name,
        password_hash=_hasher.hash(password) if password is not None else None,
    )
    session.add(user)
    session.flush()
    return user


def get_user_by_email(*, session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    if user is None:
        raise NotFound(f"no user with the email {email}")
    return user


def only_user(*, session: Session) -> User:
    """The single user of a one-person install; refuses when there are none or several."""
    users = session.exec(select(User).limit(2)).all()
    if len(users) != 1:
        raise InvalidInput(
            "there is no user yet: create one with `workfuse user create EMAIL`"
            if not users
            else "there are several users: say which with --user EMAIL"
        )
    return users[0]
