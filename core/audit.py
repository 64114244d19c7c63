"""Audit events: one row for every state change and every refusal."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, User


def record(
    session: Session,
    actor: User | None,
    action: str,
    *,
    target: str = "",
    platform: str = "",
    outcome: str = "ok",
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session's transaction. Never pass a secret in ``detail``."""
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        platform=platform,
        action=action,
        target=target[:200],
        outcome=outcome,
        detail={k: v for k, v in detail.items() if v is not None},
    )
    session.add(event)
    return event


def recent(session: Session, *, limit: int = 50, action: str | None = None) -> list[AuditEvent]:
    """The latest ``limit`` audit events, newest first, of one ``action`` if given."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))
