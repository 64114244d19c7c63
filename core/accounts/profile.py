"""A user's profile: the display name and notification preferences, with the rules for changing them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core import audit
from core.errors import InvalidInput
from storage.models import User, UserPreference

NAME_MAX = 80


@dataclass(frozen=True)
class Profile:
    """What a user may change about themselves."""

    display_name: str
    notify_deployments: bool
    notify_billing: bool


def preferences(session: Session, user: User) -> UserPreference:
    """The user's notification preferences (created with everything on at first use)."""
    prefs = session.get(UserPreference, user.id)
    if prefs is None:
        prefs = UserPreference(user_id=user.id, notify_deployments=True, notify_billing=True)
        session.add(prefs)
    return prefs


def current(session: Session, user: User) -> Profile:
    """The user's profile as it stands."""
    prefs = preferences(session, user)
    return Profile(user.display_name, prefs.notify_deployments, prefs.notify_billing)


def check_name(name: str) -> str:
    """A display name, stripped; InvalidInput when empty or longer than :data:`NAME_MAX`."""
    name = name.strip()
    if not name:
        raise InvalidInput("Enter a name.")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"Keep it to {NAME_MAX} characters.")
    return name


def update(session: Session, user: User, wanted: Profile, *, platform: str = "") -> Profile:
    """Save ``wanted`` (its name checked with :func:`check_name`); audited. Returns the saved profile."""
    name = check_name(wanted.display_name)
    prefs = preferences(session, user)
    user.display_name = name
    prefs.notify_deployments, prefs.notify_billing = wanted.notify_deployments, wanted.notify_billing
    audit.record(session, user, "profile.update", target=f"user:{user.id}", platform=platform)
    return Profile(name, prefs.notify_deployments, prefs.notify_billing)
