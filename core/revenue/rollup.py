"""The daily revenue rollup: paying SPENDs summed per UTC day, kept in the same transaction as each SPEND.

A report over a year of SPENDs would otherwise read hundreds of thousands of ledger rows; the rollup holds one
row per (UTC day, module, partner, snapshotted share, own-module flag). :func:`count_spend` adds one SPEND to
its day, in the SPEND's own transaction (an upsert, so concurrent SPENDs of one module add up);
:func:`rebuild` sums the ledger again for a range of days (rows written outside the services, a repair).
Both compute the units in the database with the same expressions as the row-level report
(:func:`purchased_units`, :func:`share_units`), so the rollup agrees with the ledger to the last unit.
Only whole UTC days are rolled up: a period starting or ending inside a day reads that day's rows
(``core.revenue.report``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, and_, case, cast, delete, func, select
from sqlalchemy.orm import Session

from storage.db import dialect_insert
from storage.models import CreditTransaction, RevenueDay
from storage.models.revenue import NO_PARTNER, NO_SHARE

T = CreditTransaction
KEY = ("day", "module", "partner_id", "share_bp", "own_module")
SUMS = ("deployments", "purchased_units", "share_units")


def purchased_units() -> Any:
    """A SPEND's purchased part in ten-thousandths of a credit (an exact integer)."""
    return cast(func.round(T.purchased_part * 10_000), BigInteger)


def share_units() -> Any:
    """A SPEND's purchased units times its snapshotted share in hundredths of a percent; 0 when none is owed.

    Nothing is owed for a platform module, for the partner's own deployment, or without a snapshotted share.
    """
    owed = and_(T.partner_id.is_not(None), T.user_id != T.partner_id, T.revenue_share_pct.is_not(None))
    return case((owed, cast(func.round(T.purchased_part * 10_000 * T.revenue_share_pct * 100), BigInteger)),
                else_=0)


def paying() -> tuple[Any, ...]:
    """The rows revenue counts: SPENDs with a purchased part (awarded credits earn nothing)."""
    return T.kind == "SPEND", T.purchased_part > 0


def utc_day(session: Session) -> Any:
    """The UTC day of a ledger row's ``created_at``, in SQL (SQLite keeps it as UTC text)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", T.created_at), Date)
    return func.date(T.created_at)


def _grouped(session: Session, *conditions: Any) -> Any:
    day = utc_day(session)
    partner = func.coalesce(T.partner_id, NO_PARTNER)
    share_bp = func.coalesce(cast(func.round(T.revenue_share_pct * 100), Integer), NO_SHARE)
    own = case((and_(T.partner_id.is_not(None), T.user_id == T.partner_id), True), else_=False)
    return (select(day, T.module, partner, share_bp, own, func.count(T.id), func.sum(purchased_units()),
                   func.sum(share_units()))
            .where(*paying(), *conditions).group_by(day, T.module, partner, share_bp, own))


def _add(session: Session, grouped: Any) -> None:
    """Add the sums of ``grouped`` to the rollup, creating each day's row the first time."""
    statement = dialect_insert(session)(RevenueDay).from_select([*KEY, *SUMS], grouped)
    excluded = statement.excluded
    session.execute(statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: getattr(RevenueDay, name) + getattr(excluded, name) for name in SUMS}))


def count_spend(session: Session, row: CreditTransaction) -> None:
    """Add the SPEND ``row`` (already flushed) to its day's rollup; nothing for a SPEND that brought no revenue."""
    if row.kind != "SPEND" or not row.purchased_part or row.purchased_part <= 0:
        return
    _add(session, _grouped(session, T.id == row.id))


def rebuild(session: Session, first: date | None = None, end: date | None = None) -> int:
    """Sum the ledger again into the rollup for the days [first, end) (every day by default); the rows written.

    Run in one unit of work: SPENDs written meanwhile by other transactions wait on nothing and may be missed
    or counted twice, so rebuild days in the past or while nothing is deployed.
    """
    day = utc_day(session)
    rollup: list[Any] = []
    ledger: list[Any] = []
    if first is not None:
        rollup.append(RevenueDay.day >= first)
        ledger.append(day >= _day_value(session, first))
    if end is not None:
        rollup.append(RevenueDay.day < end)
        ledger.append(day < _day_value(session, end))
    session.execute(delete(RevenueDay).where(*rollup))
    _add(session, _grouped(session, *ledger))
    return int(session.scalar(select(func.count()).select_from(RevenueDay).where(*rollup)) or 0)


def _day_value(session: Session, day: date) -> Any:
    return day if session.get_bind().dialect.name == "postgresql" else day.isoformat()
