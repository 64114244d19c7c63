"""``/rad revenue [from] [to] [module] [<@partner>]``: true revenue and partner shares, a chart and a CSV.

A partner sees only their modules' rows and their share; finance and admins see every partner (or one), the
whole platform's true revenue and the payout summary. Rows are paged newest first, 10 a page; the paging
buttons carry only the two days, a partner id, the page and the module, and every click is checked again.
The CSV of every row comes with the reply up to :data:`~commands.views.revenue.CSV_NOW_ROWS` rows; a larger
one is written by the worker (``revenue.csv``, the viewer checked again) and sent in a direct message, so a
year of SPENDs never holds up the reply. The console, which has no direct messages, always gets it inline.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from commands.framework.context import Context, JobContext
from commands.framework.registry import ActionEvent, Param, action, command, job
from commands.handlers.notify import post_later
from commands.ui.model import Attachment, Reply
from commands.ui.paging import page_number, page_of
from commands.views import revenue as views
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey, describe
from core.dates import OPEN, Period, parse_day, parse_period
from core.errors import InvalidInput, NotFound, RadError
from core.jobs import queue as jobs
from core.revenue import export
from core.revenue import report as reports
from core.revenue.report import Report
from core.revenue.scope import RevenueScope, default_period, revenue_scope
from storage.models import User

PAGE_SIZE = 10
PAGE_ACTION = "revenue:page"
CSV_KIND = "revenue.csv"
DIRECT = ("slack", "discord")
"""The platforms where a CSV too large to write at once is sent later, in a direct message."""


@command("revenue", "True revenue and partner shares for a period, with a chart and a CSV",
         params=(Param("start", "word", "First day, YYYY-MM-DD (UTC)", required=False),
                 Param("end", "word", "Last day, YYYY-MM-DD (UTC), included", required=False),
                 Param("module", "word", "Only this module (`-` for every module)", required=False,
                       options="modules:names"),
                 Param("partner", "user", "Only this partner (finance and admins)", required=False)),
         details="True revenue is what deployments paid with purchased credits, divided by credits_per_unit; "
                 "a partner's share uses the percentage in force when each deployment was charged. Without "
                 "dates the report covers this month so far; with dates give both (at most 366 days, UTC, both "
                 "included). Partners see their own modules; finance and admins all partners, one partner, and "
                 "the payouts due. The CSV holds every row of the report, oldest first.")
def revenue(ctx: Context, start: str | None, end: str | None, module: str | None,
            partner: IdentityKey | None) -> Reply:
    """The first page of the report, its chart and its CSV."""
    period = default_period(ctx.now.date()) if start is None and end is None else parse_period(start, end)
    whom = identities.require_user(ctx.session, partner) if partner is not None else None
    wanted = None if module is None or module.strip() in OPEN else module
    scope = revenue_scope(ctx.session, ctx.actor, period, module=wanted, partner=whom)
    report = reports.build(ctx.session, scope)
    reply = report_page(ctx, report, 1)
    if not report.total.deployments:
        return reply
    files: list[Attachment] = []
    picture = views.chart(report, _title(report))
    if picture is not None:
        files.append(picture)
    if report.total.deployments > views.CSV_NOW_ROWS and ctx.platform in DIRECT:
        queue_csv(ctx, scope)
        text = f"{reply.text}\n{views.csv_later(report)}"
        return Reply(text=text, actions=reply.actions, attachments=tuple(files))
    table = views.csv_attachment(report, export.to_csv(ctx.session, scope, report.currency))
    text = reply.text if table is not None else f"{reply.text}\n{views.too_large(report)}"
    files += [table] if table is not None else []
    return Reply(text=text, actions=reply.actions, attachments=tuple(files))


def queue_csv(ctx: Context, scope: RevenueScope) -> None:
    """Queue the ``revenue.csv`` job that writes the scope's CSV and sends it to the caller directly."""
    partner = scope.partner.id if scope.partner is not None and not scope.partner_view else None
    jobs.enqueue(ctx.session, CSV_KIND, {
        "key": uuid.uuid4().hex, "viewer": ctx.actor.id, "first": scope.first.isoformat(),
        "last": scope.last.isoformat(), "module": scope.module, "partner": partner,
        "to": {"platform": ctx.caller.key.platform, "workspace": ctx.caller.key.workspace,
               "external_id": ctx.caller.key.external_id}})


@job(CSV_KIND)
def send_csv(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """Write a large report's CSV and hand it to the outbox for the viewer's direct messages (once: keyed).

    The viewer's right to the report is checked again: a role lost meanwhile gets the refusal, not the rows.
    """
    to = IdentityKey(str(payload["to"]["platform"]), str(payload["to"]["workspace"]),
                     str(payload["to"]["external_id"]))
    key = f"revenue-csv:{payload['key']}"
    viewer = ctx.session.get(User, int(payload["viewer"]))
    partner = ctx.session.get(User, int(payload["partner"])) if payload.get("partner") is not None else None
    try:
        if viewer is None or (payload.get("partner") is not None and partner is None):
            raise NotFound("That report is no longer available.", hint="Run the revenue command again.")
        period = Period(date.fromisoformat(str(payload["first"])), date.fromisoformat(str(payload["last"])))
        scope = revenue_scope(ctx.session, viewer, period, module=payload.get("module"), partner=partner)
    except RadError as refused:
        post_later(ctx.session, key, f"The CSV of your revenue report was not written: {refused}", user=to)
        return
    report = reports.build(ctx.session, scope)
    table = views.csv_attachment(report, export.to_csv(ctx.session, scope, report.currency))
    post_later(ctx.session, key, views.csv_message(report, table), user=to,
               attachments=(table,) if table is not None else ())


@action(PAGE_ACTION)
def revenue_page(ctx: Context, event: ActionEvent) -> Reply:
    """Previous / Next: that page of the same report, in place; the viewer is checked again."""
    first, last, partner_id, number, module = (event.value.split(":", 4) + [""] * 5)[:5]
    partner = None
    if partner_id:
        partner = ctx.session.get(User, int(partner_id)) if partner_id.isdigit() and len(partner_id) <= 9 else None
        if partner is None:
            raise InvalidInput("That report is no longer available.", hint=f"Run `{ctx.slash} revenue` again.")
    period = Period(parse_day(first, "start date"), parse_day(last, "end date"))
    scope = revenue_scope(ctx.session, ctx.actor, period, module=module or None, partner=partner)
    return report_page(ctx, reports.build(ctx.session, scope), page_number(number)).replacing()


def _title(report: Report) -> str:
    scope = report.scope
    if scope.partner_view:
        return "Your partner revenue"
    if scope.partner is not None:
        return f"Partner revenue: {scope.partner.display_name}"
    return "Platform revenue"


def _heading(report: Report) -> str:
    scope = report.scope
    parts = [scope.describe() + " (UTC)"]
    if scope.module:
        parts.append(f"module `{scope.module}`")
    if not scope.partner_view:
        parts.append(f"partner {scope.partner.display_name}" if scope.partner is not None else "all partners")
    return f"*{_title(report)}* – {', '.join(parts)}"


def report_page(ctx: Context, report: Report, number: int) -> Reply:
    """The report's summary and one page of its rows, newest first, with the paging buttons."""
    scope = report.scope
    shown = page_of(report.total.deployments, number, PAGE_SIZE)
    lines = [_heading(report)]
    if not report.total.deployments:
        lines.append("No paying deployments in this period: nothing was paid with purchased credits, so there is "
                     "no revenue and no chart.")
        return Reply(text="\n".join(lines))
    lines += views.totals_lines(report)
    if shown.number == 1:
        lines += ["*Top modules*", *views.module_lines(report)]
        if report.payouts and not scope.partner_view:
            lines += ["*Payouts due*", *views.payout_lines(report)]
    page_rows = list(reports.rows(ctx.session, scope, newest_first=True, offset=shown.offset, limit=PAGE_SIZE))
    people = deployers(ctx, [row.deployer_id for row in page_rows])
    lines.append(f"*Deployments* ({shown.label}, newest first)")
    lines += [views.row_line(row, report, people.get(row.deployer_id, "someone")) for row in page_rows]
    if shown.number == 1:
        lines.append("_Amounts are rounded to cents here; the CSV has every row, exact._")

    def value(page: int) -> str:
        partner = scope.partner.id if scope.partner is not None and not scope.partner_view else ""
        return f"{scope.first.isoformat()}:{scope.last.isoformat()}:{partner}:{page}:{scope.module or ''}"

    return Reply(text="\n".join(lines), actions=shown.buttons(PAGE_ACTION, value))


def deployers(ctx: Context, ids: list[int]) -> dict[int, str]:
    """How each deployer is shown here: a mention on this chat platform when they use it, else their name."""
    found: dict[int, str] = {}
    for user_id in set(ids):
        user = ctx.session.get(User, user_id)
        if user is None:
            continue
        same = [i for i in user.identities if i.platform == ctx.platform and ctx.platform in ("slack", "discord")]
        found[user_id] = describe(IdentityKey(same[0].platform, same[0].workspace, same[0].external_id)) \
            if same else user.display_name
    return found
