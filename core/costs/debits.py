"""Recurring project-cost debits: each period, every user's new costs become one PROJECT transaction.

The clock calls :func:`run` often; it does work once per period of ``refresh_interval_hours`` (periods are
counted from the Unix epoch, in UTC). The period is claimed by inserting its row: a second clock (or a second
thread) inserting the same period fails on the primary key and does nothing, so a period is debited once.

For each user, the net cost (cost plus Google's credits) of their attributed rows not yet charged, in the
platform's ``currency``, times ``credits_per_unit`` (rounded half-even to the ledger's 4 places) is taken from
awarded credits first, then purchased ones; the rows are marked with the debit. A user whose available credits
(holds count) cannot cover it is not debited: the debit is recorded *short*, the rows wait for the next period,
and the user and the admins are told. Switching off the cloud billing of that user's projects is out of scope.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from core.costs.attribution import attribute_pending
from core.costs.money import NANO
from core.credits.amounts import QUANTUM
from core.credits.ledger import ZERO, balance_of, locked_account, post
from core.credits.service import RESERVED
from core.settings import platform
from storage.models import CostDebit, CostDebitPeriod, CostDebitStatus, CostRow, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserDebit:
    """One user's debit of the period: what their costs came to and whether it was charged."""

    user_id: int
    net_nanos: int
    currency: str
    credits: Decimal
    available: Decimal
    charged: bool


@dataclass(frozen=True)
class DebitRun:
    """What one period's run did."""

    period: str
    debits: tuple[UserDebit, ...]

    @property
    def short(self) -> tuple[UserDebit, ...]:
        """The users whose credits could not cover their costs."""
        return tuple(d for d in self.debits if not d.charged)


def period_key(now: datetime, hours: int) -> str:
    """The period ``now`` falls in: ``<hours>h:<index>`` (the index counts periods since the epoch)."""
    return f"{hours}h:{int(now.timestamp() // (hours * 3600))}"


def run(session: Session, now: datetime) -> DebitRun | None:
    """Debit the period ``now`` falls in, unless it was already debited (then None)."""
    period = period_key(now, platform.refresh_interval_hours(session))
    try:
        with session.begin_nested():
            session.add(CostDebitPeriod(period=period, claimed_at=now))
            session.flush()
    except IntegrityError:
        return None
    if not platform.credits_enabled(session):
        return DebitRun(period, ())
    attribute_pending(session)
    rate = platform.credits_per_unit(session)
    currency = platform.currency(session).upper()
    pending = (select(CostRow.user_id, func.sum(CostRow.cost_nanos + CostRow.credits_nanos), func.max(CostRow.id))
               .where(CostRow.debit_id.is_(None), CostRow.user_id.is_not(None), CostRow.currency == currency,
                      CostRow.usage_start < now)
               .group_by(CostRow.user_id).order_by(CostRow.user_id))
    done = [debit_user(session, period, int(uid or 0), int(net or 0), int(last or 0), currency, rate, now)
            for uid, net, last in list(session.execute(pending))]
    claimed = session.get_one(CostDebitPeriod, period)
    claimed.debits = sum(1 for d in done if d.charged)
    log.info("project costs debited", extra={"period": period, "users": len(done),
                                             "short": sum(1 for d in done if not d.charged)})
    return DebitRun(period, tuple(done))


def credits_for(net_nanos: int, rate: Decimal) -> Decimal:
    """Credits for a net cost: cost × ``credits_per_unit``, half-even to 4 places; never below zero."""
    return max(ZERO, (Decimal(net_nanos) * NANO * rate).quantize(QUANTUM, ROUND_HALF_EVEN))


def debit_user(session: Session, period: str, user_id: int, net: int, last_row: int, currency: str,
               rate: Decimal, now: datetime) -> UserDebit:
    """Charge one user's pending rows (up to ``last_row``) as one PROJECT transaction, or record it short."""
    credits = credits_for(net, rate)
    account = locked_account(session, user_id)
    available = balance_of(account).available_total
    charged = credits <= available
    debit = CostDebit(period=period, user_id=user_id, net_nanos=net, currency=currency, rate=rate, credits=credits,
                      status=CostDebitStatus.DEBITED if charged else CostDebitStatus.SHORT, created_at=now)
    session.add(debit)
    session.flush()
    if charged:
        if credits > 0:
            from_awarded = min(max(ZERO, account.awarded), credits)
            row = post(session, account, "PROJECT", f"{RESERVED}project:{period}:{user_id}", credits,
                       awarded=-from_awarded, purchased=-(credits - from_awarded), created_at=now,
                       description=f"Project costs: {Decimal(net) * NANO:f} {currency} × {rate}"[:500])
            debit.transaction_id = row.id
        session.execute(update(CostRow).where(CostRow.user_id == user_id, CostRow.debit_id.is_(None),
                                              CostRow.currency == currency, CostRow.id <= last_row,
                                              CostRow.usage_start < now)
                        .values(debit_id=debit.id))
    audit.record(session, None, "costs.debit", target=f"user:{user_id}", period=period, status=str(debit.status),
                 net=f"{Decimal(net) * NANO:f}", currency=currency, credits=str(credits))
    return UserDebit(user_id, net, currency, credits, available, charged)


def user_named(session: Session, user_id: int) -> User:
    """The user a debit is about."""
    return session.get_one(User, user_id)


def admins(session: Session) -> list[User]:
    """The admins, who hear of debits that could not be made and of imports that failed."""
    from core.accounts.roles import ADMIN
    from storage.models import UserRole

    return list(session.scalars(select(User).join(UserRole, UserRole.user_id == User.id)
                                .where(UserRole.role == ADMIN, User.active.is_(True)).order_by(User.id)))
