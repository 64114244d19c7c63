"""``/rad costs``: project costs of a period by deployment and by service, with the credits debited for them.

Visibility is decided here: a user sees the costs of their own deployments; finance and admins see everyone's
(or one user's), and also the rows no deployment claims (unattributed). Periods are whole UTC days by usage
start. Sums are exact integer nanos per currency; they are rounded to cents only when shown.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts.roles import FINANCE, has_any
from core.costs.debits import credits_for
from core.costs.money import plain_amount
from core.credits.history import inert
from core.dates import Period
from core.errors import InvalidInput, NotAllowed
from storage.models import CostDebit, CostRow, Deployment, User

MAX_DAYS = 366
DAILY_UP_TO = 31
"""Periods up to this many days get one CSV line per day; longer ones one per month (a year stays a few MB)."""
CSV_HEADER = ("period", "deployment", "module", "owner", "project_id", "service", "sku", "currency", "cost", "credits",
              "net_cost", "rows")
"""The CSV's header: one line per day (or month), deployment, service and SKU; exact decimals."""


@dataclass(frozen=True)
class CostScope:
    """Whose costs (None: everyone's, for finance and admins), which days, which module; made by :func:`cost_scope`."""

    viewer: User
    user: User | None
    period: Period
    module: str | None = None

    @property
    def everyone(self) -> bool:
        """Whether the scope covers every user (and the unattributed rows)."""
        return self.user is None


@dataclass
class Line:
    """Money of one group of rows, in one currency."""

    cost: int = 0
    credits: int = 0
    debited: Decimal = Decimal(0)
    rows: int = 0

    @property
    def net(self) -> int:
        """Cost plus Google's credits (which are negative)."""
        return self.cost + self.credits


@dataclass(frozen=True)
class DeploymentCost:
    """One deployment's costs in one currency."""

    short_id: str
    module: str
    owner: str
    project_id: str
    currency: str
    line: Line


@dataclass(frozen=True)
class CostReport:
    """The report: by deployment (largest net first), by service, unattributed, totals by currency."""

    scope: CostScope
    deployments: list[DeploymentCost]
    services: list[tuple[str, str, Line]]
    unattributed: dict[str, Line] = field(default_factory=dict)
    totals: dict[str, Line] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether no row matched."""
        return not self.deployments and not self.unattributed


def default_period(today: date) -> Period:
    """The month so far."""
    return Period(today.replace(day=1), today)


def cost_scope(viewer: User, user: User | None, period: Period, module: str | None = None) -> CostScope:
    """The costs ``viewer`` may see, checked.

    Raises:
        NotAllowed: someone neither finance nor admin asks for another user's costs, or everyone's.
        InvalidInput: an open or too long period.
    """
    finance = has_any(viewer, (FINANCE,))
    if user is None and not finance:
        user = viewer
    if user is not None and user.id != viewer.id and not finance:
        raise NotAllowed("Only finance and admins can see another user's project costs.",
                         hint="Run `/rad costs` for your own.")
    if period.first is None or period.last is None:
        raise InvalidInput("Give both days of the period, or none for this month so far.",
                           hint="Like `/rad costs 2026-01-01 2026-01-31` (UTC, both days included).")
    if (period.last - period.first).days + 1 > MAX_DAYS:
        raise InvalidInput(f"A cost report covers at most {MAX_DAYS} days.", hint="Ask for a shorter period.")
    name = module.strip().lower().replace("_", "-") if module and module.strip() else None
    return CostScope(viewer, user, period, name)


def _where(query: Any, scope: CostScope, *, attributed: bool = True) -> Any:
    r = CostRow
    if scope.period.start is not None:
        query = query.where(r.usage_start >= scope.period.start)
    if scope.period.end is not None:
        query = query.where(r.usage_start < scope.period.end)
    if not attributed:
        return query.where(r.deployment_id.is_(None))
    query = query.where(r.deployment_id.is_not(None))
    if scope.user is not None:
        query = query.where(r.user_id == scope.user.id)
    if scope.module is not None:
        query = query.where(r.deployment_id.in_(select(Deployment.id).where(
            func.replace(func.lower(Deployment.module_name), "_", "-") == scope.module)))
    return query


def build(session: Session, scope: CostScope) -> CostReport:
    """The report of ``scope``: one grouped scan of the period (two with the unattributed rows)."""
    r = CostRow
    rates = dict(session.execute(select(CostDebit.id, CostDebit.rate)).all())
    money = (func.sum(r.cost_nanos), func.sum(r.credits_nanos), func.count(r.id))
    per: dict[tuple[Any, str], Line] = defaultdict(Line)
    by_service: dict[tuple[str, str], Line] = defaultdict(Line)
    grouped = _where(select(r.deployment_id, r.service, r.currency, r.debit_id, *money), scope) \
        .group_by(r.deployment_id, r.service, r.currency, r.debit_id)
    for dep_id, service, currency, debit_id, cost, credits, count in session.execute(grouped):
        for line in (per[(dep_id, currency)], by_service[(service, currency)]):
            line.cost, line.credits, line.rows = line.cost + int(cost), line.credits + int(credits), line.rows + count
        if debit_id is not None:
            per[(dep_id, currency)].debited += credits_for(int(cost) + int(credits), Decimal(rates[debit_id]))
    info = {d.id: d for d in session.scalars(select(Deployment).where(Deployment.id.in_({k[0] for k in per})))}
    owners = dict(session.execute(select(User.id, User.display_name).where(
        User.id.in_({d.owner_id for d in info.values()}))).all())
    deployments = sorted((DeploymentCost(info[dep].short_id, info[dep].module_name, owners.get(info[dep].owner_id, ""),
                                         str((info[dep].outputs or {}).get("project_id") or ""), currency, line)
                          for (dep, currency), line in per.items()), key=lambda d: (-d.line.net, d.short_id))
    services = [(service, currency, line) for (service, currency), line in by_service.items()]
    services.sort(key=lambda s: (-s[2].net, s[0]))
    unattributed: dict[str, Line] = {}
    if scope.everyone and scope.module is None:
        for currency, cost, credits, count in session.execute(
                _where(select(r.currency, *money), scope, attributed=False).group_by(r.currency)):
            unattributed[currency] = Line(int(cost), int(credits), rows=count)
    totals: dict[str, Line] = defaultdict(Line)
    for d in deployments:
        t = totals[d.currency]
        t.cost, t.credits, t.rows, t.debited = (t.cost + d.line.cost, t.credits + d.line.credits,
                                                t.rows + d.line.rows, t.debited + d.line.debited)
    return CostReport(scope, deployments, services, unattributed, dict(totals))


def cost_to_date(session: Session, deployment: Deployment) -> dict[str, int]:
    """A deployment's net cost so far, by currency (nanos); empty when nothing was billed."""
    query = select(CostRow.currency, func.sum(CostRow.cost_nanos + CostRow.credits_nanos)).where(
        CostRow.deployment_id == deployment.id).group_by(CostRow.currency)
    return {currency: int(net) for currency, net in session.execute(query)}


def _day(session: Session, scope: CostScope) -> Any:
    """The usage start's UTC day (``YYYY-MM-DD``) or, for long periods, month (``YYYY-MM``), in SQL."""
    first, last = scope.period.first, scope.period.last
    daily = first is not None and last is not None and (last - first).days < DAILY_UP_TO
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", CostRow.usage_start), "YYYY-MM-DD" if daily else "YYYY-MM")
    return func.substr(CostRow.usage_start, 1, 10 if daily else 7)


def csv_lines(session: Session, scope: CostScope) -> Iterator[tuple[Any, ...]]:
    """The CSV's lines (after the header): rows summed by day (or month), deployment, service and SKU, oldest first.

    The rows are summed first and the deployments' names joined to the sums, so the database sorts groups, not rows.
    """
    r = CostRow
    day = _day(session, scope)
    names: dict[int, str] = {}
    sums = (r.currency, func.sum(r.cost_nanos), func.sum(r.credits_nanos), func.count(r.id))
    grouped = _where(select(day.label("day"), r.deployment_id, r.user_id, r.project_id, r.service, r.sku, *sums),
                     scope).group_by(day, r.deployment_id, r.user_id, r.project_id, r.service, r.sku, r.currency) \
        .subquery()
    g = grouped.c
    attributed = select(g.day, Deployment.short_id, Deployment.module_name, *list(g)[2:]) \
        .join(Deployment, Deployment.id == g.deployment_id).order_by(g.day, g.project_id, g.service, g.sku)
    queries = [attributed]
    if scope.everyone and scope.module is None:
        queries.append(_where(select(day, r.label_deployment, r.label_deployment, r.user_id, r.project_id, r.service,
                                     r.sku, *sums), scope, attributed=False)
                       .group_by(day, r.label_deployment, r.user_id, r.project_id, r.service, r.sku, r.currency)
                       .order_by(day, r.project_id, r.service, r.sku))
    for query in queries:
        for row in session.execute(query).yield_per(2000):
            day_text, short, module, user_id, *rest = tuple(row)
            if user_id is None:
                yield (day_text, "", "", "", *rest)
                continue
            if user_id not in names:
                names[user_id] = session.get_one(User, user_id).display_name
            yield (day_text, short, module, names[user_id], *rest)


def to_csv(session: Session, scope: CostScope) -> bytes:
    """The report's rows as UTF-8 CSV (:data:`CSV_HEADER`); free text is written inert for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for day, short, module, owner, project, service, sku, currency, cost, credits, count in csv_lines(session, scope):
        writer.writerow((str(day), short, inert(module or ""), inert(owner or ""), inert(project),
                         inert(service), inert(sku), currency, plain_amount(int(cost)), plain_amount(int(credits)),
                         plain_amount(int(cost) + int(credits)), count))
    return out.getvalue().encode()


def csv_name(scope: CostScope, who: str) -> str:
    """``costs-<who>-<from>-<to>.csv`` with a safe slug."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in who.lower()).strip("-")[:40] or "all"
    return f"costs-{slug}-{scope.period.label('first')}-{scope.period.label('last')}.csv"
