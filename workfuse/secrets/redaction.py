"""Keep known secret values out of logs and stored data: replace them with ``[REDACTED]``.

A :class:`Redactor` is told the values (``register``) and rewrites strings, and the
keys and values of JSON-like data (dicts, lists, tuples), wherever a value occurs as a
substring. :class:`RedactingFilter` applies it to log records on a handler, and
:func:`install_log_redaction` puts that filter on the root logger's handlers.

Limits (it is a last line of defence, not a reason to log secrets):
- Exact substring match only. A value that is transformed before it is printed is
  not recognised: base64 (HTTP Basic auth), URL- or percent-encoding, JSON or HTML
  escaping (a value with quotes, backslashes or non-ASCII characters), hashing,
  a different case, or a value cut short or split across records. Register the
  transformed form too when you produce one (as the HTTP node does for Basic tokens).
- Values shorter than ``min_length`` (default 4 characters) are ignored: redacting
  them would mangle ordinary text and hide nothing worth hiding.
- Bytes and other objects are returned as they are; only ``str`` is inspected.
- Data nested deeper than :data:`MAX_DEPTH` is replaced by ``[REDACTED]`` as a whole.
- Two dict keys that become equal after redaction collapse into one (the last wins).
- A log filter covers only the handlers present when it is installed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
MIN_REDACT_LENGTH = 4  #: characters; shorter values are not redacted
MAX_DEPTH = 200  #: levels of nesting inspected; deeper data is redacted whole

#: Attributes every LogRecord has; anything else came from ``extra=`` and is redacted.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class Redactor:
    """Replaces registered secret values with :data:`REDACTED`; thread-safe.

    Parameters:
        values: values to register at once. Default none.
        min_length: shorter values are ignored. Default :data:`MIN_REDACT_LENGTH`.
    """

    def __init__(self, values: Iterable[str] = (), *, min_length: int = MIN_REDACT_LENGTH) -> None:
        self.min_length = min_length
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._longest = 0
        for value in values:
            self.register(value)

    def __repr__(self) -> str:  # never the values themselves
        return f"Redactor({len(self._values)} values)"

    def __len__(self) -> int:
        return len(self._values)

    def register(self, value: str) -> bool:
        """Redact ``value`` from now on; False if it is too short (or not a string)."""
        if not isinstance(value, str) or len(value) < self.min_length:
            return False
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                self._compile()
        return True

    def forget(self, value: str) -> None:
        """Stop redacting ``value`` (a deleted credential)."""
        with self._lock:
            if value in self._values:
                self._values.discard(value)
                self._compile()

    @property
    def longest(self) -> int:
        """Length of the longest registered value (0 without any)."""
        return self._longest

    def _compile(self) -> None:
        # Longest first, so a value that contains another is replaced whole.
        ordered = sorted(self._values, key=len, reverse=True)
        self._longest = len(ordered[0]) if ordered else 0
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def redact_text(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(REDACTED, text) if pattern is not None else text

    def redact(self, data: Any) -> Any:
        """A copy of ``data`` with every registered value replaced, in keys and values.

        Strings, mappings (returned as dicts), lists and tuples are rewritten; other
        objects are returned as they are. With no value registered there is nothing to
        replace: ``data`` itself comes back (no copy).
        """
        if self._pattern is None:
            return data
        return self._walk(data, 0)

    def _walk(self, item: Any, depth: int) -> Any:
        if isinstance(item, str):
            return self.redact_text(item)
        if not isinstance(item, Mapping | list | tuple):
            return item
        if depth >= MAX_DEPTH:
            return REDACTED
        if isinstance(item, Mapping):
            return {
                self._walk(key, depth + 1): self._walk(value, depth + 1)
                for key, value in item.items()
            }
        walked = [self._walk(element, depth + 1) for element in item]
        return tuple(walked) if isinstance(item, tuple) else walked


class StreamRedactor:
    """Redacts text that arrives in pieces (a model's streamed answer), so a value
    split across pieces is still caught.

    :meth:`feed` returns what can be shown now: the redacted text so far minus its last
    ``longest - 1`` characters, which are held back until the next piece shows whether
    they start a value. :meth:`flush` returns what is held back (at the end).
    """

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._redactor.redact_text(self._held + piece)
        hold = max(0, self._redactor.longest - 1)
        cut = max(0, len(text) - hold)
        self._held = text[cut:]
        return text[:cut]

    def flush(self) -> str:
        text, self._held = self._redactor.redact_text(self._held), ""
        return text


class RedactingFilter(logging.Filter):
    """A handler filter that redacts a record's message, exception, stack and extras.

    The message is formatted (``msg % args``) and redacted, and ``args`` cleared. An
    exception is formatted into ``exc_text`` (redacted) and ``exc_info`` is cleared,
    so a handler that renders exceptions itself sees only the redacted text. The
    record is changed in place, for every handler after this one too. Never drops a
    record.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = self.redactor
        try:
            message = record.getMessage()
        except Exception:  # malformed args: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = redactor.redact_text(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redactor.redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redactor.redact_text(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES and isinstance(value, str | Mapping | list | tuple):
                setattr(record, name, redactor.redact(value))
        return True


def install_log_redaction(
    redactor: Redactor, logger: logging.Logger | None = None
) -> RedactingFilter:
    """Put a :class:`RedactingFilter` on every handler of ``logger`` (default: root).

    Idempotent: a handler that already has a filter for this redactor is left alone.
    Handlers added later are not covered; call again after configuring logging.
    """
    target = logger or logging.getLogger()
    existing = [
        f
        for handler in target.handlers
        for f in handler.filters
        if isinstance(f, RedactingFilter) and f.redactor is redactor
    ]
    redacting = existing[0] if existing else RedactingFilter(redactor)
    for handler in target.handlers:
        if not any(
            isinstance(f, RedactingFilter) and f.redactor is redactor for f in handler.filters
        ):
            handler.addFilter(redacting)
    return redacting
