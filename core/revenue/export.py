"""The CSV of a revenue report's full filtered set, oldest first, in the credit history's CSV style."""

from __future__ import annotations

import csv
import io

from sqlalchemy.orm import Session

from core.credits.history import inert, iso_utc, plain
from core.revenue import report
from core.revenue.money import ZERO
from core.revenue.scope import RevenueScope

PARTNER_HEADER = ("id", "date", "module", "deployment", "credit_cost", "purchased_credits", "share_pct",
                  "true_revenue", "your_share", "currency")
FINANCE_HEADER = ("id", "date", "module", "deployment", "deployer", "partner", "credit_cost", "purchased_credits",
                  "share_pct", "true_revenue", "partner_share", "currency")
"""One header row each; dates are ISO-8601 UTC, amounts exact decimals (not rounded), names kept inert."""


def header(scope: RevenueScope) -> tuple[str, ...]:
    """The CSV's header row for the viewer of ``scope``."""
    return PARTNER_HEADER if scope.partner_view else FINANCE_HEADER


def to_csv(session: Session, scope: RevenueScope, currency: str) -> bytes:
    """Every paying SPEND of ``scope`` as UTF-8 CSV; partners get no deployer column (their users' privacy).

    Module and user names are written :func:`~core.credits.history.inert` (a leading ``=`` gets a ``'``).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header(scope))
    money = currency.upper()
    if scope.partner_view:
        for row in report.rows(session, scope):
            writer.writerow((row.id, iso_utc(row.created_at), inert(row.module), row.deployment,
                             plain(row.credit_cost), plain(row.purchased), plain(row.share_pct or ZERO),
                             plain(row.revenue), plain(row.share), money))
        return out.getvalue().encode()
    for row in report.rows(session, scope):
        writer.writerow((row.id, iso_utc(row.created_at), inert(row.module), row.deployment, inert(row.deployer),
                         inert(row.partner), plain(row.credit_cost), plain(row.purchased),
                         plain(row.share_pct or ZERO), plain(row.revenue), plain(row.share), money))
    return out.getvalue().encode()


def csv_name(scope: RevenueScope) -> str:
    """``revenue-<first>-<last>.csv`` (``-<module>`` when filtered by one)."""
    module = "".join(c if c.isalnum() or c in "-_" else "-" for c in (scope.module or ""))[:40]
    return f"revenue-{scope.first.isoformat()}-{scope.last.isoformat()}{'-' + module if module else ''}.csv"
