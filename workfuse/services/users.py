"""Users: creation, lookup and the password rules (sign-in lives in ``services.auth``)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlmodel import Session, select

from workfuse.models import MAX_EMAIL_LENGTH, User
from workfuse.services.errors import Conflict, InvalidInput, NotFound, reject_unstorable_text

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+$")
MIN_PASSWORD_LENGTH = 10  #: characters
MAX_PASSWORD_LENGTH = 256  #: characters (hashing a megabyte of password is a DoS)
MIN_DISTINCT_CHARACTERS = 5  #: refuses "aaaaaaaaaa" and "1212121212"

password_hasher = PasswordHasher()


def check_password(password: str, email: str) -> None:
    """Refuse a weak password with a message that says which rule it breaks."""
    reject_unstorable_text(password, "the password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) < MIN_DISTINCT_CHARACTERS:
        raise InvalidInput(
            f"the password must use at least {MIN_DISTINCT_CHARACTERS} different characters"
        )
    if password.strip().lower() in {email.lower(), email.split("@")[0].lower()}:
        raise InvalidInput("the password must not be your email address")


def normalise_email(email: str) -> str:
    reject_unstorable_text(email, "the email address")
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email):
        raise InvalidInput(f"{email[:80]!r} is not an email address")
    return email


def create_user(
    *, session: Session, email: str, name: str | None = None, password: str | None = None
) -> User:
    """Create a user; the password (none: the user cannot sign in) is stored as argon2."""
    reject_unstorable_text(name, "the name")
    email = normalise_email(email)
    if session.exec(select(User).where(User.email == email)).first():
        raise Conflict(f"a user with the email {email} already exists")
    if password is not None:
        check_password(password, email)
    user = User(
        email=email,
        name=name,
        password_hash=password_hasher.hash(password) if password is not None else None,
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
