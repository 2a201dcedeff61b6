"""The sign-in pages' form posts: cookie and redirect on success, the message on failure,
no open redirects."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.conftest import PASSWORD
from workfuse.api.routes.auth_forms import safe_next
from workfuse.web_paths import SESSION_COOKIE


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/workflows/abc?tab=runs", "/workflows/abc?tab=runs"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
    ],
)
def test_next_only_goes_to_paths_on_this_site(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_form_sign_up_sets_the_cookie_and_goes_where_the_person_was_going(
    anonymous: httpx.Client,
) -> None:
    response = anonymous.post(
        "/api/auth/form/sign-up",
        data={"email": "form@example.com", "password": PASSWORD, "next": "/executions"},
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/executions"
    assert SESSION_COOKIE in response.cookies
    assert anonymous.get("/api/auth/me").json()["email"] == "form@example.com"


def test_a_failed_form_sign_in_goes_back_with_the_message_and_no_cookie(
    ada: httpx.Client, api_url: str
) -> None:
    with httpx.Client(base_url=api_url) as browser:
        response = browser.post(
            "/api/auth/form/sign-in",
            data={"email": "ada@example.com", "password": "wrong wrong", "next": "https://x.y/"},
        )

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/sign-in"
    query = parse_qs(location.query)
    assert query["error"] == ["the email or password is not right"]
    assert query["next"] == ["/"] and query["email"] == ["ada@example.com"]
    assert "wrong" not in location.query and SESSION_COOKIE not in response.cookies


def test_form_sign_out_revokes_the_session_and_clears_the_cookie(
    ada: httpx.Client,
) -> None:
    token = ada.cookies[SESSION_COOKIE]

    response = ada.post("/api/auth/form/sign-out")

    assert response.status_code == 303 and response.headers["location"] == "/sign-in"
    with httpx.Client(base_url=str(ada.base_url), cookies={SESSION_COOKIE: token}) as replay:
        assert replay.get("/api/auth/me").status_code == 401
