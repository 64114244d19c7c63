"""Revenue reports: totals, per-module lines and the payout summary, summed in the database.

Sums are taken in the database over exact integers (ten-thousandths of a credit; share percentages in
hundredths), so SQLite, whose decimals are floats, sums exactly too; the division by ``credits_per_unit`` and by
100 happens here in :class:`~decimal.Decimal`. Only SPEND rows with a purchased part count: awarded credits earn
nothing. Whole UTC days are read from the daily rollup (``core.revenue.rollup``: a few rows a day, whatever the
number of SPENDs); a period that starts or ends inside a day (a digest "so far") reads those hours' ledger rows.
The rows themselves read the ``(kind, created_at)`` index, or ``(partner_id, created_at)`` for one partner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from core.revenue.money import HUNDRED, ZERO, partner_share, true_revenue
from core.revenue.rollup import paying, purchased_units, share_units
from core.revenue.scope import RevenueScope
from core.settings.platform import credits_per_unit, currency
from storage.models import CreditTransaction, RevenueDay, User
from storage.models.revenue import NO_PARTNER

UNITS = Decimal(10_000)
"""The ledger keeps four decimals: sums are taken over ``purchased_part × 10,000``."""
PCT_UNITS = Decimal(100)
"""Share percentages keep two decimals."""
T = CreditTransaction


@dataclass(frozen=True)
class Line:
    """One group of a report (a module, a partner, a day): paying deployments and what they brought."""

    name: str
    deployments: int
    purchased: Decimal
    revenue: Decimal
    share: Decimal
    partner_id: int | None = None


@dataclass(frozen=True)
class Report:
    """A whole report: its scope, the money settings it was computed with, totals and groups."""

    scope: RevenueScope
    currency: str
    credits_per_unit: Decimal
    total: Line
    modules: list[Line] = field(default_factory=list)
    payouts: list[Line] = field(default_factory=list)

    @property
    def shown_total(self) -> Decimal:
        """What the viewer's headline is: the share for a partner, true revenue for finance."""
        return self.total.share if self.scope.partner_view else self.total.revenue


@dataclass(frozen=True)
class Row:
    """One paying SPEND as a report lists it."""

    id: int
    created_at: datetime
    module: str
    deployment: str
    deployer_id: int
    partner_id: int | None
    credit_cost: Decimal
    purchased: Decimal
    share_pct: Decimal | None
    revenue: Decimal
    share: Decimal
    deployer: str = ""
    partner: str = ""


def where(query: Any, scope: RevenueScope, start: datetime | None = None, end: datetime | None = None) -> Any:
    """The rows of ``scope``: paying SPENDs in [start, end), of the module and partner asked for.

    ``start`` and ``end`` narrow the scope's own period (the partial days at its edges).
    """
    query = query.where(*paying(), T.created_at >= (start or scope.start), T.created_at < (end or scope.end))
    if scope.partner is not None:
        query = query.where(T.partner_id == scope.partner.id)
        if scope.partner_view:
            query = query.where(T.user_id != scope.partner.id)
    if scope.module is not None:
        query = query.where(T.module == scope.module)
    return query


def _line(name: str, count: Any, purchased_units: Any, share_units: Any, per_unit: Decimal,
          partner_id: int | None = None) -> Line:
    purchased = Decimal(int(purchased_units or 0)) / UNITS
    revenue = true_revenue(purchased, per_unit)
    share = true_revenue(Decimal(int(share_units or 0)) / UNITS / PCT_UNITS / HUNDRED, per_unit)
    return Line(name, int(count or 0), purchased, revenue, share, partner_id)


def build(session: Session, scope: RevenueScope) -> Report:
    """The report of ``scope``: totals, modules by revenue (largest first) and, for finance, payouts.

    One set of (module, partner) groups (:func:`groups`) gives all three.
    """
    per_unit = credits_per_unit(session)
    found = groups(session, scope)
    total = _line("Total", *_summed(found, lambda g: True)[None], per_unit)
    by_module = _summed(found, lambda g: True, key=0)
    modules = [_line(str(name), *units, per_unit) for name, units in by_module.items()]
    payouts: list[Line] = []
    if not scope.partner_view:
        by_partner = _summed(found, lambda g: g[1] is not None, key=1)
        names = _names(session, [int(pid) for pid in by_partner if pid is not None])
        payouts = [_line(names.get(int(pid), f"user {pid}"), *units, per_unit, partner_id=int(pid))
                   for pid, units in by_partner.items() if pid is not None]
        payouts.sort(key=lambda line: (-line.share, line.name))
    key = (lambda line: (-line.share, line.name)) if scope.partner_view else (lambda line: (-line.revenue, line.name))
    modules.sort(key=key)
    return Report(scope, currency(session), per_unit, total, modules, payouts)


def groups(session: Session, scope: RevenueScope) -> list[Group]:
    """The (module, partner) sums of ``scope``: its whole UTC days from the rollup, partial days from the rows."""
    first = _midnight(scope.start, up=True)
    last = _midnight(scope.end, up=False)
    if first >= last:  # inside one day: the rows only
        return row_groups(session, scope)
    found = day_groups(session, scope, first.date(), last.date())
    for start, end in ((scope.start, first), (last, scope.end)):
        if start < end:
            found += row_groups(session, scope, start, end)
    return _merged(found)


def row_groups(session: Session, scope: RevenueScope, start: datetime | None = None,
               end: datetime | None = None) -> list[Group]:
    """The (module, partner) sums of ``scope``'s ledger rows in [start, end) (its whole period by default)."""
    sums = (func.count(T.id), func.sum(purchased_units()), func.sum(share_units()))
    query = where(select(T.module, T.partner_id, *sums), scope, start, end).group_by(T.module, T.partner_id)
    return [(str(module), None if pid is None else int(pid), int(n or 0), int(p or 0), int(s or 0))
            for module, pid, n, p, s in session.execute(query)]


def day_groups(session: Session, scope: RevenueScope, first: date, end: date) -> list[Group]:
    """The (module, partner) sums of ``scope``'s rollup rows for the UTC days [first, end)."""
    r = RevenueDay
    query = select(r.module, r.partner_id, func.sum(r.deployments), func.sum(r.purchased_units),
                   func.sum(r.share_units)).where(r.day >= first, r.day < end)
    if scope.partner is not None:
        query = query.where(r.partner_id == scope.partner.id)
        if scope.partner_view:
            query = query.where(r.own_module.is_(False))
    if scope.module is not None:
        query = query.where(r.module == scope.module)
    return [(str(module), None if pid == NO_PARTNER else int(pid), int(n or 0), int(p or 0), int(s or 0))
            for module, pid, n, p, s in session.execute(query.group_by(r.module, r.partner_id))]


def _midnight(moment: datetime, *, up: bool) -> datetime:
    """The UTC midnight at or before ``moment`` (at or after it with ``up``)."""
    utc = moment.astimezone(UTC)
    day = datetime.combine(utc.date(), time(), UTC)
    return day + timedelta(days=1) if up and day < utc else day


def _merged(found: list[Group]) -> list[Group]:
    sums: dict[tuple[str, int | None], tuple[int, int, int]] = {}
    for module, pid, n, p, s in found:
        had = sums.get((module, pid), (0, 0, 0))
        sums[(module, pid)] = (had[0] + n, had[1] + p, had[2] + s)
    return [(module, pid, *units) for (module, pid), units in sums.items()]


Group = tuple[str, int | None, int, int, int]
"""One (module, partner) group: its name, partner id, count, purchased units and share units."""


def _summed(groups: list[Group], keep: Callable[[Group], bool],
            key: int | None = None) -> dict[Any, tuple[int, int, int]]:
    """Sums of count, purchased and share units by ``groups[key]`` (everything under None without a key)."""
    found: dict[Any, tuple[int, int, int]] = {}
    for group in groups:
        if not keep(group):
            continue
        name = None if key is None else group[key]
        n, p, s = found.get(name, (0, 0, 0))
        found[name] = (n + group[2], p + group[3], s + group[4])
    if key is None and None not in found:
        found[None] = (0, 0, 0)
    return found


def rows(session: Session, scope: RevenueScope, *, newest_first: bool = False, offset: int = 0,
         limit: int | None = None) -> Iterator[Row]:
    """The paying SPENDs of ``scope`` with their revenue and share (oldest first unless ``newest_first``).

    Each row carries the deployer's and the partner's display names, joined in the same query.
    """
    per_unit = credits_per_unit(session)
    deployer, partner = aliased(User), aliased(User)
    query = where(select(T.id, T.created_at, T.module, T.deployment_ref, T.user_id, T.partner_id, T.amount,
                         T.purchased_part, T.revenue_share_pct, deployer.display_name, partner.display_name)
                  .join(deployer, deployer.id == T.user_id).outerjoin(partner, partner.id == T.partner_id), scope)
    query = query.order_by(T.created_at.desc(), T.id.desc()) if newest_first else query.order_by(T.created_at, T.id)
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    for rid, created, module, deployment, user_id, partner_id, amount, purchased, pct, who, whose in \
            session.execute(query.execution_options(yield_per=2000)):
        revenue = true_revenue(purchased, per_unit)
        share = partner_share(revenue, pct if partner_id is not None else None, own_module=user_id == partner_id)
        yield Row(rid, created, module, deployment or "", user_id, partner_id, amount, purchased or ZERO, pct,
                  revenue, share, who or "", whose or "")


def _names(session: Session, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {int(uid): str(name) for uid, name in
            session.execute(select(User.id, User.display_name).where(User.id.in_(ids)))}


def names(session: Session, ids: set[int]) -> dict[int, str]:
    """Display names of the users ``ids`` (deployers, partners) in one query."""
    return _names(session, sorted(ids))
