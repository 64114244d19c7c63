"""Roles: additive flags on a user. Admins pass every role check."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, InvalidInput, NotAllowed
from storage.models import User, UserRole

USER, PARTNER, FINANCE, ADMIN = "user", "partner", "finance", "admin"
ROLES = (USER, PARTNER, FINANCE, ADMIN)


def check_role(role: str) -> str:
    """A role name as typed, normalised; InvalidInput when it is not one of :data:`ROLES`."""
    role = role.strip().lower()
    if role not in ROLES:
        raise InvalidInput(f"`{role}` is not a role.", hint=f"Roles are {', '.join(ROLES)}.")
    return role


def has_any(user: User, roles: Iterable[str]) -> bool:
    """True when ``roles`` is empty, the user is an admin, or the user holds one of ``roles``."""
    wanted = frozenset(roles)
    held = user.role_names
    return not wanted or ADMIN in held or bool(wanted & held)


PEOPLE = {USER: "users", PARTNER: "partners", FINANCE: "finance", ADMIN: "admins"}


def require_any(user: User, roles: Iterable[str], what: str) -> None:
    """Refuse (NotAllowed, naming who may) unless :func:`has_any` says the user may ``what``."""
    wanted = sorted(frozenset(roles))
    if not has_any(user, wanted):
        raise NotAllowed(
            f"Only {' or '.join(PEOPLE.get(r, r) for r in wanted)} can {what}.",
            hint="Ask an admin for the role if you need it.",
        )


def grant_role(session: Session, user: User, role: str) -> None:
    """Give ``user`` the ``role``; Conflict when they already hold it."""
    if role in user.role_names:
        raise Conflict(f"{user.display_name} already has the {role} role.")
    user.roles.append(UserRole(role=role))
    session.flush()


def admin_count(session: Session) -> int:
    """How many users hold the admin role."""
    return session.scalar(select(func.count(UserRole.id)).where(UserRole.role == ADMIN)) or 0


def revoke_role(session: Session, user: User, role: str) -> None:
    """Take ``role`` from ``user``; never the last admin's admin role (Conflict), nor a role they lack."""
    if role == ADMIN and ADMIN in user.role_names and admin_count(session) == 1:
        raise Conflict("That is the last admin.", hint="Grant admin to someone else first.")
    for held in user.roles:
        if held.role == role:
            user.roles.remove(held)
            session.flush()
            return
    raise Conflict(f"{user.display_name} does not have the {role} role.")
