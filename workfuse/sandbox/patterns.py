"""Regular expressions (the ``regex`` engine), compiled and searched in a sandbox process.

Compiling a pattern can take time exponential in the nesting of counted repeats
(``(((a{100}){100}){100}){100}``), and a search can backtrack catastrophically, so
neither happens in the app or a worker: the condition node's ``matches`` rule and its
validation send them to a sandbox process (:mod:`workfuse.sandbox.pool`), where the
pool's kill bounds a compile and the engine's own timeout bounds a search.
"""

from __future__ import annotations

import functools

import regex  # type: ignore[import-untyped, unused-ignore]

from workfuse.sandbox import SandboxError
from workfuse.sandbox.limits import MAX_REGEX_SUBJECT_CHARS

CACHE_SIZE = 256  #: compiled patterns kept


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def check(pattern: str) -> SandboxError | None:
    """The reason ``pattern`` does not compile, or ``None``."""
    try:
        _compiled(pattern)
    except (regex.error, RecursionError, OverflowError, ValueError) as error:
        return SandboxError(f"invalid regular expression: {error}", kind="syntax")
    return None


def search(pattern: str, text: str, *, timeout_ms: int) -> bool:
    """Whether ``pattern`` occurs in the first :data:`MAX_REGEX_SUBJECT_CHARS` of ``text``."""
    error = check(pattern)
    if error is not None:
        raise error
    try:
        found = _compiled(pattern).search(text[:MAX_REGEX_SUBJECT_CHARS], timeout=timeout_ms / 1000)
    except TimeoutError:
        raise SandboxError(
            f"the regular expression took longer than {timeout_ms} ms (catastrophic backtracking?)",
            kind="timeout",
        ) from None
    return found is not None
