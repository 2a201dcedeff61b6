"""Redaction of known secret values from text, JSON-like data and log records."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest

from workfuse.secrets.redaction import (
    MAX_DEPTH,
    REDACTED,
    RedactingFilter,
    Redactor,
    StreamRedactor,
    install_log_redaction,
)

SECRET = "sk-live-4f9a2c"
OTHER = "ghp_0123456789"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, _Collect]]:
    """An isolated logger with one collecting handler."""
    target = logging.getLogger("tests.redaction")
    handler = _Collect()
    target.addHandler(handler)
    target.setLevel(logging.DEBUG)
    target.propagate = False
    yield target, handler
    target.removeHandler(handler)
    target.propagate = True


# --- text and data --------------------------------------------------------------------


def test_registered_values_are_replaced_anywhere_in_text() -> None:
    # Given: a redactor that knows two values
    redactor = Redactor([SECRET, OTHER])

    # When: text containing them (twice, and glued to other text) is redacted
    text = f"Authorization: Bearer {SECRET}; again={SECRET}{OTHER}!"

    # Then: every occurrence is replaced
    expected = f"Authorization: Bearer {REDACTED}; again={REDACTED}{REDACTED}!"
    assert redactor.redact_text(text) == expected


def test_a_value_containing_another_is_replaced_whole() -> None:
    # Given: two values where one contains the other
    redactor = Redactor(["abcd", "xxabcdxx"])

    # When / Then: the longer one is replaced as a whole, not partly
    assert redactor.redact_text("xxabcdxx and abcd") == f"{REDACTED} and {REDACTED}"


def test_regex_characters_in_values_are_literal() -> None:
    # Given: a value full of regular-expression syntax
    value = "a.b*c+(d)|[e]$^"
    redactor = Redactor([value])

    # When / Then: only the literal value is replaced
    assert redactor.redact_text(f"x{value}y aXbbc") == f"x{REDACTED}y aXbbc"


def test_short_values_are_ignored() -> None:
    # Given: a redactor
    redactor = Redactor()

    # When: a 3-character and a 4-character value are registered
    short, enough = redactor.register("abc"), redactor.register("abcd")

    # Then: only the longer one is redacted (the short one would mangle ordinary text)
    assert (short, enough) == (False, True)
    assert redactor.redact_text("abc abcd") == f"abc {REDACTED}"
    assert len(redactor) == 1


def test_keys_and_values_of_nested_data_are_redacted_without_changing_the_input() -> None:
    # Given: JSON-like data with the secret in keys, values, lists and tuples
    redactor = Redactor([SECRET])
    data = {
        "headers": {"Authorization": f"Bearer {SECRET}"},
        SECRET: [1, 2.5, None, True, f"x{SECRET}", (SECRET, b"raw")],
        "plain": "nothing here",
    }

    # When: it is redacted
    redacted = redactor.redact(data)

    # Then: every string is clean, other types are kept, and the input is untouched
    assert redacted == {
        "headers": {"Authorization": f"Bearer {REDACTED}"},
        REDACTED: [1, 2.5, None, True, f"x{REDACTED}", (REDACTED, b"raw")],
        "plain": "nothing here",
    }
    assert data["headers"] == {"Authorization": f"Bearer {SECRET}"}


def test_data_nested_too_deep_is_redacted_whole() -> None:
    # Given: a list nested deeper than the limit
    deep: list[object] = [SECRET]
    for _ in range(MAX_DEPTH + 10):
        deep = [deep]

    # When: it is redacted
    redacted = Redactor([SECRET]).redact(deep)

    # Then: no RecursionError; the part beyond the limit is replaced as a whole
    for _ in range(MAX_DEPTH):
        redacted = redacted[0]
    assert redacted == REDACTED


def test_nothing_registered_changes_nothing() -> None:
    # Given / When / Then: an empty redactor returns equal data
    assert Redactor().redact({"a": ["b"]}) == {"a": ["b"]}
    assert Redactor().redact_text("text") == "text"


def test_forget_stops_redacting_a_value() -> None:
    # Given: a redactor that knows two values
    redactor = Redactor([SECRET, OTHER])

    # When: one is forgotten
    redactor.forget(SECRET)

    # Then: only the other is still redacted
    assert redactor.redact_text(f"{SECRET} {OTHER}") == f"{SECRET} {REDACTED}"


def test_repr_never_shows_values() -> None:
    # Given / When / Then: the redactor's repr gives a count only
    assert repr(Redactor([SECRET])) == "Redactor(1 values)"


def test_transformed_values_are_not_caught_unless_registered() -> None:
    # Given: a value and its base64 form (as in HTTP Basic auth) -- a documented limit
    redactor = Redactor([SECRET])
    encoded = base64.b64encode(SECRET.encode()).decode()

    # When / Then: the encoded form passes through until it is registered too
    assert redactor.redact_text(encoded) == encoded
    redactor.register(encoded)
    assert redactor.redact_text(encoded) == REDACTED


# --- logging --------------------------------------------------------------------------


def test_filter_redacts_message_and_args(logger: tuple[logging.Logger, _Collect]) -> None:
    # Given: a handler with a redacting filter
    target, handler = logger
    handler.addFilter(RedactingFilter(Redactor([SECRET])))

    # When: the secret is logged through %-args, in a dict argument and in the message
    target.info("token=%s data=%r", SECRET, {"key": SECRET})
    target.debug(f"inline {SECRET}")

    # Then: the formatted lines hold no secret
    assert handler.lines == [
        f"token={REDACTED} data={{'key': '{REDACTED}'}}",
        f"inline {REDACTED}",
    ]


def test_filter_redacts_exceptions_stack_and_extras(
    logger: tuple[logging.Logger, _Collect],
) -> None:
    # Given: a handler with a redacting filter
    target, handler = logger
    handler.addFilter(RedactingFilter(Redactor([SECRET])))

    # When: an exception holding the secret is logged with a stack and an extra field
    try:
        raise ValueError(f"bad key {SECRET}")
    except ValueError:
        target.exception("failed", stack_info=True, extra={"detail": {"auth": SECRET}})

    # Then: the output and the record carry no secret, and no raw exception object
    (record,) = handler.records
    assert SECRET not in handler.lines[0]
    assert f"bad key {REDACTED}" in handler.lines[0]
    assert record.exc_info is None
    assert record.detail == {"auth": REDACTED}  # type: ignore[attr-defined]
    assert SECRET not in (record.stack_info or "")


def test_install_is_idempotent_and_covers_every_handler() -> None:
    # Given: a logger with two handlers
    target = logging.getLogger("tests.redaction.install")
    first, second = _Collect(), _Collect()
    target.addHandler(first)
    target.addHandler(second)
    target.propagate = False
    redactor = Redactor([SECRET])
    try:
        # When: redaction is installed twice
        installed = install_log_redaction(redactor, target)
        again = install_log_redaction(redactor, target)

        # Then: each handler has exactly one filter, the same one
        assert installed is again
        for handler in (first, second):
            assert [f for f in handler.filters if isinstance(f, RedactingFilter)] == [installed]
        target.warning("secret %s", SECRET)
        assert first.lines == second.lines == [f"secret {REDACTED}"]
    finally:
        target.removeHandler(first)
        target.removeHandler(second)
        target.propagate = True


def test_install_defaults_to_the_root_logger() -> None:
    # Given: a handler on the root logger
    root = logging.getLogger()
    handler = _Collect()
    root.addHandler(handler)
    try:
        # When: redaction is installed without naming a logger
        installed = install_log_redaction(Redactor([SECRET]))

        # Then: the root logger's handler has the filter
        assert installed in handler.filters
    finally:
        root.removeHandler(handler)


def test_a_value_split_across_streamed_pieces_is_still_redacted() -> None:
    redactor = Redactor(["sk-live-123456"])
    stream = StreamRedactor(redactor)
    pieces = ["Your key is sk-li", "ve-12", "3456 and ", "that's all."]

    shown = "".join(stream.feed(piece) for piece in pieces) + stream.flush()

    assert shown == "Your key is [REDACTED] and that's all."
    assert "sk-li" not in "".join(StreamRedactor(redactor).feed(piece) for piece in pieces[:1])


def test_a_stream_without_values_is_passed_on_at_once() -> None:
    stream = StreamRedactor(Redactor())
    assert [stream.feed(piece) for piece in ("a", "bc")] == ["a", "bc"]
    assert stream.flush() == ""
