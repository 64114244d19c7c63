"""Revenue reports: totals, per-module lines and the payout summary, summed in the database.

Sums are taken in the database over exact integers (ten-thousandths of a credit; share percentages in
hundredths), so SQLite, whose decimals are floats, sums exactly too; the division by ``credits_per_unit`` and by
100 happens here in :class:`~decimal.Decimal`. Only SPEND rows with a purchased part count: awarded credits earn
nothing. The rows read the ``(kind, created_at)`` index, or ``(partner_id, created_at)`` for one partner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, and_, case, cast, func, select
from sqlalchemy.orm import Session, aliased

from core.revenue.money import HUNDRED, ZERO, partner_share, true_revenue
from core.revenue.scope import RevenueScope
from core.settings.platform import credits_per_unit, currency
from storage.models import CreditTransaction, User

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


def _purchased_units() -> ColumnElement[Any]:
    return cast(func.round(T.purchased_part * 10_000), BigInteger)


def _share_units() -> ColumnElement[Any]:
    owed = and_(T.partner_id.is_not(None), T.user_id != T.partner_id, T.revenue_share_pct.is_not(None))
    return case((owed, cast(func.round(T.purchased_part * 10_000 * T.revenue_share_pct * 100), BigInteger)),
                else_=0)


def where(query: Any, scope: RevenueScope) -> Any:
    """The rows of ``scope``: paying SPENDs in [start, end), of the module and partner asked for."""
    query = query.where(T.kind == "SPEND", T.created_at >= scope.start, T.created_at < scope.end,
                        T.purchased_part > 0)
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

    One grouped query (by module and partner) gives all three: the rows are read once.
    """
    per_unit = credits_per_unit(session)
    sums = (func.count(T.id), func.sum(_purchased_units()), func.sum(_share_units()))
    groups = [(str(module), pid, int(n or 0), int(p or 0), int(s or 0)) for module, pid, n, p, s in
              session.execute(where(select(T.module, T.partner_id, *sums), scope).group_by(T.module, T.partner_id))]
    total = _line("Total", *_summed(groups, lambda g: True)[None], per_unit)
    by_module = _summed(groups, lambda g: True, key=0)
    modules = [_line(str(name), *units, per_unit) for name, units in by_module.items()]
    payouts: list[Line] = []
    if not scope.partner_view:
        by_partner = _summed(groups, lambda g: g[1] is not None, key=1)
        names = _names(session, [int(pid) for pid in by_partner if pid is not None])
        payouts = [_line(names.get(int(pid), f"user {pid}"), *units, per_unit, partner_id=int(pid))
                   for pid, units in by_partner.items() if pid is not None]
        payouts.sort(key=lambda line: (-line.share, line.name))
    key = (lambda line: (-line.share, line.name)) if scope.partner_view else (lambda line: (-line.revenue, line.name))
    modules.sort(key=key)
    return Report(scope, currency(session), per_unit, total, modules, payouts)


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
