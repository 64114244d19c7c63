"""Whom a deployment's revenue share is owed to: the partner who owns the module, fixed on the SPEND."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Module

PARTNER_SOURCE = "partner"


def module_partner(session: Session, module: str) -> int | None:
    """The user id of the partner owning ``module`` (by its exact name), or None for a platform module."""
    if not module:
        return None
    return session.scalar(select(Module.owner_id).where(Module.name == module, Module.source == PARTNER_SOURCE))
