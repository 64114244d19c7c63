"""The daily low-balance notice: a direct message to each user whose credits fell below ``low_credit_trigger``.

The clock queues one ``credits.low_balance`` job a day (``bot.scheduler``); the worker runs it with its clock,
and the messages go through the outbox (``chat.post`` rows), so none is lost or posted twice. Who is told, and
the once-per-24-hours rule, are in ``core.credits.low_balance``; how to get credits comes from
``core.credits.offers`` (a Buy button when buying is on, else whom to ask).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from commands.framework.context import JobContext
from commands.framework.registry import job
from commands.handlers.notify import notify_later
from commands.views.credits import offer_buttons
from core.credits import low_balance
from core.credits.amounts import format_credits
from core.credits.offers import how_to_get_credits

KIND = "credits.low_balance"
_CORE_COMMAND = re.compile(r"(?<=`)/rad(?=[ `])")


@job(KIND)
def tell_low_balances(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """Queue the notice for every user due one now, and record that they were told."""
    slash = f"/{ctx.config.command}"
    for low in low_balance.due(ctx.session, ctx.now):
        offer = how_to_get_credits(ctx.session, low.user)
        text = (f":warning: Your RAD credits are low: *{format_credits(low.balance.available_total)}* available, "
                f"below {format_credits(low.trigger)}. {offer.text}\n"
                f"_You hear this at most once a day while it lasts; billing notices can be switched off in "
                f"`/rad profile`. Your transactions: `/rad credits history`._")
        notify_later(ctx.session, low.user, _CORE_COMMAND.sub(slash, text), buttons=offer_buttons(offer))
        low_balance.mark_told(ctx.session, low, ctx.now)
