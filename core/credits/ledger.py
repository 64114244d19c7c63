"""The ledger's machinery: locked accounts, appended rows, balances, and the check that both agree.

An account row is a cache of its transactions: each of ``awarded``, ``purchased``, ``held`` and
``held_purchased`` equals the sum of the matching delta over the user's rows. Rows are never changed or
deleted once written.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import case, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import CreditAccount, CreditTransaction

ZERO = Decimal(0)
FIELDS = ("awarded", "purchased", "held", "held_purchased")


@dataclass(frozen=True)
class Balance:
    """A user's credits. ``available_purchased`` is what a purchased-only hold may still take."""

    awarded: Decimal
    purchased: Decimal
    held: Decimal
    available_total: Decimal
    available_purchased: Decimal


@dataclass(frozen=True)
class Mismatch:
    """An account column (or the last ``balance_after``) that disagrees with the sum of the ledger."""

    user_id: int
    field: str
    account: Decimal
    ledger: Decimal


def balance_of(account: CreditAccount | None) -> Balance:
    """The balance an account shows, with what holds leave available.

    Holds that may use awarded credits reserve purchased credits only for what awarded ones cannot cover,
    so every open hold can always be spent in any order without overdrawing a bucket.
    """
    if account is None:
        return Balance(ZERO, ZERO, ZERO, ZERO, ZERO)
    total = account.awarded + account.purchased - account.held
    general = account.held - account.held_purchased
    reserved = account.held_purchased + max(ZERO, general - max(ZERO, account.awarded))
    return Balance(account.awarded, account.purchased, account.held, total,
                   min(total, account.purchased - reserved))


def find_account(session: Session, user_id: int) -> CreditAccount | None:
    """The user's credit account, or None if none was opened yet."""
    return session.get(CreditAccount, user_id)


def locked_account(session: Session, user_id: int) -> CreditAccount:
    """The user's account, created if missing, locked until the unit of work ends.

    PostgreSQL: ``SELECT ... FOR UPDATE``, so concurrent holds on one account run one after another. SQLite
    takes the database write lock at ``BEGIN IMMEDIATE``, so the unit of work is already serialised.
    """
    query = (select(CreditAccount).where(CreditAccount.user_id == user_id).with_for_update()
             .execution_options(populate_existing=True))
    account = session.scalars(query).one_or_none()
    if account is not None:
        return account
    try:
        with session.begin_nested():
            session.add(CreditAccount(user_id=user_id, awarded=ZERO, purchased=ZERO, held=ZERO,
                                      held_purchased=ZERO))
    except IntegrityError:
        pass  # a concurrent unit of work opened it first; the select below waits for its lock
    return session.scalars(query).one()


def find_by_key(session: Session, key: str) -> CreditTransaction | None:
    """The transaction recorded under idempotency key ``key``, if any."""
    return session.scalars(select(CreditTransaction).where(CreditTransaction.key == key)).one_or_none()


def settlement_of(session: Session, hold: CreditTransaction) -> CreditTransaction | None:
    """The SPEND or RELEASE that settled ``hold``, if any."""
    return session.scalars(select(CreditTransaction).where(CreditTransaction.hold_id == hold.id)).one_or_none()


def post(session: Session, account: CreditAccount, kind: str, key: str, amount: Decimal, *,
         awarded: Decimal = ZERO, purchased: Decimal = ZERO, held: Decimal = ZERO, purchased_only: bool = False,
         **details: Any) -> CreditTransaction:
    """Append one row and move the (locked) account by the same deltas.

    ``details`` are the row's other columns: ``hold_id``, ``purchased_part``, ``revenue_share_pct``,
    ``deployment_ref``, ``module``, ``description``, ``actor_id``.
    """
    account.awarded += awarded
    account.purchased += purchased
    account.held += held
    if purchased_only:
        account.held_purchased += held
    row = CreditTransaction(user_id=account.user_id, kind=kind, key=key, amount=amount, awarded_delta=awarded,
                            purchased_delta=purchased, held_delta=held, purchased_only=purchased_only,
                            balance_after=account.awarded + account.purchased, **details)
    session.add(row)
    session.flush()
    return row


def recent(session: Session, user_id: int, limit: int = 10) -> list[CreditTransaction]:
    """The user's newest rows first."""
    return list(session.scalars(select(CreditTransaction).where(CreditTransaction.user_id == user_id)
                                .order_by(CreditTransaction.id.desc()).limit(limit)))


def check_balances(session: Session, user_id: int | None = None) -> list[Mismatch]:
    """Every place where an account disagrees with its transactions; empty when the ledger is sound."""
    t = CreditTransaction
    sums = select(t.user_id, func.sum(t.awarded_delta), func.sum(t.purchased_delta), func.sum(t.held_delta),
                  func.sum(case((t.purchased_only, t.held_delta), else_=ZERO)), func.max(t.id)).group_by(t.user_id)
    accounts = select(CreditAccount)
    if user_id is not None:
        sums, accounts = sums.where(t.user_id == user_id), accounts.where(CreditAccount.user_id == user_id)
    ledger = {row[0]: row[1:] for row in session.execute(sums)}
    cached = {a.user_id: a for a in session.scalars(accounts)}
    found: list[Mismatch] = []
    for uid in sorted(set(ledger) | set(cached)):
        account = cached.get(uid)
        *totals, last_id = ledger.get(uid, (ZERO, ZERO, ZERO, ZERO, None))
        values = [getattr(account, f) if account is not None else ZERO for f in FIELDS]
        for name, have, want in zip(FIELDS, values, totals, strict=True):
            if _exact(have) != _exact(want):
                found.append(Mismatch(uid, name, _exact(have), _exact(want)))
        if last_id is not None:
            last = session.get_one(CreditTransaction, last_id).balance_after
            if _exact(last) != _exact(values[0] + values[1]):
                found.append(Mismatch(uid, "balance_after", _exact(values[0] + values[1]), _exact(last)))
    return found


def _exact(value: Decimal | float | int | None) -> Decimal:
    """A sum as an exact 4-place decimal (SQLite hands sums back through floats)."""
    return Decimal(str(value or 0)).quantize(Decimal("0.0001"))


@event.listens_for(CreditTransaction, "before_update")
@event.listens_for(CreditTransaction, "before_delete")
def _append_only(_mapper: Any, _connection: Any, target: CreditTransaction) -> None:
    raise RuntimeError(f"credit transaction {target.id} is append-only: record a new transaction instead")
