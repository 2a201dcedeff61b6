"""The real WorkFuse backend (Reflex's server with the mounted API and the event
socket) in a process of its own, without a frontend build.

``reflex run --env prod --backend-only`` serves everything a browser talks to except
the compiled pages: ``/api``, ``/hooks``, Reflex's ``/_event`` socket and its CORS
layers. It starts in seconds and never writes the shared ``.web`` build, so tests of
those surfaces need neither bun nor Chromium.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120  #: seconds until ``/api/health`` answers
STOP_TIMEOUT = 20  #: seconds after SIGTERM before SIGKILL
LOG_TAIL = 4000  #: characters of the log shown when the backend fails


@dataclass(frozen=True)
class Backend:
    url: str  #: ``http://127.0.0.1:<port>``
    port: int
    log_path: Path


def free_port() -> int:
    """A port of 127.0.0.1 free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(log_path: Path) -> str:
    """The end of a process's log, to show when it fails."""
    return log_path.read_text(errors="replace")[-LOG_TAIL:]


@contextlib.contextmanager
def running_backend(
    workdir: Path, settings: dict[str, str], *, port: int | None = None
) -> Iterator[Backend]:
    """The backend on ``port`` (a free one by default) of 127.0.0.1, with its data
    (SQLite, key file) in ``workdir`` and only ``settings`` as ``WORKFUSE_*``
    variables (plus ``REFLEX_*`` ones, if given); stopped at the end (SIGTERM to its
    process group, SIGKILL after :data:`STOP_TIMEOUT`)."""
    port = port or free_port()
    log_path = workdir / "backend.log"
    env = {key: value for key, value in os.environ.items() if not key.startswith("WORKFUSE_")}
    env |= {"WORKFUSE_DATA_DIR": str(workdir / "data"), "REFLEX_TELEMETRY_ENABLED": "false"}
    env |= settings
    reflex = str(Path(sys.executable).parent / "reflex")
    command = [reflex, "run", "--env", "prod", "--backend-only"]
    command += ["--backend-host", "127.0.0.1", "--backend-port", str(port)]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_up(url, process, log_path)
        yield Backend(url=url, port=port, log_path=log_path)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the backend exited ({process.returncode}):\n{log_tail(log_path)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    pytest.fail(f"the backend did not start in {START_TIMEOUT} s:\n{log_tail(log_path)}")
