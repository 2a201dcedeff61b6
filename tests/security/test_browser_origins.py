"""Pages of other origins cannot use a signed-in person's browser against WorkFuse.

Everything here talks to the real backend (Reflex's server with the mounted API, its
CORS layers and its ``/_event`` socket; :mod:`tests.support.reflex_backend`) over
real HTTP and real Socket.IO handshakes, sending the headers a browser would send
for a page of the given origin (:mod:`tests.support.event_socket`).

What is proven, for every foreign origin in :func:`foreign_origins` (another site,
``null``, ``file://``, the app's own host and port under the other scheme, another
port, look-alike and unparsable values):

- CORS: no ``Access-Control-Allow-Origin``/``-Credentials`` on ``/api`` answers, and
  preflights are refused; the app's own origin and a listed ``WORKFUSE_CORS_ORIGINS``
  one get both.
- The event socket (websocket and polling transports): the handshake is refused, so
  the reported attack (the settings page's ``create_token`` handler run over a socket
  carrying the victim's cookie) creates no token; without an ``Origin`` a browser-like
  handshake is refused too. The same attack from the app's own origin does run.
- Cookie writes: sign-in (login CSRF), sign-up and sign-out, as JSON and as form
  posts, and cookie-authenticated writes are refused (403, no ``Set-Cookie``), the
  victim's session survives.
- Without ``WORKFUSE_BASE_URL`` (a local install on any port) the loopback address
  the app is reached at is its own origin, and nothing else is: not the default base
  URL's port, not another loopback name than the one in ``Host``, not a rebound name.

What is not: a real Chromium (the UI tests drive one against the same rules through
the real pages), TLS, and proxies that rewrite ``Host``.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from reflex_base.utils.format import format_event_handler

from tests.support.event_socket import Refused, Transport, open_event_socket
from tests.support.reflex_backend import free_port, running_backend
from workfuse.ui.settings_state import SettingsState
from workfuse.web_paths import SESSION_COOKIE

PASSWORD = "correct horse battery"
#: As an operator might write it; browsers send it as :data:`LISTED`.
LISTED_SETTING = "https://Console.Example.com:443/"
LISTED = "https://console.example.com"
BROWSER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
#: The settings page's handler from the report: it answers with a working API token.
CREATE_TOKEN = format_event_handler(SettingsState.create_token)
TRANSPORTS: tuple[Transport, ...] = ("websocket", "polling")

pytestmark = pytest.mark.timeout(300)


@dataclass(frozen=True)
class Deployment:
    url: str
    port: int
    #: A session cookie of the victim (signed in through the API, as a script would).
    cookie: str = ""

    @property
    def own(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cookie_header(self) -> str:
        return f"{SESSION_COOKIE}={self.cookie}"


def foreign_origins(port: int) -> list[str]:
    """Origins that are not the app's when it runs at ``http://127.0.0.1:<port>`` with
    that as ``WORKFUSE_BASE_URL`` and :data:`LISTED` in ``WORKFUSE_CORS_ORIGINS``."""
    return [
        "http://evil.example",
        "null",
        "file://",
        f"https://127.0.0.1:{port}",  # same host and port, other scheme
        f"http://127.0.0.1:{port + 1}",  # same host, other port
        f"http://localhost:{port}",  # the same machine by another name than the base URL
        f"http://127.0.0.1.evil.example:{port}",  # the own host as a prefix
        "http://console.example.com",  # a listed origin under the other scheme
        "https://console.example.com.evil.example",  # a listed origin as a prefix
        f"http://127.0.0.1:{port}, http://evil.example",  # unparsable (a list)
        f"http://127.0.0.1:{port}/path",  # unparsable (an origin has no path)
    ]


def _deploy(workdir: Path, settings: dict[str, str]) -> Iterator[Deployment]:
    port = free_port()
    settings = {"WORKFUSE_LOAD_DEMO": "false"} | settings
    settings = {key: value.format(port=port) for key, value in settings.items()}
    with running_backend(workdir, settings, port=port) as backend:
        response = httpx.post(
            f"{backend.url}/api/auth/sign-up",
            json={"email": "victim@example.com", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        yield Deployment(backend.url, port)


def signed_in(deployment: Deployment) -> Deployment:
    """``deployment`` with a new session of the victim: each test has its own, so a
    sign-out that wrongly got through in one test does not fail the next."""
    response = httpx.post(
        f"{deployment.url}/api/auth/sign-in",
        json={"email": "victim@example.com", "password": PASSWORD},
    )
    assert response.status_code == 200, response.text
    return dataclasses.replace(deployment, cookie=response.cookies[SESSION_COOKIE])


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Reflex's default transport (websocket); ``WORKFUSE_BASE_URL`` is where it runs."""
    yield from _deploy(
        tmp_path_factory.mktemp("websocket"),
        {"WORKFUSE_BASE_URL": "http://127.0.0.1:{port}", "WORKFUSE_CORS_ORIGINS": LISTED_SETTING},
    )


@pytest.fixture(scope="module")
def polling_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The same on Reflex's polling transport (each polling request is plain HTTP)."""
    yield from _deploy(
        tmp_path_factory.mktemp("polling"),
        {
            "WORKFUSE_BASE_URL": "http://127.0.0.1:{port}",
            "WORKFUSE_CORS_ORIGINS": LISTED_SETTING,
            "REFLEX_TRANSPORT": "polling",
        },
    )


@pytest.fixture(scope="module")
def local_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """No ``WORKFUSE_BASE_URL``: a local install on a port other than the default's."""
    yield from _deploy(tmp_path_factory.mktemp("local"), {})


def _on(transport: Transport, request: pytest.FixtureRequest) -> Deployment:
    deployment: Deployment = request.getfixturevalue(
        "backend" if transport == "websocket" else "polling_backend"
    )
    return signed_in(deployment)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.lower().startswith("access-control-")
    }


def preflight(url: str, origin: str) -> httpx.Response:
    """The preflight a browser sends before a page's JSON POST to another origin."""
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    return httpx.options(f"{url}/api/workflows", headers=headers)


def token_names(deployment: Deployment) -> set[str]:
    response = httpx.get(
        f"{deployment.url}/api/tokens", cookies={SESSION_COOKIE: deployment.cookie}
    )
    assert response.status_code == 200, response.text
    return {token["name"] for token in response.json()}


@dataclass(frozen=True)
class Attempt:
    #: HTTP status of a refused handshake (``None``: the socket opened).
    refused: int | None
    #: The namespace join's answer packet, when the socket opened.
    joined: str | None
    #: Whether the ``create_token`` handler ran for the victim.
    token_created: bool


def attempt_create_token(
    deployment: Deployment,
    transport: Transport,
    origin: str | None,
    *,
    cookie: bool = True,
    headers: dict[str, str] | None = None,
    address: tuple[str, int] | None = None,
    url: str | None = None,
) -> Attempt:
    """The reported attack: open the event socket with ``origin`` (and the victim's
    cookie), join the namespace, send ``create_token`` as the settings page does."""
    name = f"hijack {uuid.uuid4().hex[:8]}"
    try:
        with open_event_socket(
            url or deployment.url,
            transport=transport,
            origin=origin,
            cookie=deployment.cookie_header() if cookie else None,
            headers=headers,
            address=address,
        ) as socket:
            joined = socket.join()
            if joined.startswith("40"):
                socket.emit_event(CREATE_TOKEN, {"form_data": {"name": name}}, "/settings")
                socket.answer(timeout=10)
    except Refused as refusal:
        return Attempt(refusal.status, None, name in token_names(deployment))
    return Attempt(None, joined, name in token_names(deployment))


# --- CORS -------------------------------------------------------------------------


def test_foreign_origins_get_no_cors_headers_on_api_answers(backend: Deployment) -> None:
    backend = signed_in(backend)
    # When: a page of another origin reads the API with the victim's cookie
    leaked = {}
    for origin in foreign_origins(backend.port):
        response = httpx.get(
            f"{backend.url}/api/workflows",
            headers={"Origin": origin},
            cookies={SESSION_COOKIE: backend.cookie},
        )
        if cors_headers(response):
            leaked[origin] = cors_headers(response)

    # Then: no answer says the browser may hand it to that page
    assert leaked == {}


def test_foreign_preflights_are_refused_without_cors_headers(backend: Deployment) -> None:
    allowed = {}
    for origin in foreign_origins(backend.port):
        response = preflight(backend.url, origin)
        if response.is_success or cors_headers(response):
            allowed[origin] = (response.status_code, cors_headers(response))

    assert allowed == {}


def test_own_and_listed_origins_get_credentialed_cors(backend: Deployment) -> None:
    backend = signed_in(backend)
    for origin in (backend.own, LISTED):
        response = httpx.get(
            f"{backend.url}/api/workflows",
            headers={"Origin": origin},
            cookies={SESSION_COOKIE: backend.cookie},
        )
        assert response.status_code == 200
        assert response.headers.get("access-control-allow-origin") == origin
        assert response.headers.get("access-control-allow-credentials") == "true"
        assert "origin" in response.headers.get("vary", "").lower()

        answer = preflight(backend.url, origin)
        assert answer.is_success, answer.text
        assert answer.headers.get("access-control-allow-origin") == origin
        assert answer.headers.get("access-control-allow-credentials") == "true"
        assert "POST" in answer.headers.get("access-control-allow-methods", "")

    # And: the same request from a foreign page gets neither
    evil = httpx.get(
        f"{backend.url}/api/workflows",
        headers={"Origin": "http://evil.example"},
        cookies={SESSION_COOKIE: backend.cookie},
    )
    assert cors_headers(evil) == {}


# --- the event socket -------------------------------------------------------------


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_foreign_page_cannot_open_the_socket_with_the_cookie(
    transport: Transport, request: pytest.FixtureRequest
) -> None:
    deployment = _on(transport, request)
    got_through = {}
    for origin in foreign_origins(deployment.port):
        attempt = attempt_create_token(deployment, transport, origin)
        if attempt.refused != 403 or attempt.token_created:
            got_through[origin] = attempt

    # Then: every handshake was refused (403, before Engine.IO opened a session, so
    # before any handler), and no token was created for the victim
    assert got_through == {}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_browser_like_handshake_without_origin_is_refused(
    transport: Transport, request: pytest.FixtureRequest
) -> None:
    deployment = _on(transport, request)
    browser_like = {
        "the victim's cookie": attempt_create_token(deployment, transport, None),
        "a browser's user agent": attempt_create_token(
            deployment, transport, None, cookie=False, headers={"User-Agent": BROWSER_AGENT}
        ),
        "Sec-Fetch-Site: cross-site": attempt_create_token(
            deployment, transport, None, headers={"Sec-Fetch-Site": "cross-site"}
        ),
    }
    assert {case: a for case, a in browser_like.items() if a.refused != 403} == {}
    assert not any(attempt.token_created for attempt in browser_like.values())

    # A script (no Origin, no cookie, no browser headers) gets an anonymous socket,
    # whose handlers see nobody signed in
    script = attempt_create_token(deployment, transport, None, cookie=False)
    assert script.refused is None and script.joined is not None
    assert script.joined.startswith("40")
    assert not script.token_created


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_apps_own_pages_use_the_socket_as_the_user(
    transport: Transport, request: pytest.FixtureRequest
) -> None:
    deployment = _on(transport, request)

    # When: the same attack comes from the app's own origin, or a listed one, it is
    # simply the user's own page: the handler runs as the victim
    for origin in (deployment.own, LISTED):
        attempt = attempt_create_token(deployment, transport, origin)
        assert attempt.refused is None, origin
        assert attempt.token_created, origin

    # And a same-origin browser request that carries no Origin (a polling GET) but
    # says so in Sec-Fetch-Site is the app's own too
    same_origin = attempt_create_token(
        deployment,
        transport,
        None,
        headers={"Sec-Fetch-Site": "same-origin", "User-Agent": BROWSER_AGENT},
    )
    assert same_origin.token_created

    # But from another site, the identical attack does nothing
    evil = attempt_create_token(deployment, transport, "http://evil.example")
    assert evil.refused == 403 and not evil.token_created


# --- cookie writes ----------------------------------------------------------------


def _sign_in_form(url: str, origin: str | None, email: str) -> httpx.Response:
    headers = {"Origin": origin} if origin else {}
    return httpx.post(
        f"{url}/api/auth/form/sign-in",
        data={"email": email, "password": PASSWORD, "next": "/"},
        headers=headers,
    )


def test_cross_site_pages_cannot_sign_in_up_or_out(backend: Deployment) -> None:
    backend = signed_in(backend)
    url = backend.url
    # Given: the attacker's own account (login CSRF signs the victim in as the attacker)
    assert (
        httpx.post(
            f"{url}/api/auth/sign-up", json={"email": "mallory@example.com", "password": PASSWORD}
        ).status_code
        == 201
    )
    victim = {SESSION_COOKIE: backend.cookie}

    accepted = []
    for number, origin in enumerate(foreign_origins(backend.port)):
        headers = {"Origin": origin}
        new = {"email": f"new{number}@example.com", "password": PASSWORD}
        mallory = {"email": "mallory@example.com", "password": PASSWORD}
        answers = {
            "form sign-in": _sign_in_form(url, origin, "mallory@example.com"),
            "JSON sign-in": httpx.post(f"{url}/api/auth/sign-in", json=mallory, headers=headers),
            "form sign-up": httpx.post(f"{url}/api/auth/form/sign-up", data=new, headers=headers),
            "JSON sign-up": httpx.post(f"{url}/api/auth/sign-up", json=new, headers=headers),
            "form sign-out": httpx.post(
                f"{url}/api/auth/form/sign-out", headers=headers, cookies=victim
            ),
            "JSON sign-out": httpx.post(
                f"{url}/api/auth/sign-out", headers=headers, cookies=victim
            ),
        }
        accepted += [
            (origin, route, response.status_code)
            for route, response in answers.items()
            if response.status_code != 403 or "set-cookie" in response.headers
        ]

    # Then: all refused with 403 and no cookie set or cleared
    assert accepted == []
    # And: the victim is still signed in
    me = httpx.get(f"{url}/api/auth/me", cookies=victim)
    assert me.status_code == 200 and me.json()["email"] == "victim@example.com"

    # While the app's own sign-in page (and a script, without Origin) signs in
    for own_origin in (backend.own, None):
        own = _sign_in_form(url, own_origin, "mallory@example.com")
        assert own.status_code == 303 and SESSION_COOKIE in own.cookies


def test_cross_site_writes_with_the_cookie_are_refused(backend: Deployment) -> None:
    backend = signed_in(backend)
    url, cookies = backend.url, {SESSION_COOKIE: backend.cookie}
    cases = [{"Origin": origin} for origin in foreign_origins(backend.port)]
    # A browser that sends no Origin but says the request is cross-site
    cases.append({"Sec-Fetch-Site": "cross-site"})

    created = []
    for headers in cases:
        name = f"csrf {uuid.uuid4().hex[:8]}"
        response = httpx.post(
            f"{url}/api/tokens", json={"name": name}, headers=headers, cookies=cookies
        )
        if response.status_code != 403 or name in token_names(backend):
            created.append((headers, response.status_code))
    assert created == []

    # The app's own page, and a script with a cookie jar (no Origin), may write
    for headers in ({"Origin": backend.own}, {}):
        response = httpx.post(
            f"{url}/api/tokens", json={"name": "mine"}, headers=headers, cookies=cookies
        )
        assert response.status_code == 201, (headers, response.text)


# --- a local install without WORKFUSE_BASE_URL ------------------------------------


def test_without_a_base_url_only_the_loopback_address_it_runs_at_is_own(
    local_backend: Deployment,
) -> None:
    deployment, port = signed_in(local_backend), local_backend.port
    localhost_url = f"http://localhost:{port}"
    # (Origin, Host) as a browser sends them for a page of that origin
    own = [(deployment.own, None), (localhost_url, f"localhost:{port}")]
    foreign = [
        ("http://127.0.0.1:3000", None),  # the default base URL: another local server
        (localhost_url, None),  # another name than the one the request used
        (f"https://127.0.0.1:{port}", None),
        (f"http://rebind.example:{port}", f"rebind.example:{port}"),  # DNS rebinding
        (f"http://192.168.1.5:{port}", f"192.168.1.5:{port}"),  # not loopback
    ]

    def cors(origin: str, host: str | None) -> bool:
        headers = {"Origin": origin} | ({"Host": host} if host else {})
        response = httpx.get(
            f"{deployment.url}/api/workflows",
            headers=headers,
            cookies={SESSION_COOKIE: deployment.cookie},
        )
        return bool(response.headers.get("access-control-allow-origin") == origin)

    def socket(origin: str, host: str | None) -> bool:
        url = f"http://{host}" if host else deployment.url
        return attempt_create_token(
            deployment, "websocket", origin, url=url, address=("127.0.0.1", port)
        ).token_created

    def sign_in(origin: str, host: str | None) -> bool:
        headers = {"Origin": origin} | ({"Host": host} if host else {})
        response = httpx.post(
            f"{deployment.url}/api/auth/form/sign-in",
            data={"email": "victim@example.com", "password": PASSWORD},
            headers=headers,
        )
        return response.status_code == 303

    for check in (cors, socket, sign_in):
        assert [case for case in own if not check(*case)] == [], check.__name__
        assert [case for case in foreign if check(*case)] == [], check.__name__
