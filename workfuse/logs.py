"""Logging for every WorkFuse process: one format, the configured level, secrets redacted.

:data:`REDACTOR` is the process's list of secret values it has seen (credentials
fetched for a run, created or rotated); :func:`configure_logging` puts its filter on
the root logger's handlers, so a value that reaches a log line is replaced by
``[REDACTED]`` (see :mod:`workfuse.secrets.redaction` for what it cannot catch).
"""

from __future__ import annotations

import logging

from workfuse.secrets.redaction import Redactor, install_log_redaction
from workfuse.settings import get_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Every secret value this process has handled, for the log filter and node outputs.
REDACTOR = Redactor()


def configure_logging() -> None:
    """Give the root logger a handler (unless the host, e.g. pytest, set one up), set the
    ``workfuse`` loggers to ``WORKFUSE_LOG_LEVEL`` and redact secrets on every handler
    (the credentials handled later, and the API keys set in the settings).

    Idempotent; call again after anything adds handlers.
    """
    settings = get_settings()
    for value in (
        settings.openai_api_key,
        settings.anthropic_api_key,
        settings.gemini_api_key,
        settings.aws_secret_access_key,
        settings.encryption_key,
    ):
        if value is not None:
            REDACTOR.register(value.get_secret_value())  # the operator's own secrets too
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    logging.getLogger("workfuse").setLevel(settings.log_level)
    install_log_redaction(REDACTOR)
