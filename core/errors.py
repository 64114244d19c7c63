"""The family of errors a user can cause; front doors turn them into ephemeral replies."""

from __future__ import annotations

from datetime import datetime


class RadError(Exception):
    """An error the user can act on; its message is shown to them as is."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class NotAllowed(RadError):
    """The acting user lacks the role an operation needs."""


class NotFound(RadError):
    """A user, module, deployment or code that does not exist (or is not visible)."""


class InvalidInput(RadError):
    """Missing or malformed arguments."""


class Conflict(RadError):
    """The operation clashes with the current state (already linked, already granted...)."""


class Unavailable(RadError):
    """An outside service (GitHub, Jules) did not answer or limited us; ``retry_at`` says when to try again."""

    def __init__(self, message: str, *, hint: str = "", retry_at: datetime | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_at = retry_at


class NotMigrated(RadError):
    """The database schema is not at the latest migration."""

    def __init__(self, current: str | None, head: str | None) -> None:
        super().__init__(
            f"The database is not migrated (at {current or 'an empty schema'}, expected {head}).",
            hint="Run `python -m bot migrate` first.",
        )


class NotConfigured(RadError):
    """A process was asked to do something its configuration does not allow."""
