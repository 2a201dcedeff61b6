"""Sign-up, sign-in, sign-out, sessions and API tokens over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from sqlmodel import Session, select

from tests.api.conftest import PASSWORD, signed_up
from workfuse.models import ApiToken, LoginSession
from workfuse.services.auth import SIGN_IN_LIMIT_PER_EMAIL, hash_token
from workfuse.web_paths import SESSION_COOKIE


def test_sign_up_sets_an_http_only_session_cookie_and_me_answers(
    anonymous: httpx.Client,
) -> None:
    # When: a person signs up
    response = anonymous.post(
        "/api/auth/sign-up", json={"email": " Ada@Example.com", "password": PASSWORD}
    )

    # Then: 201, the user (no hash), and an HttpOnly, SameSite=Lax cookie
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert "passwordHash" not in body["user"] and "password_hash" not in response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert anonymous.get("/api/auth/me").json()["email"] == "ada@example.com"


def test_the_database_keeps_only_the_hash_of_a_session_token(
    ada: httpx.Client, session: Session
) -> None:
    token = ada.cookies[SESSION_COOKIE]
    rows = session.exec(select(LoginSession)).all()
    assert [row.token_hash for row in rows] == [hash_token(token)]
    assert token not in rows[0].token_hash


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10 characters"),
        ("aaaaaaaaaaaa", "at least 5 different characters"),
        ("newcomer@example.com", "must not be your email"),
        ("x" * 300, "at most 256"),
    ],
)
def test_a_weak_password_is_refused_with_the_rule_it_breaks(
    anonymous: httpx.Client, password: str, message: str
) -> None:
    response = anonymous.post(
        "/api/auth/sign-up", json={"email": "newcomer@example.com", "password": password}
    )
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]
    assert SESSION_COOKIE not in anonymous.cookies


def test_signing_up_twice_is_a_conflict(ada: httpx.Client, anonymous: httpx.Client) -> None:
    response = anonymous.post(
        "/api/auth/sign-up", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CONFLICT"


def test_wrong_password_and_unknown_email_get_the_same_answer(
    ada: httpx.Client, anonymous: httpx.Client
) -> None:
    # When: one sign-in has a wrong password, the other an email nobody has
    wrong = anonymous.post(
        "/api/auth/sign-in", json={"email": "ada@example.com", "password": "not the password"}
    )
    unknown = anonymous.post(
        "/api/auth/sign-in", json={"email": "nobody@example.com", "password": PASSWORD}
    )

    # Then: both are 401 with the same body, so nobody learns which accounts exist
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["message"] == "the email or password is not right"


def test_sign_in_then_sign_out_revokes_the_session(ada: httpx.Client, api_url: str) -> None:
    # Given: a second session from another browser
    with httpx.Client(base_url=api_url) as other:
        signed_in = other.post(
            "/api/auth/sign-in", json={"email": "ADA@example.com", "password": PASSWORD}
        )
        assert signed_in.status_code == 200
        token = other.cookies[SESSION_COOKIE]
        assert other.get("/api/auth/me").status_code == 200

        # When: that browser signs out
        assert other.post("/api/auth/sign-out").status_code == 204

    # Then: its token no longer works, even if replayed; the first session still does
    with httpx.Client(base_url=api_url, cookies={SESSION_COOKIE: token}) as replay:
        response = replay.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHORIZED"
    assert ada.get("/api/auth/me").status_code == 200


def test_repeated_failed_sign_ins_are_throttled_with_retry_after(
    ada: httpx.Client, anonymous: httpx.Client
) -> None:
    # Given: as many failed attempts as the limit allows
    bad = {"email": "ada@example.com", "password": "guess guess guess"}
    for _ in range(SIGN_IN_LIMIT_PER_EMAIL.count):
        assert anonymous.post("/api/auth/sign-in", json=bad).status_code == 401

    # When: one more attempt is made, even with the right password
    response = anonymous.post(
        "/api/auth/sign-in", json={"email": "ada@example.com", "password": PASSWORD}
    )

    # Then: 429 with Retry-After, and a message that says when to try again
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0
    assert "try again in" in response.json()["error"]["message"]


def test_an_api_token_is_shown_once_and_works_as_a_bearer_token(
    ada: httpx.Client, api_url: str, session: Session
) -> None:
    # When: a token is created
    created = ada.post("/api/tokens", json={"name": "ci script"})

    # Then: the token is in this response only; the list shows its prefix, never it
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("wf_")
    listed = ada.get("/api/tokens").json()
    assert [item["name"] for item in listed] == ["ci script"]
    assert token not in str(listed) and listed[0]["prefix"] == token[:10]
    assert session.exec(select(ApiToken)).one().token_hash == hash_token(token)

    # And: a script without cookies can use it
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"}) as script:
        assert script.get("/api/auth/me").json()["email"] == "ada@example.com"

        # When: it is revoked, it stops working at once
        assert ada.delete(f"/api/tokens/{created.json()['apiToken']['id']}").status_code == 204
        assert script.get("/api/auth/me").status_code == 401


def test_another_users_token_cannot_be_revoked(ada: httpx.Client, grace: httpx.Client) -> None:
    token_id = ada.post("/api/tokens", json={"name": "mine"}).json()["apiToken"]["id"]
    assert grace.delete(f"/api/tokens/{token_id}").status_code == 404
    assert len(ada.get("/api/tokens").json()) == 1


def test_a_cross_site_request_with_the_cookie_is_forbidden(ada: httpx.Client) -> None:
    # When: a page on another origin makes the browser send a state-changing request
    response = ada.post(
        "/api/workflows", json={"name": "evil"}, headers={"Origin": "https://evil.example"}
    )

    # Then: 403 and nothing is created
    assert response.status_code == 403
    assert ada.get("/api/workflows").json() == []


def test_a_garbage_bearer_token_is_401_not_500(anonymous: httpx.Client) -> None:
    for value in (b"Bearer wf_nope", "Bearer \u00e9t\u00e9".encode(), b"Basic abc", b"Bearer"):
        response = anonymous.get("/api/auth/me", headers={b"Authorization": value})
        assert response.status_code == 401, value


def test_sign_up_in_a_fresh_client(api_url: str, database_url: str) -> None:
    client = signed_up(api_url, "lin@example.com")
    assert client.get("/api/auth/me").json()["email"] == "lin@example.com"
    client.close()
