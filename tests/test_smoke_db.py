from sqlmodel import Session, select

from workfuse.models import User


def test_user_roundtrip(session: Session, user: User) -> None:
    assert session.exec(select(User)).one().email == "ada@example.com"
