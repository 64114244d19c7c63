"""Who may see which revenue: a checked report scope (period, module, partner) for one viewer.

Partners see only their own modules' rows, scaled to their share; finance and admins see every partner's, or
one partner's, and the whole platform's true revenue. Enforced here, never only in chat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from core.accounts.roles import FINANCE, PARTNER, has_any
from core.dates import FORMAT_HINT, Period
from core.errors import InvalidInput, NotAllowed, NotFound
from storage.models import CreditTransaction, Module, User

MAX_DAYS = 366
"""The longest period one report covers, both days included."""


@dataclass(frozen=True)
class RevenueScope:
    """One checked report: [start, end) in UTC, an optional module and partner, and how the viewer sees it.

    ``partner_view`` is True for a partner who is not finance: rows are their modules' only and amounts are
    their share. Made by :func:`revenue_scope` (or :func:`digest_scope`) only.
    """

    viewer: User | None
    start: datetime
    end: datetime
    module: str | None = None
    partner: User | None = None
    partner_view: bool = False

    @property
    def first(self) -> date:
        """The first day of the period."""
        return self.start.date()

    @property
    def last(self) -> date:
        """The last day of the period (included)."""
        return (self.end - timedelta(microseconds=1)).date()

    def describe(self) -> str:
        """``2026-11-01 to 2026-11-30`` (or one day)."""
        return self.first.isoformat() if self.first == self.last else \
            f"{self.first.isoformat()} to {self.last.isoformat()}"


def default_period(today: date) -> Period:
    """The month so far: the 1st of ``today``'s month to ``today``."""
    return Period(today.replace(day=1), today)


def revenue_scope(session: Session, viewer: User, period: Period, *, module: str | None = None,
                  partner: User | None = None) -> RevenueScope:
    """The scope ``viewer`` may see, checked.

    Raises:
        InvalidInput: one side of the period is open, or it is longer than :data:`MAX_DAYS` days.
        NotAllowed: the viewer is neither partner nor finance, or a partner asks for another partner's revenue
            (the dispatcher records the refusal in the audit log).
        NotFound: the module is unknown (or, for a partner, not theirs), or ``partner`` is no partner.
    """
    finance = has_any(viewer, (FINANCE,))
    if not finance and not has_any(viewer, (PARTNER,)):
        raise NotAllowed("Only partners (their own modules), finance and admins can see revenue.",
                         hint="Ask an admin for the partner role if you publish modules.")
    if period.first is None or period.last is None:
        raise InvalidInput("A revenue report needs both its first and its last day.",
                           hint=f"Give both, like `/rad revenue 2026-11-01 2026-11-30`. {FORMAT_HINT}")
    days = (period.last - period.first).days + 1
    if days > MAX_DAYS:
        raise InvalidInput(f"The period is {days} days long; a report covers at most {MAX_DAYS} days.",
                           hint="Split it into shorter periods (a year at a time).")
    if not finance:
        if partner is not None and partner.id != viewer.id:
            raise NotAllowed("Partners can see only the revenue of their own modules.",
                             hint="Run `/rad revenue` without a partner for yours.")
        partner = viewer
    elif partner is not None and PARTNER not in partner.role_names and not _attributed(session, partner):
        raise NotFound(f"{partner.display_name} is not a partner and is owed no revenue.",
                       hint="Name a partner, or leave the partner out for all of them.")
    name = _module(session, module, partner if not finance else None)
    start = datetime.combine(period.first, time(), UTC)
    end = datetime.combine(period.last + timedelta(days=1), time(), UTC)
    return RevenueScope(viewer, start, end, name, partner, partner_view=not finance)


def digest_scope(start: datetime, end: datetime) -> RevenueScope:
    """The whole platform over [start, end), as finance sees it (for the scheduled digests)."""
    return RevenueScope(None, start, end)


def _attributed(session: Session, partner: User) -> bool:
    return bool(session.scalar(select(exists().where(CreditTransaction.partner_id == partner.id))))


def _module(session: Session, module: str | None, owner: User | None) -> str | None:
    written = (module or "").strip()
    if not written:
        return None
    found = session.scalar(select(Module).where(Module.name_key == Module.key_for(written)))
    if found is not None:
        if owner is not None and found.owner_id != owner.id:
            raise NotFound(f"`{found.name}` is not one of your modules.",
                           hint="Run `/rad revenue` without a module to see all of yours.")
        return found.name
    spent = session.scalar(select(CreditTransaction.module).where(
        CreditTransaction.kind == "SPEND", CreditTransaction.module == written,
        *((CreditTransaction.partner_id == owner.id,) if owner is not None else ())).limit(1))
    if spent is None:
        raise NotFound(f"There is no module `{written}`.", hint="Run `/rad modules` to see the module names.")
    return str(spent)
