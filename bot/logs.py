"""Logging set-up: one line per record, as text with ``key=value`` extras or (``RAD_LOG_FORMAT=json``) one JSON object.

Whatever the format, anything shaped like a credential (Slack, Discord, GitHub, Stripe tokens, bearer tokens,
``token=``/``secret=`` pairs) is replaced by ``[redacted]`` in the message, the extras and the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import UTC, datetime
from typing import Any

STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
LOG_FORMATS = ("text", "json")
REDACTED = "[redacted]"
_SECRET = re.compile(
    r"\b(?:xox[abeposr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{8,}|whsec_[A-Za-z0-9]{8,})"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]{8,}"
    r"|(?i:(?<=token=)|(?<=secret=)|(?<=password=)|(?<=api_key=))[^\s&'\",]{4,}")


def redact(text: str) -> str:
    """``text`` with every credential-shaped part replaced by ``[redacted]``."""
    return _SECRET.sub(REDACTED, text)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in STANDARD}


class ExtrasFormatter(logging.Formatter):
    """The usual line followed by the record's ``extra`` fields, credentials redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """The usual line, then the record's extras as sorted ``key=value`` pairs."""
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the extras, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (newlines in values are escaped), credentials redacted."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": redact(record.getMessage()),
        }
        for key, value in _extras(record).items():
            kept = value if isinstance(value, bool | int | float | None) else redact(str(value) if isinstance(
                value, str) else repr(value))
            entry.setdefault(key, kept)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=repr)  # each value redacted before it is encoded


def formatter(log_format: str | None = None) -> logging.Formatter:
    """The formatter for ``log_format`` (default ``RAD_LOG_FORMAT``; anything but ``json`` is text)."""
    chosen = (log_format or os.environ.get("RAD_LOG_FORMAT", "text")).strip().lower()
    if chosen == "json":
        return JsonFormatter()
    return ExtrasFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure_logging(level: str | None = None, log_format: str | None = None) -> None:
    """Log to stderr at ``RAD_LOG_LEVEL`` (default INFO), as ``RAD_LOG_FORMAT`` says (``text`` or ``json``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("RAD_LOG_LEVEL", "INFO")).upper())
    for noisy in ("apscheduler", "discord.gateway", "discord.client", "waitress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
