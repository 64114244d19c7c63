"""``console --demo``: a small demo platform so a newcomer can try every command offline.

The console user becomes an admin, partner and finance; a few users are added; the platform repository
is the ``examples/modules`` folder, scanned and published. Running it again changes nothing.
"""

from __future__ import annotations

from pathlib import Path

from core.accounts import identity
from core.accounts.identity import Caller, IdentityKey
from core.accounts.roles import ADMIN, FINANCE, PARTNER, grant_role
from core.catalog import publish as catalog
from core.catalog import scan as scanner
from core.repos import connections
from core.services import Services
from storage.db import Database
from storage.models import RepoConnection, User, utcnow

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "modules"
DEMO_USERS = (
    (IdentityKey("slack", "TDEMO", "UPARTNER"), "Pat Partner", (PARTNER,)),
    (IdentityKey("slack", "TDEMO", "UFINANCE"), "Fin Ance", (FINANCE,)),
    (IdentityKey("discord", "", "200000000000000001"), "Dee User", ()),
)


def seed(db: Database, services: Services, caller: Caller, examples: Path = EXAMPLES) -> list[str]:
    """Seed the demo platform; returns what it did, one line per change."""
    done: list[str] = []
    with db.unit_of_work() as session:
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
        conn = connections.find_repo(session, None)
        if conn is None or conn.provider != "local":
            conn = connections.connect_local(session, me, str(examples), utcnow())
            done.append(f"the platform repository is {examples}")
        me_id, conn_id = me.id, conn.id
    result = scanner.scan(db, services, conn_id, utcnow())
    with db.unit_of_work() as session:
        if not catalog.published_by(session, None):
            actor = session.get_one(User, me_id)
            valid = [c.name for c in result.candidates if c.valid]
            repository = session.get_one(RepoConnection, conn_id).full_name  # as `admin publish` records it
            outcome = catalog.sync(session, actor, None, result, valid, repository, utcnow())
            done.append("published " + ", ".join(outcome.published))
    return done
