"""``/rad invoices [<@user>] [YYYY-MM]``: the month's invoice of project costs as a PDF (``invoice-YYYY-MM.pdf``).

A user gets their own; finance and admins may name anyone, and without a user also get the CSV of every
invoice of the month. The invoice number is given the first time the invoice is issued and never changes.
Without a month it is the previous month (the last complete one).
"""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import Param, command
from commands.ui.model import Attachment, Reply
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey
from core.accounts.roles import FINANCE, has_any
from core.costs.money import shown
from core.credits.amounts import credit_count
from core.invoices import numbering
from core.invoices.export import month_csv
from core.invoices.pdf import month_name, render
from core.invoices.statement import billed_users, invoice_scope, parse_month, statement


@command("invoices", "Your monthly invoice of project costs, as a PDF",
         params=(Param("user", "user", "Someone else's invoice (finance and admins)", required=False),
                 Param("month", "word", "The month, YYYY-MM (default: last month)", required=False)),
         details="One line per project with its cost, GCP credits, net cost and the credits debited for it, and "
                 "the totals. The invoice number is given once, when the invoice is first issued, and never "
                 "changes. Finance and admins may ask for anyone's, and without a user get a CSV of every "
                 "invoice of the month too.")
def invoices(ctx: Context, user: IdentityKey | None, month: str | None) -> Reply:
    """The month's invoice PDF (and, for finance and admins, the month's CSV)."""
    wanted = parse_month(month, ctx.now.date())
    whom = invoice_scope(ctx.actor, identities.require_user(ctx.session, user) if user is not None else ctx.actor)
    mine = whom.id == ctx.actor.id
    found = statement(ctx.session, whom, wanted)
    lines: list[str] = []
    files: list[Attachment] = []
    if found.empty:
        lines.append(f"{'You have' if mine else whom.display_name + ' has'} no project costs in "
                     f"{month_name(wanted)}, so there is no invoice.")
    else:
        invoice = numbering.issue(ctx.session, whom, wanted, actor=ctx.actor)
        totals = "; ".join(f"{shown(t.net, c)} net, {credit_count(t.debited)} debited"
                           for c, t in sorted(found.totals.items()))
        lines.append(f"*Invoice {invoice.number}* – {month_name(wanted)}, "
                     f"{'yours' if mine else whom.display_name}: {len(found.lines)} "
                     f"project{'s' if len(found.lines) != 1 else ''}, {totals}.")
        files.append(Attachment(f"invoice-{wanted}.pdf", render(found, invoice, ctx.config.platform_name),
                                "application/pdf", f"Invoice {invoice.number}"))
    if user is None and has_any(ctx.actor, (FINANCE,)):
        billed = len(billed_users(ctx.session, wanted))
        if billed:
            files.append(Attachment(f"invoices-{wanted}.csv", month_csv(ctx.session, wanted), "text/csv",
                                    f"Invoices of {month_name(wanted)}"))
            lines.append(f"Every invoice of {month_name(wanted)}: {billed} user{'s' if billed != 1 else ''} "
                         f"(`invoices-{wanted}.csv`).")
    return Reply(text="\n".join(lines), attachments=tuple(files))
