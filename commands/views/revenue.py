"""How revenue reports and digests read in chat: headline, payouts, rows, and their chart and CSV files."""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from commands.ui.model import Attachment
from core.charts.render import bar_chart
from core.credits.amounts import credit_count, format_credits
from core.revenue.export import csv_name
from core.revenue.money import show_money
from core.revenue.report import Line, Report, Row
from core.wording import count

TOP = 5
"""Modules (and partners) named in a summary; the chart shows more, the CSV every row."""


def chart(report: Report, title: str) -> Attachment | None:
    """A bar chart of the report's modules (the partner's share, or true revenue for finance); None if empty."""
    def value(line: Line) -> Decimal:
        return line.share if report.scope.partner_view else line.revenue

    lines = [line for line in report.modules if value(line) > 0]
    what = "your share" if report.scope.partner_view else "true revenue"
    png = bar_chart(title, [line.name for line in lines], [value(line) for line in lines],
                    unit=report.currency.upper(),
                    subtitle=f"{report.scope.describe()} (UTC) · {what} by module · "
                             f"total {show_money(report.shown_total, report.currency)}")
    if png is None:
        return None
    return Attachment(f"revenue-{report.scope.first.isoformat()}-{report.scope.last.isoformat()}.png", png,
                      "image/png", title)


GZIP_OVER = 8 * 1024 * 1024
"""A CSV larger than this goes gzipped: Discord takes at most 10 MiB a file from a bot (Slack far more)."""
UPLOAD_MAX = 9 * 1024 * 1024
"""A file larger than this, even gzipped, is not sent: the reply says to narrow the period instead."""
TOO_LARGE = ("_The CSV of these {rows} rows is too large to send in chat, even compressed: ask for a shorter "
             "period or one module or partner._")
CSV_NOW_ROWS = 100_000
"""A report of at most this many rows gets its CSV with the reply (a few hundred milliseconds to write); a
larger one gets it in a direct message, written in the background, so the reply is never held up."""
CSV_LATER = ("_The CSV of these {rows} rows is being written: it comes to you in a direct message in a "
             "moment._")


def csv_attachment(report: Report, content: bytes) -> Attachment | None:
    """The CSV of the report's full filtered set; gzipped (``.csv.gz``) when large, None when still too large."""
    if len(content) <= GZIP_OVER:
        return Attachment(csv_name(report.scope), content, "text/csv", "Revenue rows")
    packed = gzip.compress(content, compresslevel=6, mtime=0)
    if len(packed) > UPLOAD_MAX:
        return None
    return Attachment(csv_name(report.scope) + ".gz", packed, "application/gzip", "Revenue rows (gzipped CSV)")


def too_large(report: Report) -> str:
    """The note that replaces a CSV too large for chat."""
    return TOO_LARGE.format(rows=f"{report.total.deployments:,}")


def csv_later(report: Report) -> str:
    """The note saying the report's CSV follows in a direct message."""
    return CSV_LATER.format(rows=f"{report.total.deployments:,}")


def csv_message(report: Report, table: Attachment | None) -> str:
    """The direct message that carries a report's CSV written in the background (or says it is too large)."""
    what = f"The CSV of your revenue report for {report.scope.describe()} (UTC)"
    if report.scope.module:
        what += f", module `{report.scope.module}`"
    if report.scope.partner is not None and not report.scope.partner_view:
        what += f", partner {report.scope.partner.display_name}"
    if table is None:
        return f"{what}: {report.total.deployments:,} rows.\n{too_large(report)}"
    return f"{what}: {report.total.deployments:,} rows, oldest first."


def totals_lines(report: Report) -> list[str]:
    """The headline numbers of a report, as the viewer may see them."""
    total, money = report.total, report.currency
    paying = count(total.deployments, "paying deployment")
    if report.scope.partner_view:
        return [f"Your share: *{show_money(total.share, money)}* from {paying} "
                f"({show_money(total.revenue, money)} true revenue, {credit_count(total.purchased, 'purchased')})."]
    return [f"True revenue: *{show_money(total.revenue, money)}* from {paying} "
            f"({credit_count(total.purchased, 'purchased')} at {format_credits(report.credits_per_unit)} "
            f"credits per {money.upper()}).",
            f"Partner shares: *{show_money(total.share, money)}*; the platform keeps "
            f"{show_money(total.revenue - total.share, money)}."]


def module_lines(report: Report, limit: int = TOP) -> list[str]:
    """The top modules, one line each."""
    money = report.currency
    shown = report.modules[:limit]
    lines = []
    for line in shown:
        amount = line.share if report.scope.partner_view else line.revenue
        extra = "" if report.scope.partner_view else f" (partner share {show_money(line.share, money)})"
        lines.append(f"• `{line.name}`: {show_money(amount, money)}{extra}, {count(line.deployments, 'deployment')}")
    if len(report.modules) > limit:
        lines.append(f"• …and {count(len(report.modules) - limit, 'more module')} (in the chart and the CSV)")
    return lines


def payout_lines(report: Report) -> list[str]:
    """Per partner: paying deployments, the purchased credits behind them, the amount due."""
    return [f"• {line.name}: {count(line.deployments, 'paying deployment')}, "
            f"{credit_count(line.purchased, 'purchased')}, due *{show_money(line.share, report.currency)}*"
            for line in report.payouts]


def row_line(row: Row, report: Report, deployer: str) -> str:
    """One paying SPEND: date, module, deployer, credit cost, true revenue and the share."""
    money = report.currency
    return (f"{_day(row.created_at)} · `{row.module}` · {deployer} · {credit_count(row.credit_cost)} · "
            f"true revenue {show_money(row.revenue, money)} · "
            f"{'your' if report.scope.partner_view else 'partner'} share {show_money(row.share, money)}")


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def top_partner_lines(report: Report, names: Mapping[int, str] | None = None, limit: int = TOP) -> list[str]:
    """The partners owed the most, one line each (the digest's list)."""
    lines: list[Line] = report.payouts[:limit]
    return [f"• {(names or {}).get(line.partner_id or 0, line.name)}: "
            f"{show_money(line.share, report.currency)} from {count(line.deployments, 'deployment')}"
            for line in lines]
