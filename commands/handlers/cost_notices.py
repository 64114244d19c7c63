"""What the recurring cost debit and the cost imports tell people: a short balance, a failed import.

Messages go through the outbox (``chat.post`` rows) with keys that make each one go out once: a short debit
once per user and period, a failed import once per file and reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from commands.handlers.notify import post_later
from commands.ui.model import Button
from commands.views.credits import offer_buttons
from core.accounts.identity import IdentityKey
from core.costs.debits import DebitRun, admins
from core.costs.money import shown
from core.credits.amounts import credit_count, format_credits
from core.credits.offers import how_to_get_credits
from core.errors import RadError
from storage.models import User

_CORE_COMMAND = re.compile(r"(?<=`)/rad(?=[ `])")
OUT_OF_SCOPE = ("The bot does not switch off the cloud billing of their projects (out of scope here); do it in the "
                "Cloud Console if the costs must stop.")


def tell_short(session: Session, run: DebitRun, slash: str) -> int:
    """Tell each user whose credits could not cover the period's costs, and the admins; returns how many users."""
    for debit in run.short:
        user = session.get_one(User, debit.user_id)
        cost = shown(debit.net_nanos, debit.currency)
        offer = how_to_get_credits(session, user)
        text = (f":warning: Your project costs of the last period came to {cost}, that is "
                f"{credit_count(debit.credits)}, but only {format_credits(debit.available)} are available, so they "
                f"were not debited. They will be when your credits cover them. {offer.text}\n"
                f"_Your costs: `/rad costs`._")
        _tell(session, user, f"cost-short:{run.period}:{user.id}", _CORE_COMMAND.sub(slash, text),
              buttons=offer_buttons(offer))
        for admin in admins(session):
            _tell(session, admin, f"cost-short-admin:{run.period}:{user.id}:{admin.id}",
                  f":warning: {user.display_name}'s project costs of the last period ({cost}, "
                  f"{credit_count(debit.credits)}) could not be debited: {format_credits(debit.available)} "
                  f"available. They stay to be debited. {OUT_OF_SCOPE}")
    return len(run.short)


def tell_import_failed(session: Session, name: str, error: RadError) -> None:
    """Tell the admins that an export could not be imported, why, and that nothing of it was."""
    reason = f"{error.message} {error.hint}".strip()
    digest = hashlib.sha256(f"{name}|{reason}".encode()).hexdigest()[:16]
    for admin in admins(session):
        _tell(session, admin, f"cost-import-failed:{digest}:{admin.id}",
              f":x: Project costs could not be imported from {name}: {reason}")


def _tell(session: Session, user: User, key: str, text: str, *, buttons: Sequence[Button] = ()) -> None:
    for identity in user.identities:
        post_later(session, f"{key}:{identity.platform}:{identity.external_id}", text,
                   user=IdentityKey(identity.platform, identity.workspace, identity.external_id), buttons=buttons)
