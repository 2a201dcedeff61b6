"""Logging for every WorkFuse process: one format, the configured level, secrets redacted.

:data:`REDACTOR` is the process's list of secret values it has seen (credentials
fetched for a run, created or rotated); :func:`configure_logging` puts its filter on
the root logger's handlers, so a value that reaches a log line is replaced by
``[REDACTED]`` (see :mod:`workfuse.secrets.redaction` for what it cannot catch).
:class:`WebhookPathFilter` does the same for webhook URLs: any ``/hooks/<token>`` in
a line (an HTTP server's access log, if one is switched on, or a URL an error
quotes) becomes the route template ``/hooks/{token}``.
"""

from __future__ import annotations

import logging
import re

from workfuse.secrets.redaction import Redactor, install_log_redaction
from workfuse.settings import get_settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Every secret value this process has handled, for the log filter and node outputs.
REDACTOR = Redactor()


#: A webhook URL's path: the token in it is the webhook's credential.
WEBHOOK_PATH = re.compile(r"/hooks/(?!\{token\})[^\s/?#\"'<>]+")
WEBHOOK_TEMPLATE = "/hooks/{token}"
#: Loggers of HTTP servers that may log request paths and do not propagate to the root.
SERVER_LOGGERS = ("uvicorn.access", "uvicorn.error", "granian.access", "_granian")


def scrub_webhook_paths(text: str) -> str:
    return WEBHOOK_PATH.sub(WEBHOOK_TEMPLATE, text)


class WebhookPathFilter(logging.Filter):
    """A handler filter that writes every webhook path in a record (message, arguments,
    traceback) as ``/hooks/{token}``. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # malformed args: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = scrub_webhook_paths(message), None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub_webhook_paths(record.exc_text)
        return True


def install_webhook_path_filter(*loggers: logging.Logger) -> None:
    """Put one :class:`WebhookPathFilter` on every handler of ``loggers`` (idempotent)."""
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, WebhookPathFilter) for f in handler.filters):
                handler.addFilter(WebhookPathFilter())


def configure_logging() -> None:
    """Give the root logger a handler (unless the host, e.g. pytest, set one up), set the
    ``workfuse`` loggers to ``WORKFUSE_LOG_LEVEL``, redact secrets on every handler
    (the credentials handled later, and the API keys set in the settings) and write
    webhook paths as the route template on those and on the HTTP servers' own handlers.

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
    install_webhook_path_filter(root, *map(logging.getLogger, SERVER_LOGGERS))
