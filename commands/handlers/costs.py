"""``/rad costs [<@user>] [start] [end] [module]``: project costs by deployment and service, a chart and a CSV.

Owners see their own deployments' costs; finance and admins everyone's (and what no deployment claims), or
one user's with ``<@user>``. Without dates the report covers this month so far.
"""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import Param, command
from commands.ui.model import Attachment, Reply
from commands.views import costs as views
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey
from core.costs import report as reports
from core.dates import parse_period


@command("costs", "Project costs (the cloud bill of your deployments) by deployment and service, with a chart",
         params=(Param("user", "user", "Someone else's costs (finance and admins)", required=False),
                 Param("start", "word", "First day, YYYY-MM-DD (UTC)", required=False),
                 Param("end", "word", "Last day, YYYY-MM-DD (UTC), included", required=False),
                 Param("module", "word", "Only this module's deployments", required=False, options="modules:names")),
         details="Project costs are what the cloud bills for what your deployments created (from the billing "
                 "export), debited as credits every refresh interval; a module's credit cost is separate. Without "
                 "dates the report covers this month so far; with dates give both (UTC, both included, at most "
                 "366 days). Finance and admins see everyone's costs, or one user's. The CSV sums the rows by day (by "
                 "month for periods over 31 days), deployment, service and SKU.", read_only=True)
def costs(ctx: Context, user: IdentityKey | None, start: str | None, end: str | None, module: str | None) -> Reply:
    """The report, its chart and its CSV."""
    period = reports.default_period(ctx.now.date()) if start is None and end is None else parse_period(start, end)
    whom = identities.require_user(ctx.session, user) if user is not None else None
    scope = reports.cost_scope(ctx.actor, whom, period, module)
    report = reports.build(ctx.session, scope)
    text = views.summary(report, ctx.actor.id)
    if report.empty:
        return Reply(text=text)
    files: list[Attachment] = []
    picture = views.chart(report)
    if picture is not None:
        files.append(picture)
    who = scope.user.display_name if scope.user is not None else "everyone"
    files.append(Attachment(reports.csv_name(scope, who), reports.to_csv(ctx.session, scope), "text/csv",
                            "Project costs"))
    return Reply(text=text, attachments=tuple(files))
