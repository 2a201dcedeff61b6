"""The pure parts of the list pages: timeline layout, durations, import problem lines and
export file names (no browser)."""

from __future__ import annotations

from workfuse.graph import IssueCode, ValidationIssue
from workfuse.ui.executions_state import NodeRow, format_duration, lay_out_timeline
from workfuse.ui.workflows_state import describe_issue, export_filename


def row(node_id: str, status: str, offset_ms: int = -1, duration_ms: int = -1) -> NodeRow:
    return NodeRow(node_id, node_id, "transform", status, 1, "", "", "", "", offset_ms, duration_ms)


def test_bars_are_offset_by_start_and_as_wide_as_their_duration() -> None:
    # Given: an execution of 1 s with a quick node, a slow one, a skip and one still running
    quick = row("quick", "SUCCEEDED", offset_ms=0, duration_ms=100)
    slow = row("slow", "SUCCEEDED", offset_ms=200, duration_ms=600)
    skipped = row("skipped", "SKIPPED")
    running = row("running", "RUNNING", offset_ms=900)
    waiting = row("waiting", "PENDING")

    # When
    lay_out_timeline([quick, slow, skipped, running, waiting], total_ms=1000)

    # Then
    assert (quick.bar_left, quick.bar_width) == ("0.00%", "10.00%")
    assert (slow.bar_left, slow.bar_width) == ("20.00%", "60.00%")
    assert (running.bar_left, running.bar_width) == ("90.00%", "10.00%")
    assert (skipped.bar_width, skipped.bar_note) == ("0%", "skipped")
    assert waiting.bar_note == "waiting"


def test_the_span_stretches_to_the_last_end_and_tiny_nodes_stay_visible() -> None:
    # Given: no total yet (a live run), a node of 0 ms and one that ends at 2 s
    instant = row("instant", "SUCCEEDED", offset_ms=0, duration_ms=0)
    late = row("late", "SUCCEEDED", offset_ms=1000, duration_ms=1000)
    reused = row("reused", "SUCCEEDED", duration_ms=5)
    reused.reused = True

    lay_out_timeline([instant, late, reused], total_ms=0)

    assert instant.bar_width == "0.50%"
    assert (late.bar_left, late.bar_width) == ("50.00%", "50.00%")
    assert (reused.bar_width, reused.bar_note) == ("0%", "reused from the retried run")


def test_durations_read_like_a_person_would_say_them() -> None:
    assert format_duration(None) == ""
    assert format_duration(842) == "842 ms"
    assert format_duration(3_400) == "3.4 s"
    assert format_duration(125_000) == "2 min 5 s"


def test_import_problems_name_the_place_once() -> None:
    named = ValidationIssue(
        code=IssueCode.UNKNOWN_NODE_TYPE,
        message="node 'x' has the unknown type 'teleport'",
        node_id="x",
        field="type",
    )
    unnamed = ValidationIssue(
        code=IssueCode.UNKNOWN_NODE_TYPE, message="is not valid", node_id="y", field="data.config"
    )
    assert describe_issue(named) == "node 'x' has the unknown type 'teleport'"
    assert describe_issue(unnamed) == "node “y”, data.config: is not valid"


def test_export_file_names_are_safe() -> None:
    assert export_filename("Nightly sales report!") == "nightly-sales-report.workfuse.json"
    assert export_filename("../../etc/passwd") == "etc-passwd.workfuse.json"
    assert export_filename("日本") == "workflow.workfuse.json"
