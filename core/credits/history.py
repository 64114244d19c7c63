"""A user's credit history: ledger rows filtered by period and deployment, paged, and exported as CSV.

Rows are shown as recorded: a HOLD changes only the held column (``held_delta``), never ``balance_after``,
which is always awarded + purchased after the row. The CSV holds the whole filtered set, oldest first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core.accounts.roles import FINANCE, has_any
from core.dates import Period
from core.deployments import service as deployments
from core.errors import NotAllowed, NotFound
from storage.models import CreditTransaction, User

CSV_HEADER = ("id", "date", "type", "amount", "awarded_delta", "purchased_delta", "held_delta", "deployment",
              "module", "description", "balance_after")
"""The CSV's one header row; dates are ISO-8601 UTC, amounts plain decimal strings."""
Q = TypeVar("Q", bound=Select[Any])
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a cell starts that spreadsheets read as a formula (reasons are typed by people)."""


@dataclass(frozen=True)
class HistoryFilter:
    """Whose rows, which days, which deployment (its short id); made by :func:`history_filter` only."""

    user: User
    period: Period
    deployment: str | None = None


def history_filter(session: Session, viewer: User, user: User, period: Period,
                   deployment: str | None = None) -> HistoryFilter:
    """The filter for ``viewer`` reading ``user``'s history, checked.

    Raises:
        NotAllowed: a viewer who is neither finance nor an admin asks for someone else's history.
        NotFound: the deployment does not exist, the viewer may not see it, or it is not ``user``'s.
    """
    if viewer.id != user.id and not has_any(viewer, (FINANCE,)):
        raise NotAllowed("Only finance and admins can see another user's credit history.",
                         hint="Run `/rad credits history` for your own.")
    short = None
    if deployment is not None and deployment.strip():
        found = deployments.find(session, viewer, deployment)
        if found.owner_id != user.id:
            raise NotFound(f"Deployment `{found.short_id}` is not {user.display_name}'s.",
                           hint="Run `/rad deployments` to see their deployment ids.")
        short = found.short_id
    return HistoryFilter(user, period, short)


def count(session: Session, wanted: HistoryFilter) -> int:
    """How many rows match."""
    return int(session.scalar(_where(select(func.count(CreditTransaction.id)), wanted)) or 0)


def page(session: Session, wanted: HistoryFilter, offset: int, limit: int) -> list[CreditTransaction]:
    """The matching rows from ``offset``, newest first."""
    query = _where(select(CreditTransaction), wanted).order_by(CreditTransaction.id.desc())
    return list(session.scalars(query.offset(offset).limit(limit)))


def rows(session: Session, wanted: HistoryFilter) -> Iterator[CreditTransaction]:
    """Every matching row, oldest first, read in batches."""
    query = _where(select(CreditTransaction), wanted).order_by(CreditTransaction.id)
    yield from session.scalars(query.execution_options(yield_per=500))


def to_csv(session: Session, wanted: HistoryFilter) -> bytes:
    """The whole filtered history as UTF-8 CSV: one header row (:data:`CSV_HEADER`), one line per row.

    Reasons and module names are written :func:`inert`, so a reason such as ``=HYPERLINK(...)`` stays text.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    t = CreditTransaction
    columns = cast("Select[Any]", select(t.id, t.created_at, t.kind, t.amount, t.awarded_delta, t.purchased_delta,
                                         t.held_delta, t.deployment_ref, t.module, t.description, t.balance_after))
    # plain rows, no ORM objects: a CSV of thousands of rows in a fraction of the time
    query = _where(columns, wanted).order_by(t.id).execution_options(yield_per=1000)
    for (row_id, created_at, kind, amount, awarded, purchased, held, deployment, module, description,
         balance) in session.execute(query):
        writer.writerow((row_id, iso_utc(created_at), kind, plain(amount), plain(awarded), plain(purchased),
                         plain(held), deployment or "", inert(module), inert(description), plain(balance)))
    return out.getvalue().encode()


def csv_name(wanted: HistoryFilter, who: str) -> str:
    """``credits-<user>-<from>-<to>.csv``; an open side reads ``all``, the user is a safe slug."""
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in who.lower()).strip("-")[:40] or "user"
    return f"credits-{slug}-{wanted.period.label('first')}-{wanted.period.label('last')}.csv"


def inert(text: str) -> str:
    """Free text a spreadsheet will not run as a formula: a leading ``=``, ``+``, ``-``, ``@`` gets a ``'``."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def iso_utc(moment: datetime) -> str:
    """A timestamp as ISO-8601 in UTC with a ``Z``: ``2026-01-31T09:30:00Z`` (microseconds kept if any)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def plain(value: Decimal) -> str:
    """An exact decimal without exponent or trailing zeros: ``10``, ``12.5``, ``-3``, ``0``."""
    return "0" if value == 0 else f"{Decimal(value).normalize():f}"


def _where(query: Q, wanted: HistoryFilter) -> Q:
    t = CreditTransaction
    query = query.where(t.user_id == wanted.user.id)
    if wanted.period.start is not None:
        query = query.where(t.created_at >= wanted.period.start)
    if wanted.period.end is not None:
        query = query.where(t.created_at < wanted.period.end)
    if wanted.deployment is not None:
        query = query.where(t.deployment_ref == wanted.deployment)
    return query
