"""The egress guard of workfuse.net, with real sockets on 127.0.0.1.

No test here ever opens a connection to a non-loopback address: refused URLs are
refused before any socket connects, and the ``connect_spy`` fixture wraps
``socket.socket.connect`` (the lowest level every backend goes through) so that a
guard failure would show up as a recorded, blocked attempt rather than as traffic.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from workfuse import net
from workfuse.net import EgressDenied, EgressPolicy, ResponseTooLarge
from workfuse.settings import Settings, get_settings

LOCAL = EgressPolicy(allow=("127.0.0.1/32",))
REAL_GETADDRINFO = socket.getaddrinfo

# ---------------------------------------------------------------- helpers and fixtures


@dataclass
class ConnectSpy:
    """Every outgoing ``connect`` of the test; only ``permitted`` hosts really connect."""

    permitted: set[str] = field(default_factory=set)
    attempts: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture
def connect_spy(monkeypatch: pytest.MonkeyPatch) -> ConnectSpy:
    spy = ConnectSpy()
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def permit(address: Any) -> bool:
        if not isinstance(address, tuple):
            return False
        host = str(address[0]).split("%")[0]
        spy.attempts.append((host, int(address[1])))
        return host in spy.permitted

    def connect(sock: socket.socket, address: Any) -> None:
        if not permit(address):
            raise ConnectionRefusedError(f"test spy blocked a connection to {address}")
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        return original_connect_ex(sock, address) if permit(address) else 111

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return spy


@dataclass
class Listener:
    """A bare TCP listener; connections complete in its backlog without accept()."""

    sock: socket.socket
    host: str
    port: int

    def accepted(self) -> int:
        self.sock.setblocking(False)
        count = 0
        while True:
            try:
                connection, _ = self.sock.accept()
            except BlockingIOError:
                return count
            connection.close()
            count += 1


def open_listener(host: str) -> Listener:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind((host, 0))
    except OSError as error:
        sock.close()
        pytest.skip(f"cannot listen on {host}: {error}")
    sock.listen(16)
    return Listener(sock, host, sock.getsockname()[1])


@pytest.fixture
def listener() -> Iterator[Callable[[str], Listener]]:
    opened: list[Listener] = []

    def make(host: str = "127.0.0.1") -> Listener:
        opened.append(open_listener(host))
        return opened[-1]

    yield make
    for item in opened:
        item.sock.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, str]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        if url.path == "/json":
            self._send(200, json.dumps({"hello": "world", "host": self.headers["Host"]}).encode())
        elif url.path == "/redirect":
            self._send(302, b"", {"Location": query["to"]})
        elif url.path == "/bytes":
            self._send(200, b"x" * int(query["n"]), {"Content-Type": "text/plain"})
        elif url.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            remaining = int(query["n"])
            while remaining:
                size = min(remaining, 1000)
                self.wfile.write(f"{size:x}\r\n".encode() + b"y" * size + b"\r\n")
                remaining -= size
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send(404, b"{}")

    def do_POST(self) -> None:
        self.server.seen.append(dict(self.headers))  # type: ignore[attr-defined]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._send(201, json.dumps({"method": "POST", "received": body}).encode())


@dataclass
class Server:
    url: str
    port: int
    seen: list[dict[str, str]]


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up early (size limit, failed TLS verification) are expected


def start_server(tls: ssl.SSLContext | None = None) -> tuple[ThreadingHTTPServer, Server]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    seen: list[dict[str, str]] = []
    httpd.seen = seen  # type: ignore[attr-defined]
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    scheme = "https" if tls else "http"
    return httpd, Server(f"{scheme}://127.0.0.1:{port}", int(port), seen)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    httpd, local = start_server()
    yield local
    httpd.shutdown()
    httpd.server_close()


def get(url: str, policy: EgressPolicy, *, use_async: bool) -> httpx.Response:
    """GET ``url`` through the async or the sync guarded client; the body is read."""
    if use_async:

        async def fetch() -> httpx.Response:
            async with net.async_client(policy=policy, timeout=5) as client:
                return await client.get(url)

        return asyncio.run(fetch())
    with net.sync_client(policy=policy, timeout=5) as client:
        return client.get(url)


BOTH = pytest.mark.parametrize("use_async", [True, False], ids=["async", "sync"])

# ---------------------------------------------------------------- the refused corpus

CORPUS = [
    ("http://169.254.169.254/latest/meta-data", "link-local/cloud metadata"),
    ("http://[::ffff:169.254.169.254]/", "IPv4-mapped form of 169.254.169.254"),
    ("http://2130706433/", "127.0.0.1, which is loopback"),
    ("http://0x7f.1/", "127.0.0.1, which is loopback"),
    ("http://localhost:6379/", "loopback"),
    ("http://100.64.0.1/", "carrier-grade NAT"),
    ("file:///etc/passwd", "file scheme is refused"),
    ("file://localhost/etc/passwd", "file scheme is refused"),
    ("http://[::1]/", "::1 is loopback"),
    ("http://10.0.0.1/", "private (RFC 1918)"),
    ("http://192.168.1.1/", "private (RFC 1918)"),
    ("http://[fd00::1]/", "unique-local"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 form of 169.254.169.254"),
    ("http://[2002:a9fe:a9fe::1]/", "6to4 form of 169.254.169.254"),
    ("http://[2002:808:808::1]/", "6to4 (2002::/16"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://0x7f000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://172.16.0.1/", "private (RFC 1918)"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://app.localhost/", "loopback"),
    ("ftp://example.com/", "ftp scheme is refused"),
    ("gopher://example.com/", "gopher scheme is refused"),
]


@pytest.mark.corpus
@pytest.mark.parametrize(("url", "why"), CORPUS)
def test_check_url_refuses_the_corpus_without_touching_the_network(
    url: str, why: str, connect_spy: ConnectSpy
) -> None:
    # Given the default policy (nothing allowlisted)
    # When a refused URL is checked
    with pytest.raises(EgressDenied) as caught:
        EgressPolicy().check_url(url)
    # Then the message says why, and nothing was connected
    assert why in str(caught.value)
    assert connect_spy.attempts == []


@pytest.mark.corpus
@BOTH
@pytest.mark.parametrize(("url", "why"), CORPUS)
def test_clients_refuse_the_corpus_before_any_socket_connects(
    url: str, why: str, use_async: bool, connect_spy: ConnectSpy
) -> None:
    # Given a guarded client with nothing allowlisted
    # When it is asked for a refused URL
    with pytest.raises(EgressDenied) as caught:
        get(url, EgressPolicy(), use_async=use_async)
    # Then it is refused and no socket ever tried to connect
    assert why in str(caught.value)
    assert connect_spy.attempts == []


@dataclass(frozen=True)
class ConnectTimeOnly(EgressPolicy):
    """A policy whose URL pre-check is switched off, to test the connect-time guard alone."""

    def check_url(self, url: str | httpx.URL) -> None:
        pass


# No names that need a DNS server: only literals and what /etc/hosts answers.
CONNECT_TIME_CORPUS = [
    (url, why) for url, why in CORPUS if "scheme" not in why and "app.localhost" not in url
]


@pytest.mark.corpus
@BOTH
@pytest.mark.parametrize(("url", "why"), CONNECT_TIME_CORPUS)
def test_the_connect_time_guard_alone_refuses_the_corpus(
    url: str, why: str, use_async: bool, connect_spy: ConnectSpy
) -> None:
    # Given a client whose URL pre-check is disabled
    policy = ConnectTimeOnly()
    # When it is asked for a refused URL
    with pytest.raises(EgressDenied) as caught:
        get(url, policy, use_async=use_async)
    # Then the network backend refuses the resolved address before connecting
    assert caught.value.reason
    assert connect_spy.attempts == []


@pytest.mark.corpus
@BOTH
@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f.1:{port}/",
        "http://0177.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://LOCALHOST.:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
    ],
)
def test_a_real_listener_on_loopback_never_sees_a_connection(
    template: str, use_async: bool, listener: Callable[[str], Listener]
) -> None:
    # Given a real TCP listener on 127.0.0.1 that is not allowlisted
    target = listener("127.0.0.1")
    # When a client is pointed at it in any spelling
    with pytest.raises((EgressDenied, httpx.InvalidURL)):
        get(template.format(port=target.port), EgressPolicy(), use_async=use_async)
    # Then the listener accepted zero connections
    assert target.accepted() == 0


def test_refusal_names_the_host_but_no_credentials() -> None:
    # Given a URL carrying credentials in its user info and query
    url = "http://admin:s3cret-pw@10.0.0.1/?token=tok-canary"
    # When it is checked
    with pytest.raises(EgressDenied) as caught:
        EgressPolicy().check_url(url)
    # Then the message names the host and the setting, and no secret
    message = str(caught.value)
    assert message == "10.0.0.1 is private (RFC 1918); allow it with WORKFUSE_EGRESS_ALLOW"
    assert "s3cret" not in message and "tok-canary" not in message
    assert caught.value.host == "10.0.0.1"


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/",
        "https://[2606:4700:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
        "http://[64:ff9b::808:808]/",
        "https://example.com/path",
    ],
)
def test_public_addresses_and_names_pass_the_url_check(url: str, connect_spy: ConnectSpy) -> None:
    # Given the default policy; When a public URL is checked; Then it passes, offline
    EgressPolicy().check_url(url)
    assert connect_spy.attempts == []


# ---------------------------------------------------------------- the allowlist


def test_cidrs_allow_the_addresses_inside_them_and_their_mapped_forms() -> None:
    # Given 10.1.0.0/16 and fd00::/8 allowlisted
    policy = EgressPolicy(allow=("10.1.0.0/16", "fd00::/8"))
    # When addresses inside and outside are checked
    policy.check_ip("10.1.2.3")
    policy.check_ip("::ffff:10.1.2.3")
    policy.check_url("http://[fd00::1]/")
    # Then only the ones outside are refused
    with pytest.raises(EgressDenied):
        policy.check_ip("10.2.0.1")
    with pytest.raises(EgressDenied):
        policy.check_url("http://169.254.169.254/")


def test_host_names_are_allowed_exactly_and_case_insensitively() -> None:
    # Given the host name "Metadata.Internal" allowlisted
    policy = EgressPolicy(allow=("Metadata.Internal",))
    # Then that exact name passes, whatever it resolves to, and nothing else does
    assert policy.connect_targets("metadata.internal", ["169.254.169.254"]) == ["169.254.169.254"]
    policy.check_url("http://METADATA.internal./")
    with pytest.raises(EgressDenied, match=r"x\.metadata\.internal resolves to 169\.254\.169\.254"):
        policy.connect_targets("x.metadata.internal", ["169.254.169.254"])


def test_every_resolved_address_must_pass() -> None:
    # Given a name that resolves to one public and one private address
    # When the connect targets are checked
    with pytest.raises(EgressDenied, match=r"mixed.test resolves to 10.0.0.1, which is private"):
        EgressPolicy().connect_targets("mixed.test", ["93.184.216.34", "10.0.0.1"])


def test_policy_reads_the_setting_and_rejects_malformed_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given WORKFUSE_EGRESS_ALLOW=127.0.0.1/32, localhost
    monkeypatch.setenv("WORKFUSE_EGRESS_ALLOW", "127.0.0.1/32, localhost")
    settings = Settings()
    # When the policy is built from the settings
    policy = EgressPolicy.from_settings(settings)
    # Then both entries are used, and a malformed entry is an error naming the setting
    assert policy.allow == ("127.0.0.1/32", "localhost")
    policy.check_url("http://localhost/")
    with pytest.raises(ValueError, match="WORKFUSE_EGRESS_ALLOW"):
        EgressPolicy(allow=("10.0.0.0/33",))


# ---------------------------------------------------------------- real requests


@BOTH
def test_allowlisted_local_server_answers_get_and_post(
    server: Server, use_async: bool, connect_spy: ConnectSpy
) -> None:
    # Given the local server's network allowlisted
    connect_spy.permitted.add("127.0.0.1")

    async def post_async() -> httpx.Response:
        async with net.async_client(policy=LOCAL, headers={"X-Run": "r1"}) as client:
            return await client.post(f"{server.url}/echo", json={"a": [1, 2]})

    def post_sync() -> httpx.Response:
        with net.sync_client(policy=LOCAL, headers={"X-Run": "r1"}) as client:
            return client.post(f"{server.url}/echo", json={"a": [1, 2]})

    # When it is called with GET and with a JSON POST
    fetched = get(f"{server.url}/json", LOCAL, use_async=use_async)
    posted = asyncio.run(post_async()) if use_async else post_sync()
    # Then both succeed, with the default headers sent, and only 127.0.0.1 was reached
    assert fetched.status_code == 200 and fetched.json()["hello"] == "world"
    assert posted.status_code == 201
    assert posted.json() == {"method": "POST", "received": {"a": [1, 2]}}
    assert server.seen[-1]["X-Run"] == "r1"
    assert {host for host, _ in connect_spy.attempts} == {"127.0.0.1"}


@pytest.mark.corpus
@BOTH
@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/",
        "http://2130706434:{port}/",
        "http://[::1]:{port6}/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "file:///etc/passwd",
    ],
)
def test_a_redirect_to_a_refused_address_is_refused_at_that_hop(
    server: Server,
    target: str,
    use_async: bool,
    listener: Callable[[str], Listener],
    connect_spy: ConnectSpy,
) -> None:
    # Given an allowlisted server on 127.0.0.1 that redirects, and listeners behind the
    # redirect on 127.0.0.2 and ::1 (which are not allowlisted)
    connect_spy.permitted.add("127.0.0.1")
    second, second6 = listener("127.0.0.2"), listener("::1")
    location = target.format(port=second.port, port6=second6.port)
    # When the client follows the redirect
    with pytest.raises(EgressDenied):
        get(f"{server.url}/redirect?to={location}", LOCAL, use_async=use_async)
    # Then the first hop reached only the allowed server and the second hop nothing at all
    assert connect_spy.attempts == [("127.0.0.1", server.port)]
    assert second.accepted() == 0 and second6.accepted() == 0


@BOTH
def test_localhost_is_refused_unless_allowlisted_by_name(
    server: Server, use_async: bool, connect_spy: ConnectSpy
) -> None:
    # Given a server on 127.0.0.1 reached as localhost
    url = f"http://localhost:{server.port}/json"
    # When nothing is allowlisted, Then it is refused before a connection
    with pytest.raises(EgressDenied, match="localhost"):
        get(url, EgressPolicy(), use_async=use_async)
    assert connect_spy.attempts == []
    # When "LOCALHOST" is allowlisted by name, Then the same request succeeds
    connect_spy.permitted.update({"127.0.0.1", "::1"})
    response = get(url, EgressPolicy(allow=("LOCALHOST",)), use_async=use_async)
    assert response.json()["host"] == f"localhost:{server.port}"


@BOTH
def test_the_guard_checks_the_resolved_address_and_connects_to_it(
    server: Server, use_async: bool, monkeypatch: pytest.MonkeyPatch, connect_spy: ConnectSpy
) -> None:
    # Given a resolver where app.test is first 127.0.0.1 and then rebinds to 10.0.0.1
    answers = {"app.test": ["127.0.0.1", "10.0.0.1"], "internal.test": ["10.0.0.1"]}
    lookups: list[str] = []

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        lookups.append(host)
        address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    connect_spy.permitted.add("127.0.0.1")
    # When app.test is fetched with 127.0.0.1/32 allowlisted
    response = get(f"http://app.test:{server.port}/json", LOCAL, use_async=use_async)
    # Then it was resolved once, the checked address was the one connected to,
    # and the Host header still carries the name
    assert response.json()["host"] == f"app.test:{server.port}"
    assert lookups == ["app.test"]
    assert connect_spy.attempts == [("127.0.0.1", server.port)]
    # When the name now resolves (rebinds) to a private address, Then it is refused
    for name in ("app.test", "internal.test"):
        with pytest.raises(EgressDenied, match=f"{name} resolves to 10.0.0.1"):
            get(f"http://{name}:{server.port}/json", LOCAL, use_async=use_async)
    assert connect_spy.attempts == [("127.0.0.1", server.port)]


@BOTH
def test_proxy_environment_variables_are_ignored(
    server: Server, use_async: bool, monkeypatch: pytest.MonkeyPatch, connect_spy: ConnectSpy
) -> None:
    # Given proxy variables pointing at a private address
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://10.0.0.1:3128")
    connect_spy.permitted.add("127.0.0.1")
    # When the allowlisted local server is fetched
    response = get(f"{server.url}/json", LOCAL, use_async=use_async)
    # Then it is reached directly
    assert response.status_code == 200
    assert connect_spy.attempts == [("127.0.0.1", server.port)]


def test_redirects_stop_at_max_redirects(server: Server) -> None:
    # Given one redirect and a chain of two redirects on the allowlisted server
    once = f"{server.url}/redirect?to=/json"
    twice = f"{server.url}/redirect?to=/redirect%3Fto%3D/json"
    # When both are followed with max_redirects=1
    with net.sync_client(policy=LOCAL, max_redirects=1) as client:
        # Then one redirect is followed and two are too many
        assert client.get(once).json()["hello"] == "world"
        with pytest.raises(httpx.TooManyRedirects):
            client.get(twice)


# ---------------------------------------------------------------- TLS


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_uses_the_host_name_for_sni_and_verification(tmp_path: Path) -> None:
    # Given an HTTPS server on 127.0.0.1 whose certificate names only "localhost"
    cert_path, key_path = _certificate(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert_path, key_path)
    names: list[str | None] = []

    def record_sni(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    tls.sni_callback = record_sni
    httpd, local = start_server(tls)
    trust = ssl.create_default_context(cafile=str(cert_path))

    async def fetch(url: str, policy: EgressPolicy) -> httpx.Response:
        transport = net.GuardedAsyncTransport(policy, verify=trust)
        async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
            return await client.get(url)

    try:
        # When it is fetched as https://localhost (allowlisted by name)
        response = asyncio.run(
            fetch(f"https://localhost:{local.port}/json", EgressPolicy(allow=("localhost",)))
        )
        # Then the connection went to the checked IP, yet SNI and verification used the name
        assert response.status_code == 200
        assert names == ["localhost"]
        # And the same certificate does not verify for the bare IP
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            asyncio.run(fetch(f"https://127.0.0.1:{local.port}/json", LOCAL))
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------- read_limited


def read(url: str, max_bytes: int, *, use_async: bool) -> bytes:
    """Stream ``url`` through read_limited (or its sync twin) with ``max_bytes``."""
    if use_async:

        async def fetch() -> bytes:
            async with (
                net.async_client(policy=LOCAL) as client,
                client.stream("GET", url) as response,
            ):
                return await net.read_limited(response, max_bytes)

        return asyncio.run(fetch())
    with net.sync_client(policy=LOCAL) as client, client.stream("GET", url) as response:
        return net.read_limited_sync(response, max_bytes)


@BOTH
@pytest.mark.parametrize("route", ["bytes", "chunked"], ids=["content-length", "chunked"])
def test_read_limited_returns_bodies_up_to_the_limit_and_refuses_bigger_ones(
    server: Server, route: str, use_async: bool
) -> None:
    # Given a body of 2500 bytes, sent with a Content-Length or chunked without one
    url = f"{server.url}/{route}?n=2500"
    # When it is read with a limit of exactly 2500 bytes, Then it comes back whole
    assert len(read(url, 2500, use_async=use_async)) == 2500
    # When the limit is one byte less, Then it is refused
    with pytest.raises(ResponseTooLarge, match="2499"):
        read(url, 2499, use_async=use_async)


def test_read_limited_refuses_on_content_length_before_reading(server: Server) -> None:
    # Given a response that declares 5000 bytes
    async def fetch() -> httpx.Response:
        async with net.async_client(policy=LOCAL) as client:
            response = await client.send(
                client.build_request("GET", f"{server.url}/bytes?n=5000"), stream=True
            )
            # When read with a 100-byte limit
            with pytest.raises(ResponseTooLarge, match="declares 5000 bytes"):
                await net.read_limited(response, 100)
            return response

    # Then it is refused from the header alone and the response is closed
    response = asyncio.run(fetch())
    assert response.is_closed
    assert net.DEFAULT_MAX_RESPONSE_BYTES == 10 * 1024 * 1024


# ---------------------------------------------------------------- the httpx2 bridge


def test_the_httpx2_bridge_is_guarded_like_the_rest(server: Server) -> None:
    """SDKs built on httpx2 (Anthropic, Google) get the same egress guard."""
    from workfuse.net.bridge import httpx2_async_client

    async def fetch(url: str, policy_allows_loopback: bool) -> int:
        settings_env = "127.0.0.1/32" if policy_allows_loopback else ""
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("WORKFUSE_EGRESS_ALLOW", settings_env)
            get_settings.cache_clear()
            client = httpx2_async_client(timeout=5)
        async with client:
            response = await client.get(url)
            await response.aread()
            return response.status_code

    try:
        with pytest.raises(EgressDenied):
            asyncio.run(fetch(f"{server.url}/json", policy_allows_loopback=False))
        with pytest.raises(EgressDenied):
            asyncio.run(fetch("http://169.254.169.254/latest/meta-data", True))
        assert asyncio.run(fetch(f"{server.url}/json", policy_allows_loopback=True)) == 200
    finally:
        get_settings.cache_clear()
