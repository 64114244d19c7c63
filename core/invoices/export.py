"""The month's invoices of every billed user as one CSV, for finance."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy.orm import Session

from core.costs.money import plain_amount
from core.credits.history import inert, plain
from core.invoices import numbering
from core.invoices.statement import billed_users, statement

CSV_HEADER = ("number", "user_id", "user", "month", "currency", "projects", "cost", "gcp_credits", "net_cost",
              "credits_debited")


def month_csv(session: Session, month: str) -> bytes:
    """One line per user and currency with costs in ``month``; each user's invoice is issued (numbered) first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for user in billed_users(session, month):
        found = statement(session, user, month)
        invoice = numbering.issue(session, user, month)
        for currency, total in sorted(found.totals.items()):
            projects = sum(1 for line in found.lines if line.currency == currency)
            writer.writerow((invoice.number, user.id, inert(user.display_name), month, currency, projects,
                             plain_amount(total.cost), plain_amount(total.credits), plain_amount(total.net),
                             plain(Decimal(total.debited))))
    return out.getvalue().encode()
