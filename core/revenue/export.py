"""The CSV of a revenue report's full filtered set, oldest first, in the credit history's CSV style.

On PostgreSQL the database writes the CSV itself (``COPY (SELECT ...) TO STDOUT``): tens of thousands of rows
in tens of milliseconds, where formatting them in Python took seconds. Both paths write the same bytes (the
tests compare them): ISO-8601 UTC dates, amounts without trailing zeros, inert names. The per-row revenue and
share are quotients; when ``credits_per_unit`` does not divide them evenly (3 credits per unit...), the row
carries PostgreSQL's numeric division (at least 16 significant digits) there and 40 digits in Python. Report
totals never depend on it: they are summed exactly from integers (``core.revenue.report``).
"""

from __future__ import annotations

import csv
import io
import typing
from typing import Any

from sqlalchemy import Integer, case, cast, func, literal, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from core.credits.history import FORMULA_STARTS, inert, iso_utc, plain
from core.revenue import report
from core.revenue.money import ZERO
from core.revenue.scope import RevenueScope
from core.settings.platform import credits_per_unit
from storage.models import CreditTransaction, User

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
    if session.get_bind().dialect.name == "postgresql":
        return copied_csv(session, scope, currency)
    return python_csv(session, scope, currency)


def python_csv(session: Session, scope: RevenueScope, currency: str) -> bytes:
    """:func:`to_csv` written row by row in Python (SQLite, and the reference for the PostgreSQL path)."""
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


def copied_csv(session: Session, scope: RevenueScope, currency: str) -> bytes:
    """:func:`to_csv` written by PostgreSQL: ``COPY`` of one SELECT (its literals quoted by SQLAlchemy)."""
    t = CreditTransaction
    deployer, partner = aliased(User), aliased(User)
    per_unit = credits_per_unit(session)
    revenue = func.trim_scale(t.purchased_part / literal(per_unit))
    owed = (t.partner_id.is_not(None)) & (t.user_id != t.partner_id) & (t.revenue_share_pct.is_not(None))
    share = case((owed, func.trim_scale(t.purchased_part * t.revenue_share_pct / literal(per_unit * 100))),
                 else_=literal(0))
    columns: list[Any] = [t.id, _iso(t.created_at), _inert(t.module), func.nullif(t.deployment_ref, "")]
    if not scope.partner_view:
        columns += [_inert(deployer.display_name), _inert(partner.display_name)]
    columns += [func.trim_scale(t.amount), func.trim_scale(t.purchased_part),
                func.trim_scale(func.coalesce(t.revenue_share_pct, 0)), revenue, share,
                literal(currency.upper())]
    query = report.where(select(*columns).join(deployer, deployer.id == t.user_id)
                         .outerjoin(partner, partner.id == t.partner_id), scope).order_by(t.created_at, t.id)
    # the named paramstyle keeps a literal % as it is (psycopg's format style would double it)
    dialect: Any = typing.cast(Any, postgresql.dialect)(paramstyle="named")
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    out = io.BytesIO()
    out.write((",".join(header(scope)) + "\n").encode())
    raw = session.connection().connection.driver_connection
    assert raw is not None, "a live psycopg connection"
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as copy:
        for chunk in copy:
            out.write(bytes(chunk))
    return out.getvalue()


def _iso(column: Any) -> Any:
    utc = func.timezone("UTC", column)
    whole = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
    micro = case((cast(func.extract("microseconds", column), Integer) % 1_000_000 != 0, func.to_char(utc, ".US")),
                 else_=literal(""))
    return whole + micro + literal("Z")


def _inert(column: Any) -> Any:
    text = func.coalesce(column, "")
    first = func.substr(text, 1, 1)
    return func.nullif(case((first.in_(FORMULA_STARTS), literal("'") + text), else_=text), "")


def csv_name(scope: RevenueScope) -> str:
    """``revenue-<first>-<last>.csv`` (``-<module>`` when filtered by one)."""
    module = "".join(c if c.isalnum() or c in "-_" else "-" for c in (scope.module or ""))[:40]
    return f"revenue-{scope.first.isoformat()}-{scope.last.isoformat()}{'-' + module if module else ''}.csv"
