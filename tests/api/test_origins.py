"""The origin policy's rules, one by one (:mod:`workfuse.api.origins`).

The same rules against the real backend, over HTTP and Socket.IO, are in
``tests/security/test_browser_origins.py``.
"""

from __future__ import annotations

import pytest
from starlette.types import Scope

from workfuse.api.origins import (
    OriginPolicy,
    cors_origin,
    parse_origin,
    policy_from,
    socket_allowed,
    write_allowed,
)
from workfuse.settings import Settings, SettingsError, get_settings

CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


def scope(*headers: tuple[str, str], host: str = "127.0.0.1:8080", scheme: str = "http") -> Scope:
    raw = [(b"host", host.encode())] if host else []
    raw += [(name.lower().encode(), value.encode()) for name, value in headers]
    return {"type": "http", "scheme": scheme, "method": "POST", "path": "/", "headers": raw}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://flows.example.com", "https://flows.example.com"),
        ("HTTPS://Flows.Example.COM:443", "https://flows.example.com"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://flows.example.com:80", "https://flows.example.com:80"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("http://[0:0:0:0:0:0:0:1]:3000", "http://[::1]:3000"),
        ("null", None),
        ("file://", None),
        ("file:///etc/passwd", None),
        ("chrome-extension://abcdef", None),
        ("ws://127.0.0.1:8080", None),
        ("http://", None),
        ("http://host:", None),
        ("http://host:0", None),
        ("http://host:99999", None),
        ("http://host:port", None),
        ("http://user@host", None),
        ("http://host/", None),
        ("http://host/path", None),
        ("http://host?x", None),
        ("http://host#x", None),
        ("http://host, http://other", None),
        (" http://host", None),
        ("http://h\u00f6st.example", None),
        ("http://ho%73t", None),
        ("http://[::g]", None),
        ("", None),
    ],
)
def test_origins_parse_to_one_normal_form(value: str, expected: str | None) -> None:
    assert parse_origin(value) == expected


def test_a_url_gives_its_origin_when_paths_are_allowed() -> None:
    assert parse_origin("https://flows.example.com/workfuse/", allow_path=True) == (
        "https://flows.example.com"
    )
    assert parse_origin("https://flows.example.com/?x=1", allow_path=True) is None


CONFIGURED = OriginPolicy(
    configured=frozenset({"https://flows.example.com", "https://console.example.com"}),
    loopback_self=False,
)
LOCAL = OriginPolicy(configured=frozenset(), loopback_self=True)


@pytest.mark.parametrize(
    ("policy", "origin", "request_scope", "own"),
    [
        (CONFIGURED, "https://flows.example.com", scope(), True),
        (CONFIGURED, "https://FLOWS.example.com:443", scope(), True),
        (CONFIGURED, "http://flows.example.com", scope(), False),
        (CONFIGURED, "https://flows.example.com.evil.example", scope(), False),
        # with a base URL set, the address a request was sent to counts for nothing
        (CONFIGURED, "http://127.0.0.1:8080", scope(), False),
        (LOCAL, "http://127.0.0.1:8080", scope(), True),
        (LOCAL, "http://localhost:8080", scope(host="localhost:8080"), True),
        (LOCAL, "http://[::1]:8080", scope(host="[::1]:8080"), True),
        (LOCAL, "https://127.0.0.1:8080", scope(scheme="https"), True),
        (LOCAL, "https://127.0.0.1:8080", scope(), False),  # other scheme than the request's
        (LOCAL, "http://localhost:8080", scope(), False),  # another name than the request's
        (LOCAL, "http://127.0.0.1:3000", scope(), False),  # another port
        (LOCAL, "http://rebind.example:8080", scope(host="rebind.example:8080"), False),
        (LOCAL, "http://192.168.1.5:8080", scope(host="192.168.1.5:8080"), False),
        (LOCAL, "http://127.0.0.1:8080", scope(host=""), False),  # no Host header
        (LOCAL, "null", scope(), False),
        (LOCAL, None, scope(), False),
    ],
)
def test_own_origins(
    policy: OriginPolicy, origin: str | None, request_scope: Scope, own: bool
) -> None:
    assert policy.is_own(origin, request_scope) is own


def test_cors_names_the_origin_as_sent_only_for_own_ones() -> None:
    assert cors_origin(LOCAL, scope(("Origin", "http://127.0.0.1:8080"))) == (
        "http://127.0.0.1:8080"
    )
    assert cors_origin(LOCAL, scope(("Origin", "http://evil.example"))) is None
    assert cors_origin(LOCAL, scope()) is None
    # two Origin headers are not one origin
    two = scope(("Origin", "http://127.0.0.1:8080"), ("Origin", "http://127.0.0.1:8080"))
    assert cors_origin(LOCAL, two) is None


OWN = ("Origin", "http://127.0.0.1:8080")
COOKIE = ("Cookie", "workfuse_session=abc")


@pytest.mark.parametrize(
    ("headers", "write", "socket"),
    [
        ((OWN, COOKIE), True, True),
        ((("Origin", "http://evil.example"), COOKIE), False, False),
        ((("Origin", "null"), COOKIE), False, False),
        ((OWN, ("Origin", "http://evil.example")), False, False),
        # no Origin: a script with its cookie jar may write, but not open the socket
        ((COOKIE,), True, False),
        ((COOKIE, ("User-Agent", "curl/8.5.0")), True, False),
        ((("User-Agent", CHROME),), True, False),
        ((("User-Agent", "python-httpx/0.28"),), True, True),
        ((), True, True),
        # no Origin, and the browser says where the request comes from
        ((COOKIE, ("Sec-Fetch-Site", "same-origin"), ("User-Agent", CHROME)), True, True),
        ((COOKIE, ("Sec-Fetch-Site", "cross-site")), False, False),
        ((COOKIE, ("Sec-Fetch-Site", "same-site")), False, False),
        ((("Sec-Fetch-Site", "none"),), False, False),
        ((("Sec-Fetch-Mode", "websocket"),), True, False),
    ],
)
def test_writes_and_socket_handshakes(
    headers: tuple[tuple[str, str], ...], write: bool, socket: bool
) -> None:
    request = scope(*headers)
    assert write_allowed(LOCAL, request) is write
    assert socket_allowed(LOCAL, request) is socket


def test_the_policy_of_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # The default base URL is not an origin the app promises to run at
    assert policy_from(Settings()) == LOCAL

    monkeypatch.setenv("WORKFUSE_BASE_URL", "https://Flows.example.com/workfuse/")
    monkeypatch.setenv("WORKFUSE_CORS_ORIGINS", "https://console.example.com/, http://a.example:81")
    assert policy_from(Settings()) == OriginPolicy(
        configured=frozenset(
            {"https://flows.example.com", "https://console.example.com", "http://a.example:81"}
        ),
        loopback_self=False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WORKFUSE_CORS_ORIGINS", "*"),
        ("WORKFUSE_CORS_ORIGINS", "https://ok.example, null"),
        ("WORKFUSE_CORS_ORIGINS", "file://"),
        ("WORKFUSE_CORS_ORIGINS", "https://ok.example/app"),
        ("WORKFUSE_BASE_URL", "flows.example.com"),
        ("WORKFUSE_BASE_URL", "ftp://flows.example.com"),
    ],
)
def test_settings_that_are_not_origins_stop_the_start(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        get_settings()
