"""Low balances: which users to tell that their credits fell below ``low_credit_trigger``, at most once a day.

A user is told when credits are enabled, the trigger is above 0, they have ledger rows (a user who never had
credits did not fall below anything), their available credits (holds count against them) are below the
trigger, they did not switch billing notices off in ``/rad profile``, and they were not told in the last
24 hours. Each notice is an audit event (``credits.low_balance``), which is also what the 24 hours are
measured from, so a job run twice, or by a restarted clock, tells nobody twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.credits.ledger import Balance, balance_of
from core.settings.platform import credits_enabled, low_credit_trigger
from storage.models import AuditEvent, CreditAccount, CreditTransaction, User, UserPreference

NOTICE_ACTION = "credits.low_balance"
NOTICE_EVERY = timedelta(hours=24)


@dataclass(frozen=True)
class LowBalance:
    """A user to tell, with their balance and the trigger it is below."""

    user: User
    balance: Balance
    trigger: Decimal


def due(session: Session, now: datetime) -> list[LowBalance]:
    """The users to tell now, in id order (nobody when credits are off or the trigger is 0)."""
    trigger = low_credit_trigger(session)
    if trigger <= 0 or not credits_enabled(session):
        return []
    told = set(session.scalars(select(AuditEvent.target).where(AuditEvent.action == NOTICE_ACTION,
                                                                AuditEvent.at > now - NOTICE_EVERY)))
    muted = set(session.scalars(select(UserPreference.user_id).where(UserPreference.notify_billing.is_(False))))
    has_rows = select(CreditTransaction.id).where(CreditTransaction.user_id == CreditAccount.user_id).exists()
    query = (select(CreditAccount, User).join(User, User.id == CreditAccount.user_id)
             .where(User.active.is_(True), User.merged_into_id.is_(None), has_rows,
                    CreditAccount.awarded + CreditAccount.purchased - CreditAccount.held < trigger)
             .order_by(User.id))
    found = []
    for account, user in session.execute(query):
        if user.id in muted or target(user) in told:
            continue
        found.append(LowBalance(user, balance_of(account), trigger))
    return found


def mark_told(session: Session, low: LowBalance, now: datetime) -> None:
    """Record that ``low.user`` was told at ``now`` (an audit event; the next notice waits 24 hours)."""
    event = audit.record(session, None, NOTICE_ACTION, target=target(low.user),
                         available=str(low.balance.available_total), trigger=str(low.trigger))
    event.at = now


def target(user: User) -> str:
    """The audit target naming a user."""
    return f"user:{user.id}"
