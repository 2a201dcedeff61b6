"""Sessions: expiry, sliding refresh, revocation; sign-in checks and throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from workfuse.db_types import utcnow
from workfuse.models import LoginSession, User
from workfuse.ratelimit import MemoryRateLimiter
from workfuse.services import auth
from workfuse.services.errors import RateLimited, Unauthorized

PASSWORD = "correct horse battery"


@pytest.fixture
def member(session: Session) -> User:
    signed_up = auth.sign_up(session=session, email="ada@example.com", password=PASSWORD)
    session.commit()
    return signed_up.user


def _row(session: Session, token: str) -> LoginSession:
    return session.exec(
        select(LoginSession).where(LoginSession.token_hash == auth.hash_token(token))
    ).one()


def test_an_expired_session_is_refused_and_removed(session: Session, member: User) -> None:
    # Given: a session whose expiry has passed
    token = auth.start_session(session=session, user=member).token
    _row(session, token).expires_at = utcnow() - timedelta(seconds=1)
    session.commit()

    # When / Then: it no longer authenticates
    with pytest.raises(Unauthorized, match="session has ended"):
        auth.resolve_session(session=session, token=token)
    session.commit()
    hashes = [row.token_hash for row in session.exec(select(LoginSession))]
    assert auth.hash_token(token) not in hashes


def test_a_used_session_slides_forward_but_not_on_every_request(
    session: Session, member: User
) -> None:
    # Given: a session started two hours ago
    token = auth.start_session(session=session, user=member).token
    row = _row(session, token)
    row.expires_at = utcnow() + auth.SESSION_TTL - timedelta(hours=2)
    session.commit()
    before = row.expires_at

    # When: it is used
    assert auth.resolve_session(session=session, token=token).id == member.id
    session.commit()

    # Then: its expiry moved to a full lifetime from now
    refreshed = _row(session, token).expires_at
    assert refreshed > before + timedelta(hours=1, minutes=59)

    # And: used again at once, it is not rewritten
    auth.resolve_session(session=session, token=token)
    assert _row(session, token).expires_at == refreshed


def test_sign_out_everywhere_revokes_every_session(session: Session, member: User) -> None:
    tokens = [auth.start_session(session=session, user=member).token for _ in range(3)]
    session.commit()

    assert auth.sign_out_everywhere(session=session, user=member) == 4  # + the sign-up's
    session.commit()

    for token in tokens:
        with pytest.raises(Unauthorized):
            auth.resolve_session(session=session, token=token)


def test_a_user_without_a_password_cannot_sign_in(session: Session, user: User) -> None:
    # ``user`` was created without a password (the CLI allows that)
    with pytest.raises(Unauthorized):
        auth.sign_in(session=session, email=user.email, password="", limiter=MemoryRateLimiter())


def test_throttling_counts_per_email_and_a_success_resets_it(
    session: Session, member: User
) -> None:
    limiter = MemoryRateLimiter()
    limit = auth.SIGN_IN_LIMIT_PER_EMAIL.count

    # Given: one failure fewer than the limit, then a success
    for _ in range(limit - 1):
        with pytest.raises(Unauthorized):
            auth.sign_in(session=session, email=member.email, password="nope", limiter=limiter)
    auth.sign_in(session=session, email=member.email, password=PASSWORD, limiter=limiter)

    # When: the limit is reached again from zero
    for _ in range(limit):
        with pytest.raises(Unauthorized):
            auth.sign_in(session=session, email=member.email, password="nope", limiter=limiter)

    # Then: the next attempt is throttled, whatever the password
    with pytest.raises(RateLimited) as caught:
        auth.sign_in(session=session, email=member.email, password=PASSWORD, limiter=limiter)
    assert 0 < caught.value.retry_after <= auth.SIGN_IN_LIMIT_PER_EMAIL.window


def test_a_stale_argon2_hash_is_upgraded_on_sign_in(session: Session, member: User) -> None:
    # Given: a hash made with weaker parameters than today's
    from argon2 import PasswordHasher

    member.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD)
    session.commit()

    # When: the user signs in
    auth.sign_in(
        session=session, email=member.email, password=PASSWORD, limiter=MemoryRateLimiter()
    )
    session.commit()

    # Then: the stored hash uses the current parameters
    assert not auth.password_hasher.check_needs_rehash(member.password_hash or "")


def test_the_first_sign_up_claims_the_passwordless_first_run_owner(session: Session) -> None:
    # Given: the embedded first run's owner, who has no password yet
    from workfuse.services.users import create_user
    from workfuse.settings import get_settings

    demo = create_user(session=session, email=get_settings().demo_email)
    session.commit()
    assert auth.unclaimed_owner(session=session) is not None

    # When: the first person signs up
    signed_up = auth.sign_up(session=session, email="Owner@Example.com", password=PASSWORD)
    session.commit()

    # Then: they became that user (and so own its workflows); the next sign-up is new
    assert signed_up.user.id == demo.id
    assert signed_up.user.email == "owner@example.com"
    assert auth.unclaimed_owner(session=session) is None
    other = auth.sign_up(session=session, email="second@example.com", password=PASSWORD)
    assert other.user.id != demo.id
