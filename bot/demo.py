"""``console --demo``: a small demo platform so a newcomer can try every command offline."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core import identity
from core.identity import Caller, IdentityKey
from core.roles import ADMIN, FINANCE, PARTNER, grant_role

DEMO_USERS = (
    (IdentityKey("slack", "TDEMO", "UPARTNER"), "Pat Partner", (PARTNER,)),
    (IdentityKey("slack", "TDEMO", "UFINANCE"), "Fin Ance", (FINANCE,)),
    (IdentityKey("discord", "", "200000000000000001"), "Dee User", ()),
)


def seed(session: Session, caller: Caller) -> list[str]:
    """Make the console user an admin, partner and finance, and add a few users; idempotent."""
    done = []
    me = identity.find_user(session, caller.key) or identity.create_user(session, caller.key, caller.display_name)
    for role in (ADMIN, PARTNER, FINANCE):
        if role not in me.role_names:
            grant_role(session, me, role)
            done.append(f"{caller.key} is now {role}")
    for key, name, roles in DEMO_USERS:
        if identity.find_user(session, key) is None:
            user = identity.create_user(session, key, name, by=me)
            for role in roles:
                grant_role(session, user, role)
            done.append(f"added {name} ({key})")
    return done
