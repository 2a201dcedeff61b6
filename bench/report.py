"""Headline figures of the benchmarks, gathered into one report by ``bench/run_all.py``.

Each benchmark script calls :func:`record` for the headline figures of its summary.
When ``WORKFUSE_BENCH_REPORT`` names a file, every call appends the figure to it as one
JSON line; otherwise :func:`record` does nothing, so a script run on its own prints
what it always printed.
"""

from __future__ import annotations

import json
import operator
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

REPORT_VARIABLE = "WORKFUSE_BENCH_REPORT"

Comparison = Literal["<", "<=", ">=", ">"]
_HOLDS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, ">": operator.gt}


@dataclass(frozen=True)
class Figure:
    """One figure: ``value`` in ``unit``, held to ``comparison`` ``aim`` when it has one."""

    name: str  #: ``<benchmark>.<figure>``, e.g. ``webhooks.embedded.accepted``
    value: float
    unit: str
    comparison: Comparison | None = None
    aim: float | None = None

    @property
    def verdict(self) -> str:
        """``OK``; ``UNDER`` a floor or ``OVER`` a ceiling; empty without an aim."""
        if self.comparison is None or self.aim is None:
            return ""
        if _HOLDS[self.comparison](self.value, self.aim):
            return "OK"
        return "UNDER" if self.comparison.startswith(">") else "OVER"

    def line(self, width: int) -> str:
        """The figure as one line of the report, its name padded to ``width``."""
        aim = "" if self.aim is None else f"aim {self.comparison} {number(self.aim)}"
        value = number(self.value)
        line = f"{self.name:<{width}}  {value:>9} {self.unit:<11} {aim:<14} {self.verdict}"
        return line.rstrip()


def number(value: float) -> str:
    """``value`` with three significant digits, or as a whole number from 100 up."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def record(name: str, value: float, unit: str, aim: tuple[Comparison, float] | None = None) -> None:
    """Append one figure to the report file, if one is set (see the module's docstring)."""
    path = os.environ.get(REPORT_VARIABLE)
    if not path:
        return
    comparison, target = aim if aim is not None else (None, None)
    figure = Figure(name, float(value), unit, comparison, target)
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(figure)) + "\n")


def read(path: Path) -> list[Figure]:
    """The figures recorded in ``path``, in the order they were recorded."""
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line]
