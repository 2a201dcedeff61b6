"""Keep serving the frontend files of the last builds after the app restarts.

``reflex run --env prod`` (what ``workfuse serve`` runs) builds the frontend at every
start, and two builds of the same code differ: Reflex bundles its ``.web/reflex.json``,
whose last-run time changes on every run, so every file name (a content hash) changes.
A tab opened before a restart keeps its build's file names; when it next opens a page
it has not loaded yet, it asked for a file that was gone (404), and React Router
reloaded the current page instead of opening the link. :class:`KeepEarlierAssets`
adds the files of the previous builds to each new build, so such a tab goes on.

Limits: the files of the last :data:`KEEP_BUILDS` builds only (a tab still on an older
one falls back to that reload); each kept build adds its file count (about 2,000) to
the compression step of the next builds, about 2 s each. The files are hard links
(copies where links fail) under ``.web/earlier_assets``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Unpack

import reflex as rx
from reflex.utils.prerequisites import get_web_dir
from reflex_base.plugins.base import PostBuildContext

KEEP_BUILDS = 2  #: earlier builds whose files a new build serves too
HISTORY_DIR = "earlier_assets"  #: under ``.web``: one folder per build, numbered in order
#: Compressed copies: the build compresses every file again after the plugins ran.
_SIDECARS = (".gz", ".br", ".zst")


class KeepEarlierAssets(rx.plugins.Plugin):
    """After each production build, serve the files of the last builds as well."""

    def post_build(self, **context: Unpack[PostBuildContext]) -> None:
        keep_earlier_assets(context["static_dir"] / "assets", get_web_dir() / HISTORY_DIR)


def keep_earlier_assets(assets: Path, history: Path, keep: int = KEEP_BUILDS) -> int:
    """Add to ``assets`` (a fresh build's folder of hashed files) every file of the last
    ``keep`` builds recorded in ``history`` that it lacks, then record this build's own
    files there and forget older builds. Returns how many files were added.

    File names are content hashes, so a name the new build has is the same file."""
    if not assets.is_dir():
        return 0
    history.mkdir(parents=True, exist_ok=True)
    own = [
        path for path in assets.iterdir() if path.is_file() and not path.name.endswith(_SIDECARS)
    ]
    earlier = sorted(path for path in history.iterdir() if path.is_dir())
    added = 0
    for build in earlier[max(len(earlier) - keep, 0) :]:
        for path in build.iterdir():
            target = assets / path.name
            if not target.exists():
                _link(path, target)
                added += 1
    this_build = history / f"{int(earlier[-1].name) + 1 if earlier else 1:012d}"
    this_build.mkdir()
    for path in own:
        _link(path, this_build / path.name)
    recorded = sorted(path for path in history.iterdir() if path.is_dir())
    for build in recorded[: max(len(recorded) - keep, 0)]:
        shutil.rmtree(build, ignore_errors=True)
    return added


def _link(source: Path, target: Path) -> None:
    """A hard link (nothing is copied), or a copy across file systems."""
    try:
        os.link(source, target)
    except OSError:
        with contextlib.suppress(FileExistsError):
            shutil.copy2(source, target)
