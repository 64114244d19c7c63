"""A revenue story: partners' modules deployed by users who paid partly with purchased credits.

Dated SPEND rows are written with ``core.credits.ledger.post`` and a chosen ``created_at`` (the services stamp
rows with the current time), each carrying the purchased part, the share in force and the module's partner, and
counted in the daily revenue rollup, as ``core.credits.service.spend`` records them; one deployment goes through
the services (hold, spend) for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from core.accounts import identity as identities
from core.accounts.identity import IdentityKey, create_user
from core.accounts.roles import FINANCE, PARTNER, grant_role
from core.credits import service as credits
from core.credits.ledger import locked_account, post
from core.revenue import rollup
from core.settings import platform as settings
from storage.db import Database
from storage.models import Module, User
from tests.support.front_door import ADMIN, FrontDoor, Person

PAT, QUINN, UMA, FIN = Person("pat"), Person("quinn"), Person("uma"), Person("fin")

D = Decimal


def november(day: int, hour: int = 12) -> datetime:
    """``hour`` UTC on ``day`` November 2026."""
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def module(s: Session, name: str, owner: User | None, cost: str = "800") -> Module:
    """A published module (a partner's when ``owner`` is given)."""
    found = Module(name=name, source="partner" if owner else "platform", owner_id=owner.id if owner else None,
                   commit="c0ffee", credit_cost=D(cost))
    s.add(found)
    s.flush()
    return found


def person(s: Session, platform: str, external: str, name: str, *roles: str) -> User:
    """A user with an identity on ``platform`` and the roles given."""
    user = create_user(s, IdentityKey(platform, "T1" if platform == "slack" else "", external), name)
    for role in roles:
        grant_role(s, user, role)
    return user


def spent(s: Session, user: User, module_name: str, partner: User | None, amount: str, purchased: str,
          pct: str, when: datetime, key: str) -> None:
    """A SPEND of ``amount`` of which ``purchased`` came from purchased credits, at ``when``."""
    account = locked_account(s, user.id)
    total, bought = D(amount), D(purchased)
    post(s, account, "PURCHASE", f"{key}:buy", bought, purchased=bought, created_at=when)
    if total - bought:
        post(s, account, "AWARD", f"{key}:award", total - bought, awarded=total - bought, created_at=when)
    row = post(s, account, "SPEND", key, total, awarded=-(total - bought), purchased=-bought,
               purchased_part=bought, revenue_share_pct=D(pct), partner_id=partner.id if partner else None,
               module=module_name, deployment_ref=key[-8:], description=f"Spent on {module_name}", created_at=when)
    rollup.count_spend(s, row)


@dataclass(frozen=True)
class Story:
    """Who is who (user ids) in :func:`write_story`."""

    pat: int
    quinn: int
    uma: int
    fin: int


def write_story(s: Session, platform: str = "console") -> Story:
    """Two partners (Pat: net-plan, db-kit; Quinn: queue), Uma paying, Fin in finance; see :func:`write_spends`."""
    pat = person(s, platform, "pat", "Pat", "partner")
    quinn = person(s, platform, "quinn", "Quinn", "partner")
    uma = person(s, platform, "uma", "Uma")
    fin = person(s, platform, "fin", "Fin", "finance")
    write_spends(s, pat, quinn, uma)
    return Story(pat.id, quinn.id, uma.id, fin.id)


def write_spends(s: Session, pat: User, quinn: User, uma: User) -> None:
    """The modules and November 2026's SPEND rows (credits_per_unit 100, set by the caller).

    =====  ============  ====  =========  =====  ===================================
    day    module        cost  purchased  share  note
    =====  ============  ====  =========  =====  ===================================
    2      net-plan      800   300        20     domain §5: $3.00, Pat $0.60
    3      net-plan      800   800        20     purchased-only: $8.00, Pat $1.60
    5      db-kit        100   0          20     awarded only: no revenue
    7      queue         250   250        50     Quinn $1.25 of $2.50
    9      platform-net  40    40         20     platform module: $0.40, no share
    10     net-plan      0     0          20     Pat's own deployment: nothing
    30     net-plan      1     1          50     23:00 UTC: $0.01, Pat $0.005
    =====  ============  ====  =========  =====  ===================================
    """
    module(s, "net-plan", pat)
    module(s, "db-kit", pat, "100")
    module(s, "queue", quinn, "250")
    module(s, "platform-net", None, "40")
    spent(s, uma, "net-plan", pat, "800", "300", "20", november(2), "rev:dep00001")
    spent(s, uma, "net-plan", pat, "800", "800", "20", november(3), "rev:dep00002")
    spent(s, uma, "db-kit", pat, "100", "0", "20", november(5), "rev:dep00003")
    spent(s, uma, "queue", quinn, "250", "250", "50", november(7), "rev:dep00004")
    spent(s, uma, "platform-net", None, "40", "40", "20", november(9), "rev:dep00005")
    spent(s, pat, "net-plan", pat, "0", "0", "20", november(10), "rev:dep00006")
    spent(s, uma, "net-plan", pat, "1", "1", "50", november(30, 23), "rev:dep00007")
    s.flush()


def deploy_for_real(s: Session, user: User, module_name: str, amount: str, key: str) -> None:
    """Hold and spend through the credit services, as a deploy does (the share and partner in force now)."""
    credits.hold(s, user, D(amount), key=key, deployment=key[-8:], module=module_name)
    credits.spend(s, key)


def user_of(db: Database, door: FrontDoor, person: Person) -> User:
    """The user ``person`` is on this door (detached from its session)."""
    with db.unit_of_work() as s:
        found = identities.find_user(s, door.identity(person))
        assert found is not None
        s.expunge(found)
        return found


async def door_story(door: FrontDoor, db: Database) -> None:
    """Everyone registered by a first command; Pat and Quinn partners, Fin finance; November's spends."""
    for who in (ADMIN, PAT, QUINN, UMA, FIN):
        await door.command("whoami", user=who)
    ids = [user_of(db, door, p).id for p in (ADMIN, PAT, QUINN, UMA, FIN)]
    with db.unit_of_work() as s:
        admin, pat, quinn, uma, fin = (s.get_one(User, i) for i in ids)
        grant_role(s, pat, PARTNER)
        grant_role(s, quinn, PARTNER)
        grant_role(s, fin, FINANCE)
        settings.change(s, admin, "credits_per_unit", "100")
        write_spends(s, pat, quinn, uma)
