"""Platform-wide settings stored in the database, with typed defaults."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from storage.models import Setting

DEFAULTS: dict[str, Any] = {"private_mode": False}


def get(session: Session, key: str) -> Any:
    """The stored value of ``key``, its default from ``DEFAULTS``, or None."""
    row = session.get(Setting, key)
    return row.value if row is not None else DEFAULTS.get(key)


def get_bool(session: Session, key: str) -> bool:
    """The value of ``key`` (stored or default) as a bool."""
    return bool(get(session, key))


def put(session: Session, key: str, value: Any) -> None:
    """Store ``value`` under ``key``, replacing what was there."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    session.flush()
