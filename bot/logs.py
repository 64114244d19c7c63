"""Logging set-up: one line per record with its structured extras as key=value pairs."""

from __future__ import annotations

import logging
import os

STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class ExtrasFormatter(logging.Formatter):
    """The usual line followed by the record's ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, then the record's extras as sorted ``key=value`` pairs."""
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))
        return line


def configure_logging(level: str | None = None) -> None:
    """Log to stderr at ``RAD_LOG_LEVEL`` (default INFO)."""
    handler = logging.StreamHandler()
    handler.setFormatter(ExtrasFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("RAD_LOG_LEVEL", "INFO")).upper())
    for noisy in ("apscheduler", "discord.gateway", "discord.client", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
