"""Users: normalised, validated emails; unique; argon2 password hashes only."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlmodel import Session, func, select

from workfuse.models import User
from workfuse.services.errors import Conflict, InvalidInput, NotFound
from workfuse.services.users import (
    MIN_PASSWORD_LENGTH,
    create_user,
    get_user_by_email,
    normalise_email,
    only_user,
)


def _user_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(User)).one()


def test_email_is_trimmed_and_lowercased(session: Session) -> None:
    # Given / When: a user is created with a messy email
    user = create_user(session=session, email="  Ada.Lovelace@Example.COM \n", name="Ada")
    session.commit()

    # Then: the stored email is normalised and findable in any spelling
    assert user.email == "ada.lovelace@example.com"
    assert get_user_by_email(session=session, email="ADA.LOVELACE@example.com").id == user.id


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "no-at-sign",
        "two@@example.com",
        "a b@example.com",
        "@example.com",
        "a@",
        "x" * 320 + "@e.com",
    ],
)
def test_invalid_emails_are_refused(session: Session, email: str) -> None:
    # Given / When / Then: a malformed email is refused and nothing is stored
    with pytest.raises(InvalidInput, match="not an email address"):
        create_user(session=session, email=email)
    assert _user_count(session) == 0


def test_duplicate_email_is_a_conflict_in_any_case(session: Session, user: User) -> None:
    # Given: ada@example.com exists
    # When / Then: creating it again, differently capitalised, is a conflict
    with pytest.raises(Conflict, match=r"ada@example\.com"):
        create_user(session=session, email="ADA@Example.com")
    assert _user_count(session) == 1


def test_password_is_stored_as_argon2_hash_never_plaintext(session: Session) -> None:
    # Given: a password
    password = "correct horse battery staple"

    # When: a user is created with it
    user = create_user(session=session, email="pw@example.com", password=password)
    session.commit()

    # Then: only an argon2id hash is stored, and it verifies the password
    assert user.password_hash is not None
    assert password not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(user.password_hash, password)


def test_same_password_gives_different_hashes(session: Session) -> None:
    # Given / When: two users with the same password
    one = create_user(session=session, email="one@example.com", password="same password 1")
    two = create_user(session=session, email="two@example.com", password="same password 1")

    # Then: the hashes are salted
    assert one.password_hash != two.password_hash


def test_short_password_is_refused_and_nothing_stored(session: Session) -> None:
    # Given: a password one character too short
    short = "x" * (MIN_PASSWORD_LENGTH - 1)

    # When / Then: it is refused with the minimum length, and no user exists
    with pytest.raises(InvalidInput, match=str(MIN_PASSWORD_LENGTH)):
        create_user(session=session, email="short@example.com", password=short)
    assert _user_count(session) == 0


def test_user_without_password_has_no_hash(session: Session) -> None:
    # Given / When: a user created without a password (sign-in comes later)
    user = create_user(session=session, email="nopw@example.com")

    # Then: no hash is stored
    assert user.password_hash is None


def test_nul_character_is_refused_on_every_database(session: Session) -> None:
    # Given / When / Then: NUL in a name or email is a clear refusal, not a database error
    with pytest.raises(InvalidInput, match="NUL"):
        create_user(session=session, email="nul@example.com", name="Ada\x00")
    with pytest.raises(InvalidInput, match="NUL"):
        create_user(session=session, email="nul\x00@example.com")
    assert _user_count(session) == 0


def test_unknown_email_is_not_found(session: Session) -> None:
    # Given / When / Then
    with pytest.raises(NotFound):
        get_user_by_email(session=session, email="nobody@example.com")


def test_only_user_needs_exactly_one_user(session: Session) -> None:
    # Given: no users
    # When / Then: asking for the only user says to create one
    with pytest.raises(InvalidInput, match="workfuse user create"):
        only_user(session=session)

    # Given: one user
    ada = create_user(session=session, email="ada@example.com")
    # Then: that user is returned
    assert only_user(session=session).id == ada.id

    # Given: two users
    create_user(session=session, email="grace@example.com")
    # Then: the caller must say which
    with pytest.raises(InvalidInput, match="--user"):
        only_user(session=session)


def test_normalise_email_is_idempotent() -> None:
    # Given / When / Then
    once = normalise_email(" X@Y.Z ")
    assert normalise_email(once) == once == "x@y.z"
