"""Benchmark template rendering.

Times, in renders per second (median of several runs):

* ``{{ nodes.a.body.x }}`` compiled once and rendered through ``CompiledTemplate.render``
  (the target: at least 50,000/s), and the same through ``render()``, which adds the
  cache lookup;
* a mixed-text template (text around four expressions, a filter and a helper);
* ``render_value`` over a small HTTP-node-like config with three templated strings;
* ``compile_template`` on a cache miss (a new source each time), for the editor's
  validation path.

Run: ``.venv/bin/python bench/bench_templating.py`` (``--runs N`` to change the run count).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import record
from workfuse.templating import compile_template, render, render_value

TARGET_PER_SECOND = 50_000
CALLS_PER_RUN = 20_000

CONTEXT: dict[str, Any] = {
    "nodes": {
        "a": {"body": {"x": 42}},
        "fetch": {
            "status": 200,
            "body": {
                "items": [{"name": "pen", "price": 3}, {"name": "ink", "price": 12}],
                "user": {"email": "ann@example.com", "name": "Ann"},
            },
        },
    },
    "trigger": {"source": "webhook", "data": {"id": "ord-1001", "when": "2024-03-05T14:07:09Z"}},
    "env": {"REGION": "eu-west-1"},
}
SIMPLE = "{{ nodes.a.body.x }}"
MIXED = (
    "Order {{ trigger.data.id }} for {{ nodes.fetch.body.user.name | uppercase }}"
    " <{{ nodes.fetch.body.user.email }}>: {{ nodes.fetch.body.items | length }} items,"
    " placed {{ formatDate(trigger.data.when, 'DD/MM/YYYY') }}"
)
CONFIG: dict[str, Any] = {
    "method": "POST",
    "url": "https://api.example.com/orders/{{ trigger.data.id }}",
    "headers": {"X-Region": "{{ env.REGION }}", "Accept": "application/json"},
    "body": {"items": "{{ nodes.fetch.body.items }}", "note": "static"},
    "timeout": 5000,
}


def per_second(call: Callable[[], object], calls: int, runs: int) -> list[float]:
    """Calls per second of ``call`` for each of ``runs`` timed runs (after a warm-up)."""
    for _ in range(min(calls, 1_000)):
        call()
    rates = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        for _ in range(calls):
            call()
        rates.append(calls / (time.perf_counter() - started))
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per figure")
    args = parser.parse_args()

    compiled = compile_template(SIMPLE)
    assert compiled.render(CONTEXT) == 42
    assert render(MIXED, CONTEXT).startswith("Order ord-1001 for ANN")
    counter = iter(range(10**9))

    calls = CALLS_PER_RUN
    figures: list[tuple[str, Callable[[], object], int]] = [
        ("cached {{ nodes.a.body.x }} (CompiledTemplate.render)",
         partial(compiled.render, CONTEXT), calls),
        ("{{ nodes.a.body.x }} through render()", partial(render, SIMPLE, CONTEXT), calls),
        ("mixed text, 5 expressions (render())", partial(render, MIXED, CONTEXT), calls),
        ("render_value of an http config (3 templates)",
         partial(render_value, CONFIG, CONTEXT), calls // 4),
        ("compile_template, cache miss",
         lambda: compile_template(f"{MIXED} {next(counter)}"), 500),
    ]  # fmt: skip
    print(f"{'figure':<58} {'median/s':>10} {'min/s':>10} {'max/s':>10} {'µs/call':>8}")
    results = {}
    for name, call, calls in figures:
        rates = per_second(call, calls, args.runs)
        median = statistics.median(rates)
        results[name] = median
        print(
            f"{name:<58} {median:>10,.0f} {min(rates):>10,.0f} {max(rates):>10,.0f}"
            f" {1e6 / median:>8.2f}"
        )
    target = results[figures[0][0]]
    print(
        "OK" if target >= TARGET_PER_SECOND else "UNDER TARGET", f"(target {TARGET_PER_SECOND:,}/s)"
    )
    for name, median in results.items():
        headline = name == figures[0][0]
        record(
            f"templating.{name}", median, "calls/s", (">=", TARGET_PER_SECOND) if headline else None
        )
    return 0 if target >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
