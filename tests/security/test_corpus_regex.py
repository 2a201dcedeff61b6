"""Corpus: regular expressions (a condition's ``matches`` rule) that try to exhaust time
or memory when compiled or searched, and the bound each must respect.

A search runs with the rule's time limit
(:data:`~workfuse.nodes.condition.REGEX_TIMEOUT_MS`) and must end within it plus
:data:`~tests.support.sandbox.GRACE_S`, in a sandbox process: compiling some patterns
takes exponential time and memory, which only a process kill bounds.
"""

from __future__ import annotations

import pytest

from tests.support.sandbox import assert_bounded
from workfuse.nodes.condition import REGEX_TIMEOUT_MS
from workfuse.sandbox.pool import SandboxPool

LIMITS = {"timeout", "memory"}
BOUNDED = {"ok", "timeout", "memory"}  # the engine may optimise it: only the bound counts

CASES: list[tuple[str, str, str, set[str]]] = [
    ("nested counted repeats", r"(((a{100}){100}){100}){100}", "aaaa", LIMITS),
    ("wide counted repeats", r"(a{1000}){1000}(b{1000}){1000}", "ab", BOUNDED),
    ("nested groups of alternation", r"((a|aa|aaa){50}){50}", "a" * 1000, BOUNDED),
    ("classic backtracking", r"(a+)+$", "a" * 40 + "!", BOUNDED),
    ("overlapping alternatives", r"(a|a)*b", "a" * 40, BOUNDED),
    ("nested stars", r"((a*)*)*b", "a" * 40, BOUNDED),
    ("backtracking over a megabyte", r"(x+x+)+y", "x" * 1_000_000, LIMITS),
    ("fuzzy matching", r"(?:abcdefghij){e<=8}z", "abcdefghij" * 20_000, BOUNDED),
    ("backreference blow-up", r"^(a+)\1*$", "a" * 50_000 + "b", BOUNDED),
    ("huge character class", "[" + "a-z" * 30_000 + "]+!", "q" * 100_000, BOUNDED),
]


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("pattern", "subject", "allowed"),
    [pytest.param(p, s, allowed, id=name) for name, p, s, allowed in CASES],
)
def test_hostile_patterns_stay_within_their_bounds(
    sandbox_pool: SandboxPool, pattern: str, subject: str, allowed: set[str]
) -> None:
    # Given a hostile pattern, When it is compiled and searched as a condition rule does,
    # Then a limit stops it in time, this process does not grow, and the next search works
    assert_bounded(
        sandbox_pool, "regex", pattern, allowed, timeout_ms=REGEX_TIMEOUT_MS, subject=subject
    )
