"""A real WorkFuse app (Reflex prod build, embedded default) and a real Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from workfuse.api.deps import SESSION_COOKIE

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
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
START_TIMEOUT = 600  #: seconds; the first build installs the frontend's packages
OWNER_EMAIL = "owner@example.com"
OWNER_PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class RunningApp:
    url: str
    data_dir: Path
    database_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """``reflex run --env prod`` on a free port with a fresh data directory."""
    if shutil.which("bun") is None and "REFLEX_BUN_PATH" not in os.environ:
        pytest.fail("bun is not on PATH: run the tests through `make test`", pytrace=False)
    data_dir = tmp_path_factory.mktemp("app") / "data"
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFUSE_")} | {
        "WORKFUSE_DATA_DIR": str(data_dir),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "WORKFUSE_BASE_URL": f"http://127.0.0.1:{port}",
        # HTTP nodes in browser tests call servers the tests start on loopback.
        "WORKFUSE_EGRESS_ALLOW": "127.0.0.1",
    }
    log_path = tmp_path_factory.mktemp("logs") / "reflex.log"
    reflex = str(Path(sys.executable).parent / "reflex")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [reflex, "run", "--env", "prod", "--frontend-port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, process, log_path)
        yield RunningApp(
            url=url,
            data_dir=data_dir,
            database_url=f"sqlite:///{(data_dir / 'workfuse.db').resolve()}",
        )
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the app exited ({process.returncode}):\n{log_path.read_text()[-4000:]}")
        try:
            if (
                httpx.get(f"{url}/api/health", timeout=2).status_code == 200
                and httpx.get(url, timeout=2).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the app did not start in {START_TIMEOUT} s:\n{log_path.read_text()[-4000:]}")


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
    """Save a full-page PNG under tests/artifacts/ for a person to look at."""
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
