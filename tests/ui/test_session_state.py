"""``SessionState._unit_of_work``: the signed-in user, the redirect to sign-in, refusals
shown in a state var, and one transaction per body (no browser; the handlers' own use
of it is probed in ``tests/security/test_ui_authorization.py``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import reflex as rx
from sqlmodel import Session, select

from workfuse import web_paths
from workfuse.db import get_engine
from workfuse.db_types import utcnow
from workfuse.models import LoginSession, User, Workflow
from workfuse.services import auth
from workfuse.services.errors import Conflict, InvalidInput, ServiceError
from workfuse.ui.session_state import SessionState

PASSWORD = "correct horse battery"


class ProbeState(SessionState):
    """A page state for these tests: one var that shows refusals."""

    error: str = ""


def _tab(cookie: str = "", path: str = "/credentials") -> ProbeState:
    """A ``ProbeState`` as Reflex builds one for a tab on ``path`` sending ``cookie``."""
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    root._update_router_vars(
        {"headers": {"cookie": cookie} if cookie else {}, "pathname": path, "asPath": path}, {}
    )
    state = root.get_substate(ProbeState.get_full_name().split("."))
    assert isinstance(state, ProbeState)
    return state


@pytest.fixture
def signed_in(database_url: str) -> auth.SignedIn:
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        signed_in = auth.sign_up(
            session=session, email="ada@example.com", password=PASSWORD, name="Ada"
        )
        session.commit()
    return signed_in


def _cookie(signed_in: auth.SignedIn) -> str:
    return f"{web_paths.SESSION_COOKIE}={signed_in.token}"


def _workflow(user: User, name: str) -> Workflow:
    return Workflow(
        name=name, graph={"nodes": [], "edges": []}, webhook_token=f"hook-{name}", user_id=user.id
    )


def _workflow_names() -> list[str]:
    with Session(get_engine()) as session:
        return sorted(session.exec(select(Workflow.name)).all())


def test_signed_in_the_body_acts_as_the_user_and_is_committed(
    signed_in: auth.SignedIn,
) -> None:
    # Given: Ada's tab
    state = _tab(_cookie(signed_in))

    # When: the body writes a row
    with state._unit_of_work(error_var="error") as work:
        assert work.user.id == signed_in.user.id
        work.session.add(_workflow(work.user, "kept"))

    # Then: it ran to its end and its write is stored; the page knows who is signed in
    assert (work.done, work.redirect, work.error) == (True, None, None)
    assert _workflow_names() == ["kept"]
    assert (state.user_email, state.user_name, state.error) == ("ada@example.com", "Ada", "")


@pytest.mark.parametrize("cookie", ["", f"{web_paths.SESSION_COOKIE}=not-a-session"])
def test_signed_out_the_body_stops_and_the_tab_is_sent_to_sign_in(
    signed_in: auth.SignedIn, cookie: str
) -> None:
    # Given: a tab with no cookie, or one of no session
    state = _tab(cookie, path="/credentials")
    reached: list[str] = []

    # When: the body asks for the user
    with state._unit_of_work(error_var="error") as work:
        reached.append("before")
        user = work.user
        reached.append(f"after: {user.id}")

    # Then: it stopped there; the answer is the sign-in page, coming back here afterwards
    assert reached == ["before"]
    assert not work.done and work.error is None and state.error == ""
    assert work.redirect is not None
    assert f"{web_paths.SIGN_IN}?next=%2Fcredentials" in repr(work.redirect.args)


def test_signed_out_what_resolving_did_is_committed(signed_in: auth.SignedIn) -> None:
    # Given: Ada's session has expired
    with Session(get_engine()) as session:
        row = session.exec(select(LoginSession)).one()
        row.expires_at = utcnow() - timedelta(minutes=1)
        session.add(row)
        session.commit()

    # When: her tab does some work
    with _tab(_cookie(signed_in))._unit_of_work(error_var="error") as work:
        work.session.add(_workflow(work.user, "never"))

    # Then: she is sent to sign-in, and the expired session is gone for good
    assert work.redirect is not None and not work.done
    with Session(get_engine()) as session:
        assert session.exec(select(LoginSession)).all() == []
    assert _workflow_names() == []


def test_a_refusal_is_shown_in_the_var_named_and_rolled_back(
    signed_in: auth.SignedIn,
) -> None:
    # Given: Ada's tab
    state = _tab(_cookie(signed_in))
    refusal = Conflict("a workflow with that name exists")

    # When: the service refuses after the body wrote a row
    with state._unit_of_work(error_var="error") as work:
        work.session.add(_workflow(work.user, "dropped"))
        work.session.flush()
        raise refusal

    # Then: its message is shown, nothing is stored, and no redirect is asked for
    assert state.error == "a workflow with that name exists"
    assert (work.done, work.redirect, work.error) == (False, None, refusal)
    assert _workflow_names() == []


def test_message_says_how_a_refusal_is_shown(signed_in: auth.SignedIn) -> None:
    state = _tab(_cookie(signed_in))

    with state._unit_of_work(error_var="error", message=lambda e: f"Not saved: {e}") as work:
        raise InvalidInput("the name is empty", issues=[])

    assert state.error == "Not saved: the name is empty"
    assert isinstance(work.error, InvalidInput)


def test_without_an_error_var_a_refusal_propagates_and_is_rolled_back(
    signed_in: auth.SignedIn,
) -> None:
    state = _tab(_cookie(signed_in))

    with pytest.raises(ServiceError, match="refused"), state._unit_of_work() as work:
        work.session.add(_workflow(work.user, "dropped"))
        work.session.flush()
        raise ServiceError("refused")

    assert not work.done
    assert _workflow_names() == []


def test_other_exceptions_propagate_and_are_rolled_back(signed_in: auth.SignedIn) -> None:
    state = _tab(_cookie(signed_in))

    with pytest.raises(RuntimeError, match="bug"), state._unit_of_work(error_var="error") as work:
        work.session.add(_workflow(work.user, "dropped"))
        work.session.flush()
        raise RuntimeError("bug")

    assert state.error == ""
    assert not work.done and work.redirect is None and work.error is None
    assert _workflow_names() == []


def test_user_first_commits_the_sessions_refresh_before_the_body(
    signed_in: auth.SignedIn,
) -> None:
    # Given: Ada's session is due for its sliding refresh
    due = utcnow() + auth.SESSION_TTL - auth.SESSION_REFRESH_AFTER - timedelta(minutes=1)
    with Session(get_engine()) as session:
        row = session.exec(select(LoginSession)).one()
        row.expires_at = due
        session.add(row)
        session.commit()
    state = _tab(_cookie(signed_in))

    # When: the body looks through another connection (as the local secret store writes)
    with state._unit_of_work(error_var="error", user_first=True) as work:
        assert work.user.id == signed_in.user.id
        with Session(get_engine()) as elsewhere:
            seen = elsewhere.exec(select(LoginSession.expires_at)).one()

    # Then: the refresh was already committed
    assert work.done
    assert seen > due + timedelta(minutes=30)
