"""Run every benchmark in turn and print one report: one line per headline figure.

Run from the repository root: ``.venv/bin/python bench/run_all.py`` (what ``make bench``
runs; about 10 minutes on 2 cores). Each script runs with its default arguments;
``--quick`` adds the shorter options some of them have (fewer timed runs, the editor
without the browser, the webhooks on the embedded setup only, the executions on SQLite
only). A script's own output goes to ``<name>.log`` in ``--logs`` (a new temporary
directory by default), the figures it records (:mod:`bench.report`) to
``figures.jsonl`` there. The report's header names the machine, the revision and the
load average at the start and the end. Exit status 1 if a script failed (the
templating, transform and neighbours scripts also fail when they miss their aim) or
recorded no figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import REPORT_VARIABLE, read  # noqa: E402  (after the path is set)

LOG_TAIL = 15  #: lines of a failed script's output shown in the report


@dataclass(frozen=True)
class Benchmark:
    """A script and its arguments after the interpreter; ``quick`` is added for ``--quick``."""

    name: str
    command: tuple[str, ...]
    quick: tuple[str, ...] = ()


BENCHMARKS = (
    Benchmark("validate", ("bench/bench_validate.py",), ("--runs", "5")),
    Benchmark("templating", ("bench/bench_templating.py",), ("--runs", "5")),
    Benchmark("transform", ("bench/bench_transform.py",), ("--runs", "5")),
    Benchmark("neighbours", ("bench/bench_neighbours.py",), ("--runs", "3")),
    Benchmark("http", ("bench/bench_http.py",), ("--runs", "3")),
    Benchmark("engine", ("bench/bench_engine.py",), ("--runs", "3")),
    Benchmark("webhooks", ("bench/bench_webhooks.py",), ("--scenario", "embedded", "--runs", "1")),
    Benchmark("magic_input_eval", ("-m", "bench.magic_input_eval")),
    Benchmark("editor", ("bench/bench_editor.py",), ("--skip-browser",)),
    Benchmark("executions", ("bench/bench_executions.py",), ("--runs", "5", "--no-postgres")),
    # One minute of the soak (``make soak`` runs five).
    Benchmark("soak", ("bench/bench_soak.py", "--duration", "60"), ("--duration", "15")),
)


def machine() -> str:
    """Cores, CPU model, memory, kernel and Python of this machine."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    memory = int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20
    return (
        f"{os.cpu_count()} cores ({model}), {memory:.1f} GiB RAM,"
        f" {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def revision() -> str:
    """The checked-out commit, and whether tracked files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"git {commit}" + (" with uncommitted changes" if changed else "")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def main(argv: list[str] | None = None) -> int:
    names = [benchmark.name for benchmark in BENCHMARKS]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the scripts' shorter options")
    parser.add_argument(
        "--only", action="append", choices=names, help="run this benchmark only (repeatable)"
    )
    parser.add_argument("--logs", type=Path, help="directory for the scripts' output")
    args = parser.parse_args(argv)
    logs = args.logs or Path(tempfile.mkdtemp(prefix="workfuse-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    figures = logs / "figures.jsonl"
    figures.unlink(missing_ok=True)
    env = {**os.environ, REPORT_VARIABLE: str(figures)}

    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick" if args.quick else "default arguments"
    print(f"WorkFuse benchmarks, {started}, {revision()}, {mode}")
    print(f"machine: {machine()}")
    print(f"load average at the start: {load_average()}", flush=True)
    failed = []
    for benchmark in BENCHMARKS:
        if args.only and benchmark.name not in args.only:
            continue
        command = [sys.executable, *benchmark.command, *(benchmark.quick if args.quick else ())]
        before = len(read(figures))
        log = logs / f"{benchmark.name}.log"
        began = time.monotonic()
        with log.open("wb") as out:
            status = subprocess.run(
                command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, check=False,
            ).returncode  # fmt: skip
        count = len(read(figures)) - before
        print(
            f"  {benchmark.name:<17} exit {status}  {time.monotonic() - began:4.0f} s"
            f"  {count} figures",
            flush=True,
        )
        if status or not count:
            failed.append(benchmark.name)
            for line in log.read_text(errors="replace").splitlines()[-LOG_TAIL:]:
                print(f"    | {line}")
    print(f"load average at the end: {load_average()}")
    print(f"each script's output: {logs}/")
    print()
    report = read(figures)
    width = max((len(figure.name) for figure in report), default=6)
    print(f"{'figure':<{width}}  {'value':>9} {'unit':<11} {'aim':<14} verdict")
    for figure in report:
        print(figure.line(width))
    if failed:
        print(f"\nfailed or recorded nothing: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
