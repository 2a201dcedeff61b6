"""A real WorkFuse app (Reflex prod build) on one of two setups, and a real Chromium.

``WORKFUSE_TEST_UI_SETUP`` picks the setup of this pytest run (one per run: two apps
cannot build into the same ``.web`` at once):

- ``embedded`` (default): a SQLite file, the in-process broker and worker threads
  inside the app process.
- ``scaled``: a fresh PostgreSQL database (``WORKFUSE_TEST_POSTGRES_URL``, dropped at
  the end), Redis (``WORKFUSE_TEST_REDIS_URL``) under a broker namespace of this run,
  and one separate ``workfuse worker`` process that runs every execution.

On both, the app and the worker load the tests' sample node type ("Sign text",
``tests/support/sample_node.py``) through ``WORKFUSE_NODE_MODULES``, as an operator's
own node types would be loaded.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import redis
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import TEST_REDIS_URL
from tests.support.reflex_backend import free_port, log_tail
from workfuse.web_paths import SESSION_COOKIE

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("WORKFUSE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETUPS = ("embedded", "scaled")
#: Read at import: the root conftest clears ``WORKFUSE_*`` variables around each test.
SETUP = os.environ.get("WORKFUSE_TEST_UI_SETUP", "embedded")
ARTIFACTS = ROOT / "tests" / "artifacts" / ("scaled" if SETUP == "scaled" else "")
START_TIMEOUT = 600  #: seconds; the first build installs the frontend's packages
WORKER_START_TIMEOUT = 60  #: seconds for `workfuse worker` to report ready
WORKER_READY = "Worker process is ready for action."  #: Dramatiq's line, one per process
WORKER_THREADS = 4
STOP_TIMEOUT = 20  #: seconds a process gets after SIGTERM before SIGKILL
#: ms a browser assertion waits by default: a shared CI machine running the suite's other
#: processes can take seconds to answer a click (Playwright's own default is 5 s).
EXPECT_TIMEOUT_MS = 15_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)
OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct horse battery"
SAMPLE_NODE_MODULE = "tests.support.sample_node"  #: registers the "Sign text" node type


@dataclass(frozen=True)
class RunningApp:
    url: str
    setup: str
    data_dir: Path
    #: The app's database (SQLite file or PostgreSQL), for tests that arrange or check rows.
    database_url: str
    #: The app's process, for the tests that kill and restart it.
    process: AppProcess = field(compare=False, repr=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs the running app is marked ``browser``: the scaled setup's
    run (``-m browser``) selects tests by that marker, so one without it would be
    tested on the embedded setup only. Tests marked ``restarts_app`` go last."""
    unmarked = [
        item.nodeid
        for item in items
        if "running_app" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("browser") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "these tests use the running app but are not marked `browser`: " + ", ".join(unmarked)
        )
    # Tests that restart the session's app run last: the others expect the app as the
    # session started it (the first-run test, for one, expects no account yet).
    items.sort(key=lambda item: item.get_closest_marker("restarts_app") is not None)


@contextlib.contextmanager
def _process(
    command: list[str], *, env: dict[str, str], log_path: Path, leader_only: bool = False
) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` in a session of its own, output to ``log_path``. At the end SIGTERM
    goes to its process group (to its leader alone with ``leader_only``: Dramatiq's
    main process passes it on, and a second one makes its workers exit at once), then
    SIGKILL to whatever is left after :data:`STOP_TIMEOUT`. A process that had already
    exited fails the run with its log."""
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        exited = process.poll()
        with contextlib.suppress(ProcessLookupError):
            if leader_only:
                process.send_signal(signal.SIGTERM)
            else:
                os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if exited is not None:
        pytest.fail(f"{command[0]} exited early ({exited}):\n{log_tail(log_path)}", pytrace=False)


class AppProcess:
    """``reflex run --env prod`` on one port, in a process group of its own, output to
    ``reflex.log`` (``reflex-<n>.log`` for the n-th start) in ``logs``.

    :meth:`kill` ends the whole group at once (a crash, or with SIGTERM a stop that
    waits at most :data:`STOP_TIMEOUT`), :meth:`start` runs the same command again on
    the same port with the same settings and data: each start builds the frontend
    again (about 10 s once the packages are installed)."""

    def __init__(self, command: list[str], *, env: dict[str, str], url: str, logs: Path) -> None:
        self.command, self.env, self.url, self.logs = command, env, url, logs
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        """The log of the current (or last) start."""
        return self.logs / ("reflex.log" if self.starts <= 1 else f"reflex-{self.starts}.log")

    def start(self) -> None:
        """Start the app and wait until it serves its pages and its API."""
        assert self._process is None, "the app is running"
        self.starts += 1
        with self.log_path.open("w") as log:
            self._process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_until_up(self.url, self._process, self.log_path)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> int | None:
        """Send ``sig`` to the app's process group; SIGKILL to what is left after
        :data:`STOP_TIMEOUT`. Returns the exit status the app had before the signal
        (``None``: it was running)."""
        process, self._process = self._process, None
        if process is None:
            return None
        exited = process.poll()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return exited


@contextlib.contextmanager
def _redis_namespace() -> Iterator[dict[str, str]]:
    """Settings for a broker namespace of this run on the test Redis; its keys are
    deleted at the end (event channels carry execution ids, unique anyway)."""
    client = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is unreachable at {TEST_REDIS_URL}: {error}", pytrace=False)
    namespace = f"workfuse-ui-{secrets.token_hex(4)}"
    try:
        yield {"WORKFUSE_REDIS_URL": TEST_REDIS_URL, "WORKFUSE_BROKER_NAMESPACE": namespace}
    finally:
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
        client.close()


@pytest.fixture(scope="session")
def running_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningApp]:
    """``reflex run --env prod`` on a free port with a fresh data directory, on the
    setup ``WORKFUSE_TEST_UI_SETUP`` names; on ``scaled`` also one ``workfuse worker``,
    started once the app is up (its start-up has migrated the database: a worker on
    an unmigrated database starts anyway, and the runs it takes fail and wait for
    Dramatiq's retry backoff)."""
    if SETUP not in SETUPS:
        pytest.fail(f"WORKFUSE_TEST_UI_SETUP={SETUP!r}: use one of {SETUPS}", pytrace=False)
    if shutil.which("bun") is None and "REFLEX_BUN_PATH" not in os.environ:
        pytest.fail("bun is not on PATH: run the tests through `make test`", pytrace=False)
    data_dir = tmp_path_factory.mktemp("app") / "data"
    logs = tmp_path_factory.mktemp("logs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFUSE_")} | {
        "WORKFUSE_DATA_DIR": str(data_dir),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "WORKFUSE_BASE_URL": url,
        # HTTP nodes in browser tests call servers the tests start on loopback.
        "WORKFUSE_EGRESS_ALLOW": "127.0.0.1",
        # The sample node type of the tests, loaded as an operator's own would be; the
        # app and the worker import it from the repository (their cwd is not on the
        # path of a console script).
        "WORKFUSE_NODE_MODULES": SAMPLE_NODE_MODULE,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    bin_dir = Path(sys.executable).parent
    with contextlib.ExitStack() as stack:
        if SETUP == "scaled":
            database_url = request.getfixturevalue("postgres_url")
            env |= stack.enter_context(_redis_namespace()) | {
                "WORKFUSE_DATABASE_URL": database_url,
                # App and worker decrypt the same credentials, as separate machines would.
                "WORKFUSE_ENCRYPTION_KEY": base64.urlsafe_b64encode(
                    secrets.token_bytes(32)
                ).decode(),
            }
        else:
            database_url = f"sqlite:///{(data_dir / 'workfuse.db').resolve()}"
        serve = [str(bin_dir / "reflex"), "run", "--env", "prod", "--frontend-port", str(port)]
        app = AppProcess(serve, env=env, url=url, logs=logs)
        stack.enter_context(_stopped_at_the_end(app))
        app.start()
        if SETUP == "scaled":
            worker_log = logs / "worker.log"
            work = [str(bin_dir / "workfuse"), "worker", "--processes", "1"]
            work += ["--threads", str(WORKER_THREADS)]
            worker = stack.enter_context(
                _process(work, env=env, log_path=worker_log, leader_only=True)
            )
            _wait_for_worker(worker, worker_log)
        yield RunningApp(
            url=url, setup=SETUP, data_dir=data_dir, database_url=database_url, process=app
        )


@contextlib.contextmanager
def _stopped_at_the_end(app: AppProcess) -> Iterator[None]:
    """SIGTERM to the app's group at the end (SIGKILL after :data:`STOP_TIMEOUT`); an app
    that had already exited fails the run with its log."""
    try:
        yield
    finally:
        exited = app.kill(signal.SIGTERM)
    if exited is not None:
        pytest.fail(f"the app exited early ({exited}):\n{log_tail(app.log_path)}", pytrace=False)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited ({process.returncode}):\n{log_tail(log_path)}")
        try:
            if (
                httpx.get(f"{url}/api/health", timeout=2).status_code == 200
                and httpx.get(url, timeout=2).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the app did not start in {START_TIMEOUT} s:\n{log_tail(log_path)}")


def _wait_for_worker(process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + WORKER_START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the worker exited ({process.returncode}):\n{log_tail(log_path)}")
        if WORKER_READY in log_path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    pytest.fail(f"the worker was not ready in {WORKER_START_TIMEOUT} s:\n{log_tail(log_path)}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under tests/artifacts/ (its ``scaled/`` folder on that
    setup) for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def owner(running_app: RunningApp) -> None:
    """The install's owner account exists (the first browser test creates it; when run
    on its own, this test claims it through the API)."""
    httpx.post(
        f"{running_app.url}/api/auth/sign-up",
        json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD},
    )


@pytest.fixture
def signed_in_page(running_app: RunningApp, browser: Browser, owner: None) -> Iterator[Page]:
    """A browser tab with the owner's session cookie (signed in through the API)."""
    response = httpx.post(
        f"{running_app.url}/api/auth/sign-in",
        json={"email": OWNER_EMAIL, "password": OWNER_PASSWORD},
    )
    assert response.status_code == 200, response.text
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": response.cookies[SESSION_COOKIE],
                "url": running_app.url,
            }
        ]
    )
    yield context.new_page()
    context.close()
