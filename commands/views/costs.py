"""How a cost report reads in chat: the summary, the deployments and services, the chart and the CSV."""

from __future__ import annotations

from sqlalchemy.orm import Session

from commands.ui.model import Attachment
from core.charts.render import bar_chart
from core.costs.money import from_nanos, shown
from core.costs.report import CostReport
from core.costs.report import cost_to_date as billed
from core.credits.amounts import credit_count
from storage.models import Deployment

SHOWN = 15
"""Deployments (and services) listed in the message; the CSV has them all."""


def whose(report: CostReport, viewer_id: int) -> str:
    """``yours``, ``of <name>`` or ``everyone's``."""
    scope = report.scope
    if scope.user is None:
        return "everyone's"
    return "yours" if scope.user.id == viewer_id else f"of {scope.user.display_name}"


def summary(report: CostReport, viewer_id: int) -> str:
    """The whole message: totals, then by deployment, by service, and what no deployment claims."""
    scope = report.scope
    head = f"*Project costs* – {scope.period.describe()}, {whose(report, viewer_id)}" + \
        (f", module `{scope.module}`" if scope.module else "")
    if report.empty:
        return f"{head}: no project costs.\n_Costs come from the cloud bill; they appear once the billing export " \
               f"holds them (usually within a day)._"
    lines = [head + ":"]
    for currency, total in sorted(report.totals.items()):
        lines.append(f"*{shown(total.net, currency)}* net (cost {shown(total.cost, currency)}, Google credits "
                     f"{shown(total.credits, currency)}), {credit_count(total.debited)} debited so far")
    if report.deployments:
        lines.append("*By deployment*")
        for d in report.deployments[:SHOWN]:
            owner = f" · {d.owner}" if scope.user is None else ""
            project = f" ({d.project_id})" if d.project_id else ""
            lines.append(f"• `{d.short_id}` {d.module}{project}{owner} — {shown(d.line.net, d.currency)} net · "
                         f"{credit_count(d.line.debited)} debited")
        if len(report.deployments) > SHOWN:
            lines.append(f"…and {len(report.deployments) - SHOWN} more deployments (in the CSV).")
        lines.append("*By service*")
        for service, currency, line in report.services[:SHOWN]:
            lines.append(f"• {service} — {shown(line.net, currency)}")
        if len(report.services) > SHOWN:
            lines.append(f"…and {len(report.services) - SHOWN} more services (in the CSV).")
    for currency, line in sorted(report.unattributed.items()):
        lines.append(f"*Unattributed*: {line.rows} rows, {shown(line.net, currency)} net that no deployment claims "
                     f"(label resources `rad-deployment: <id>` or output `project_id`).")
    lines.append("_Project costs are the cloud bill of what deployments created, debited as credits every "
                 "refresh interval; a module's credit cost is separate._")
    return "\n".join(lines)


def chart(report: CostReport) -> Attachment | None:
    """Bars of net cost by deployment (the main currency), or None when there is nothing to draw."""
    if not report.totals:
        return None
    currency = max(report.totals, key=lambda c: report.totals[c].rows)
    bars = [d for d in report.deployments if d.currency == currency]
    picture = bar_chart(f"Project costs by deployment, {report.scope.period.describe()}",
                        [f"{d.short_id} {d.module}" for d in bars], [from_nanos(d.line.net) for d in bars],
                        unit=currency, subtitle=f"Net {shown(report.totals[currency].net, currency)}, "
                                                f"{credit_count(report.totals[currency].debited)} debited")
    if picture is None:
        return None
    return Attachment("costs.png", picture, "image/png", "Project costs by deployment")



def cost_to_date(session: Session, deployment: Deployment) -> str:
    """A deployment card's project cost so far (net, by currency), or that nothing was billed yet."""
    found = billed(session, deployment)
    return ", ".join(shown(n, c) for c, n in sorted(found.items())) or "nothing billed yet"
