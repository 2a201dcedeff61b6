"""A new frontend build also serves the files of the last builds (for tabs opened
before a restart), and forgets older ones."""

from __future__ import annotations

from pathlib import Path

from workfuse.ui.earlier_assets import keep_earlier_assets


def build(root: Path, name: str, files: dict[str, str]) -> Path:
    """A fresh build's ``assets`` folder (the real build deletes the last one first)."""
    assets = root / name / "assets"
    assets.mkdir(parents=True)
    for file_name, text in files.items():
        (assets / file_name).write_text(text)
    return assets


def test_each_build_serves_the_files_of_the_two_builds_before_it(tmp_path: Path) -> None:
    history = tmp_path / "earlier_assets"
    # Given: three builds, each with its own page file, a shared file and a sidecar
    shared = {"shared-AAAAAAAA.js": "shared"}
    first = build(tmp_path, "1", {**shared, "page-11111111.js": "v1"})
    assert keep_earlier_assets(first, history, keep=2) == 0
    second = build(tmp_path, "2", {**shared, "page-22222222.js": "v2"})
    assert keep_earlier_assets(second, history, keep=2) == 1
    third = build(tmp_path, "3", {**shared, "page-33333333.js": "v3", "page-33333333.js.gz": "z"})

    # When: the fourth build finishes
    assert keep_earlier_assets(third, history, keep=2) == 2
    fourth = build(tmp_path, "4", {**shared, "page-44444444.js": "v4"})
    added = keep_earlier_assets(fourth, history, keep=2)

    # Then: it also serves the pages of the two builds before it (same contents), not
    # the first one's, and not a compressed copy (the build makes those again)
    assert added == 2
    assert sorted(path.name for path in fourth.iterdir()) == [
        "page-22222222.js",
        "page-33333333.js",
        "page-44444444.js",
        "shared-AAAAAAAA.js",
    ]
    assert (fourth / "page-22222222.js").read_text() == "v2"
    # And: only the files of the last two builds are kept
    assert len(list(history.iterdir())) == 2


def test_no_assets_folder_changes_nothing(tmp_path: Path) -> None:
    assert keep_earlier_assets(tmp_path / "missing", tmp_path / "history") == 0
    assert not (tmp_path / "history").exists()
