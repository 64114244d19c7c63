"""Corrections by finance and admins: a debit from one user, and an adjustment of every user at once.

A debit never takes a balance below zero, holds included: it may take at most what is available, awarded
credits first, then purchased ones, so every open hold can still be spent. An adjustment ("adjust all")
adds the same award or purchase to every active user, one transaction each, keyed by its *batch*: a hash of
the kind, the amount and the reason. Running the same adjustment again (same kind, amount and reason) writes
nothing for the users who already have it and adds it only for users who do not (e.g. registered since); a
new adjustment needs another reason (name the month, the campaign...).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import FINANCE, has_any
from core.credits.amounts import check_amount, format_credits
from core.credits.ledger import ZERO, balance_of, find_by_key, locked_account, post
from core.credits.service import KEY_MAX, REASON_MAX, RESERVED
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from storage.models import CreditTransaction, FormDraft, User

ADJUST_KINDS = ("award", "purchase")
LARGE_ADJUSTMENT = Decimal(10_000)
"""From this amount per user on, an adjustment needs a typed confirmation."""
PROPOSAL = "adjust:"
"""Owner prefix of the form drafts that keep adjustments waiting for confirmation."""


@dataclass(frozen=True)
class Adjustment:
    """An adjustment of every user: what it adds, why, and its batch id (the idempotency key's root)."""

    kind: str
    amount: Decimal
    reason: str

    @property
    def batch(self) -> str:
        """16 hex digits from the kind, amount and reason: the same adjustment always has the same batch."""
        text = f"{self.kind}|{self.amount.normalize():f}|{self.reason}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def large(self) -> bool:
        """Whether it needs a typed confirmation (:data:`LARGE_ADJUSTMENT` or more per user)."""
        return self.amount >= LARGE_ADJUSTMENT

    @property
    def confirmation(self) -> str:
        """What must be typed to confirm a large adjustment: the amount per user, as shown."""
        return format_credits(self.amount)

    def key(self, user_id: int) -> str:
        """The ledger key of this adjustment for one user."""
        return f"{RESERVED}adjust:{self.batch}:{user_id}"


@dataclass(frozen=True)
class AdjustOutcome:
    """What an adjustment did: users given it now, users who already had it, the credits added now."""

    adjustment: Adjustment
    applied: tuple[int, ...]
    skipped: int
    total: Decimal


def debit(session: Session, actor: User, user: User, amount: Decimal, *, reason: str, key: str | None = None,
          platform: str = "") -> CreditTransaction:
    """Take ``amount`` from ``user`` as a correction (a DEBIT row), awarded credits first; audited.

    Raises:
        NotAllowed: the actor is neither finance nor an admin.
        InvalidInput: the amount or the reason is not acceptable.
        Conflict: the user has less than ``amount`` available (the message says how much); nothing is written.
    """
    _require_finance(actor, "debit credits")
    amount = check_amount(amount)
    why = _reason(reason)
    key = key or f"{RESERVED}debit:{uuid.uuid4().hex}"
    if len(key) > KEY_MAX:
        raise InvalidInput(f"An idempotency key is at most {KEY_MAX} characters.")
    account = locked_account(session, user.id)
    existing = find_by_key(session, key)
    if existing is not None:
        if existing.kind != "DEBIT" or existing.user_id != user.id or existing.amount != amount:
            raise Conflict(f"The key `{key}` was already used for another credit operation.")
        return existing
    shown = balance_of(account)
    if amount > shown.available_total:
        raise Conflict(
            f"{user.display_name} has only {format_credits(max(shown.available_total, ZERO))} credits available "
            f"({format_credits(shown.awarded)} awarded, {format_credits(shown.purchased)} purchased, "
            f"{format_credits(shown.held)} held), so {format_credits(amount)} cannot be debited.",
            hint="A debit never takes a balance below zero; debit at most the amount available. Nothing was "
                 "changed.")
    from_awarded = min(max(ZERO, account.awarded), amount)
    from_purchased = amount - from_awarded
    row = post(session, account, "DEBIT", key, amount, awarded=-from_awarded, purchased=-from_purchased,
               actor_id=actor.id, description=why)
    audit.record(session, actor, "credits.debit", target=f"user:{user.id}", platform=platform, amount=str(amount),
                 awarded=str(from_awarded), purchased=str(from_purchased), reason=why, key=key)
    return row


def adjustment(actor: User, kind: str, amount: Decimal, reason: str) -> Adjustment:
    """An adjustment of every user, checked (finance and admins; a reason is required).

    Raises:
        NotAllowed: the actor is neither finance nor an admin.
        InvalidInput: the kind, amount or reason is not acceptable.
    """
    _require_finance(actor, "adjust everyone's credits")
    if kind not in ADJUST_KINDS:
        raise InvalidInput(f"`{kind}` is not an adjustment.", hint="Adjust with `award` or `purchase`.")
    return Adjustment(kind, check_amount(amount), _reason(reason))


def already_adjusted(session: Session, wanted: Adjustment) -> int:
    """How many users already have this adjustment (from an earlier run)."""
    prefix = f"{RESERVED}adjust:{wanted.batch}:"
    found = session.scalar(select(func.count(CreditTransaction.id)).where(CreditTransaction.key.startswith(prefix)))
    return int(found or 0)


def adjustable_users(session: Session) -> list[User]:
    """The users an adjustment reaches: active and not merged into another, in id order."""
    return list(session.scalars(select(User).where(User.active.is_(True), User.merged_into_id.is_(None))
                                .order_by(User.id)))


def adjust_all(session: Session, actor: User, wanted: Adjustment, *, confirmation: str | None = None,
               platform: str = "") -> AdjustOutcome:
    """Give every active user the adjustment once: one AWARD or PURCHASE each, keyed by batch and user.

    Raises:
        NotAllowed: the actor is neither finance nor an admin.
        InvalidInput: a large adjustment without the right typed ``confirmation``.
    """
    wanted = adjustment(actor, wanted.kind, wanted.amount, wanted.reason)
    if wanted.large and (confirmation or "").strip().replace(",", "") != wanted.confirmation.replace(",", ""):
        raise InvalidInput(f"That is not the confirmation: type {wanted.confirmation} (the credits each user gets).",
                           hint="Nothing was changed.")
    kind = "AWARD" if wanted.kind == "award" else "PURCHASE"
    awarded, purchased = (wanted.amount, ZERO) if kind == "AWARD" else (ZERO, wanted.amount)
    applied: list[int] = []
    skipped = 0
    for user in adjustable_users(session):
        account = locked_account(session, user.id)
        if find_by_key(session, wanted.key(user.id)) is not None:
            skipped += 1
            continue
        post(session, account, kind, wanted.key(user.id), wanted.amount, awarded=awarded, purchased=purchased,
             actor_id=actor.id, description=wanted.reason)
        applied.append(user.id)
    total = wanted.amount * len(applied)
    audit.record(session, actor, "credits.adjust_all", target=f"batch:{wanted.batch}", platform=platform,
                 kind=kind, amount=str(wanted.amount), reason=wanted.reason, users=len(applied), skipped=skipped,
                 total=str(total))
    return AdjustOutcome(wanted, tuple(applied), skipped, total)


def propose(session: Session, actor: User, wanted: Adjustment) -> str:
    """Keep the adjustment until it is confirmed (a day at most); returns the token its button carries."""
    token = uuid.uuid4().hex
    session.add(FormDraft(token=token, owner=f"{PROPOSAL}{actor.id}", payload={
        "kind": wanted.kind, "amount": str(wanted.amount), "reason": wanted.reason}))
    session.flush()
    return token


def proposal(session: Session, actor: User, token: str) -> Adjustment:
    """The adjustment ``actor`` proposed under ``token``, locked until the unit of work ends.

    Raises:
        NotFound: no such proposal of this actor (another's, expired after a day, or made up).
    """
    draft = session.get(FormDraft, token, with_for_update=True) if token.isalnum() and len(token) == 32 else None
    if draft is None or draft.owner != f"{PROPOSAL}{actor.id}":
        raise NotFound("That adjustment is no longer waiting for confirmation.",
                       hint="Run `/rad admin adjust all ...` again: users who already have it are skipped.")
    payload = draft.payload
    return adjustment(actor, str(payload["kind"]), Decimal(str(payload["amount"])), str(payload["reason"]))


def _require_finance(actor: User, what: str) -> None:
    if not has_any(actor, (FINANCE,)):
        raise NotAllowed(f"Only admins and finance can {what}.", hint="Ask an admin for the finance role.")


def _reason(reason: str) -> str:
    why = " ".join(reason.split())
    if not why:
        raise InvalidInput("A correction needs a reason.", hint="Say why; the user sees it in their history.")
    if len(why) > REASON_MAX:
        raise InvalidInput(f"The reason is {len(why)} characters long.", hint=f"Keep it to {REASON_MAX}.")
    return why
