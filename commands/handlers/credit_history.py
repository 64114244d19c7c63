"""``/rad credits history [<@user>] [start] [end] [deployment]``: paged transactions and a CSV of them all.

Pages are newest first, 10 rows each; the paging buttons carry only ids (the user's id, the two days, the
deployment's short id, the page) and every click is checked again. The CSV of the whole filtered set comes
with the first answer.
"""

from __future__ import annotations

from commands.framework.context import Context
from commands.framework.registry import ActionEvent, Param, action, command
from commands.handlers.credits import transaction_line
from commands.ui.model import Attachment, Reply
from commands.ui.paging import page_number, page_of
from core.accounts import identity as identities
from core.accounts.identity import IdentityKey
from core.credits import history
from core.credits.history import HistoryFilter
from core.dates import FORMAT_HINT, parse_period
from core.errors import InvalidInput
from core.wording import count
from storage.models import User

PAGE_SIZE = 10
PAGE_ACTION = "credits:history:page"


@command("credits history", "Your credit transactions by date and deployment, with a CSV of them",
         params=(Param("user", "user", "Someone else's history (finance and admins)", required=False),
                 Param("start", "word", "First day, YYYY-MM-DD (UTC)", required=False),
                 Param("end", "word", "Last day, YYYY-MM-DD (UTC), included", required=False),
                 Param("deployment", "word", "Only this deployment's transactions (its id)", required=False)),
         details="Dates are YYYY-MM-DD in UTC, both days included; write `-` to leave the start open "
                 "(`credits history - 2026-01-31`). Holds show as held: they count against what is available "
                 "but do not change the balance. The CSV holds every matching transaction, oldest first.",
         read_only=True)
def credit_history(ctx: Context, user: IdentityKey | None, start: str | None, end: str | None,
                   deployment: str | None) -> Reply:
    """The first page of the caller's (or, for finance and admins, ``user``'s) history, with the CSV."""
    whom = identities.require_user(ctx.session, user) if user is not None else ctx.actor
    wanted = history.history_filter(ctx.session, ctx.actor, whom, parse_period(start, end), deployment)
    reply = history_page(ctx, wanted, 1)
    if not history.count(ctx.session, wanted):
        return reply
    csv = Attachment(history.csv_name(wanted, whom.display_name), history.to_csv(ctx.session, wanted), "text/csv",
                     "Credit transactions")
    return Reply(text=reply.text, actions=reply.actions, attachments=(csv,))


@action(PAGE_ACTION, read_only=True)
def credit_history_page(ctx: Context, event: ActionEvent) -> Reply:
    """Previous / Next: that page of the same history, in place; the viewer is checked again."""
    user_id, start, end, deployment, number = (event.value.split(":") + [""] * 5)[:5]
    whom = ctx.session.get(User, int(user_id)) if user_id.isdigit() and len(user_id) <= 9 else None
    if whom is None:
        raise InvalidInput("That history is no longer available.", hint=f"Run `{ctx.slash} credits history` again.")
    wanted = history.history_filter(ctx.session, ctx.actor, whom, parse_period(start, end), deployment or None)
    return history_page(ctx, wanted, page_number(number)).replacing()


def history_page(ctx: Context, wanted: HistoryFilter, number: int) -> Reply:
    """One page of the history: what was asked, the rows newest first, and the paging buttons."""
    shown = page_of(history.count(ctx.session, wanted), number, PAGE_SIZE)
    whose = "Your credit history" if wanted.user.id == ctx.actor.id else f"Credit history of {wanted.user.display_name}"
    scope = wanted.period.describe() + (f", deployment `{wanted.deployment}`" if wanted.deployment else "")
    if not shown.total:
        return Reply(text=f"*{whose}* – {scope}: no transactions.\n_{FORMAT_HINT}_")
    lines = [f"*{whose}* – {scope}: {count(shown.total, 'transaction')}, {shown.label}, newest first.",
             *(transaction_line(row) for row in history.page(ctx.session, wanted, shown.offset, PAGE_SIZE))]
    if shown.number == 1:
        lines.append("_Holds count against what is available; they do not change the balance. The CSV has every "
                     "transaction listed, oldest first._")

    def value(page: int) -> str:
        p = wanted.period
        first, last = (p.first.isoformat() if p.first else ""), (p.last.isoformat() if p.last else "")
        return f"{wanted.user.id}:{first}:{last}:{wanted.deployment or ''}:{page}"

    return Reply(text="\n".join(lines), actions=shown.buttons(PAGE_ACTION, value))
