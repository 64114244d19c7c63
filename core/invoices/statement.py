"""What an invoice says: a user's project costs of one invoice month, one line per project, with totals.

Each line is a Google Cloud project the user's deployments ran in (by the billing export's ``invoice.month``):
its cost, Google's credits (zero or negative), the net cost, and the credits debited for it so far. Only the
owner, finance and admins may read it (:func:`invoice_scope`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.roles import FINANCE, has_any
from core.costs.debits import credits_for
from core.errors import InvalidInput, NotAllowed
from storage.models import CostDebit, CostRow, Deployment, User

MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


@dataclass
class InvoiceLine:
    """One project's month: money in nanos of one currency, credits debited."""

    project_id: str
    project_name: str
    deployments: list[str]
    currency: str
    cost: int = 0
    credits: int = 0
    debited: Decimal = Decimal(0)

    @property
    def net(self) -> int:
        """Cost plus Google's credits."""
        return self.cost + self.credits


@dataclass(frozen=True)
class Statement:
    """A user's month: lines by project (largest net first) and totals by currency."""

    user: User
    month: str
    lines: list[InvoiceLine]
    totals: dict[str, InvoiceLine] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether the user had no project costs that month."""
        return not self.lines


def parse_month(text: str | None, today: date) -> str:
    """A month typed as ``YYYY-MM`` (default: the previous month, the last complete one).

    Raises:
        InvalidInput: not a month in that form.
    """
    written = (text or "").strip()
    if not written:
        first = today.replace(day=1)
        previous = date(first.year - 1, 12, 1) if first.month == 1 else date(first.year, first.month - 1, 1)
        return f"{previous.year:04d}-{previous.month:02d}"
    if MONTH.fullmatch(written) and 1 <= int(written[5:]) <= 12 and int(written[:4]) >= 2000:
        return written
    raise InvalidInput(f"`{written}` is not a month.", hint="Write it YYYY-MM, like 2026-01.")


def invoice_scope(viewer: User, user: User) -> User:
    """``user``, if ``viewer`` may read their invoices (they themselves, finance, admins).

    Raises:
        NotAllowed: anyone else.
    """
    if viewer.id != user.id and not has_any(viewer, (FINANCE,)):
        raise NotAllowed("Only finance and admins can see another user's invoices.",
                         hint="Run `/rad invoices` for your own.")
    return user


def statement(session: Session, user: User, month: str) -> Statement:
    """The user's project costs of ``month`` (``YYYY-MM``), one line per project and currency."""
    r = CostRow
    rates = dict(session.execute(select(CostDebit.id, CostDebit.rate)).all())
    query = (select(r.project_id, r.currency, r.debit_id, func.max(r.project_name), func.sum(r.cost_nanos),
                    func.sum(r.credits_nanos))
             .where(r.user_id == user.id, r.invoice_month == month.replace("-", ""))
             .group_by(r.project_id, r.currency, r.debit_id))
    lines: dict[tuple[str, str], InvoiceLine] = {}
    for project, currency, debit_id, name, cost, credits in session.execute(query):
        line = lines.setdefault((project, currency), InvoiceLine(project, name or "", [], currency))
        line.cost += int(cost)
        line.credits += int(credits)
        if name and not line.project_name:
            line.project_name = name
        if debit_id is not None:
            line.debited += credits_for(int(cost) + int(credits), Decimal(rates[debit_id]))
    shorts = session.execute(select(r.project_id, Deployment.short_id)
                             .join(Deployment, Deployment.id == r.deployment_id)
                             .where(r.user_id == user.id, r.invoice_month == month.replace("-", "")).distinct())
    by_project: dict[str, set[str]] = defaultdict(set)
    for project, short in shorts:
        by_project[project].add(short)
    for line in lines.values():
        line.deployments = sorted(by_project.get(line.project_id, set()))
    ordered = sorted(lines.values(), key=lambda x: (-x.net, x.project_id))
    totals: dict[str, InvoiceLine] = {}
    for line in ordered:
        total = totals.setdefault(line.currency, InvoiceLine("Total", "", [], line.currency))
        total.cost, total.credits, total.debited = (total.cost + line.cost, total.credits + line.credits,
                                                    total.debited + line.debited)
    return Statement(user, month, ordered, totals)


def billed_users(session: Session, month: str) -> list[User]:
    """The users with project costs in ``month``, by name."""
    ids = select(CostRow.user_id).where(CostRow.invoice_month == month.replace("-", ""),
                                        CostRow.user_id.is_not(None)).distinct()
    return list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.display_name, User.id)))
