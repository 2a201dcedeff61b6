"""The benchmarks' figure recording (``bench/report.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.report import REPORT_VARIABLE, Figure, read, record


def test_record_does_nothing_without_a_report_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no report file named
    monkeypatch.delenv(REPORT_VARIABLE, raising=False)
    monkeypatch.chdir(tmp_path)
    # When a figure is recorded
    record("validate.parse", 12.5, "ms")
    # Then nothing is written
    assert list(tmp_path.iterdir()) == []


def test_recorded_figures_are_read_back_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a report file named in the environment
    path = tmp_path / "figures.jsonl"
    monkeypatch.setenv(REPORT_VARIABLE, str(path))
    # When two figures are recorded, one with an aim
    record("webhooks.embedded.accepted", 340, "req/s", (">=", 1000))
    record("validate.parse", 12.5, "ms")
    # Then both come back as recorded
    assert read(path) == [
        Figure("webhooks.embedded.accepted", 340.0, "req/s", ">=", 1000),
        Figure("validate.parse", 12.5, "ms"),
    ]


@pytest.mark.parametrize(
    ("figure", "verdict"),
    [
        (Figure("a", 340, "req/s", ">=", 1000), "UNDER"),
        (Figure("a", 1000, "req/s", ">=", 1000), "OK"),
        (Figure("a", 100, "ms", "<", 100), "OVER"),
        (Figure("a", 99.9, "ms", "<", 100), "OK"),
        (Figure("a", 0.3, "ms", "<=", 0.3), "OK"),
        (Figure("a", 5, "ms"), ""),
    ],
)
def test_the_verdict_follows_the_aim(figure: Figure, verdict: str) -> None:
    assert figure.verdict == verdict


def test_a_figure_is_one_line_with_its_aim_and_verdict() -> None:
    figure = Figure("webhooks.embedded.accepted", 340.4, "req/s", ">=", 1000)
    line = figure.line(30)
    assert line.split() == [
        "webhooks.embedded.accepted",
        "340",
        "req/s",
        "aim",
        ">=",
        "1,000",
        "UNDER",
    ]
    assert "\n" not in line
    assert Figure("validate.parse", 0.1234, "ms").line(20).split() == [
        "validate.parse",
        "0.123",
        "ms",
    ]
