"""Unexpected errors: one place gives each an id, logs it with its traceback, and says what the user sees.

Every front door and background loop reports through :func:`report`, so an id in a chat message is always the
id of one logged traceback, and no user ever sees a traceback or a secret.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Incident:
    """An unexpected error that was logged under ``error_id``."""

    error_id: str

    @property
    def message(self) -> str:
        """What a user is told."""
        return (f":boom: Something went wrong on our side (error id `{self.error_id}`). "
                "It has been logged; please try again, or give the id to an admin.")


def new_incident() -> Incident:
    """A fresh id, for an error that is logged by the caller (see :func:`report`)."""
    return Incident(uuid.uuid4().hex[:8])


def report(logger: logging.Logger, what: str, error: BaseException | None = None, **extra: Any) -> Incident:
    """Log the exception being handled (or ``error``) with a new id and ``extra``; return the incident."""
    incident = new_incident()
    exc_info: Any = error if error is not None else True
    logger.error(what, exc_info=exc_info, extra={"error_id": incident.error_id, **extra})
    return incident
