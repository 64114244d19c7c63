"""The credit ledger: sign-up grants, awards and purchases, holds settled exactly once by a spend or release.

Amounts are exact decimals. Every operation carries an idempotency key, so a retried or double-clicked
operation applies once; every state change is audited. Settings: ``core.settings.platform``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import FINANCE, has_any
from core.credits.amounts import check_amount, credit_count, format_credits
from core.credits.ledger import (
    ZERO,
    Balance,
    balance_of,
    find_account,
    find_by_key,
    locked_account,
    post,
    recent,
    settlement_of,
)
from core.credits.offers import how_to_get_credits
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound, RadError
from core.revenue import rollup
from core.revenue.attribution import module_partner
from core.settings.platform import credits_enabled, partner_revenue_share, signup_credits
from storage.models import CreditAccount, CreditTransaction, User

__all__ = ["Balance", "Hold", "InsufficientCredits", "Settlement", "award", "balance", "grant_signup", "hold",
           "purchase", "release", "spend", "statement"]

INSUFFICIENT_TOTAL = "INSUFFICIENT_TOTAL_CREDITS"
INSUFFICIENT_PURCHASED = "INSUFFICIENT_PURCHASED_CREDITS"
KEY_MAX = 150
RESERVED = "rad:"
"""Prefix of the keys the ledger makes itself (sign-up, settlements, keyless grants)."""
REASON_MAX = 500
DEPLOYMENT_MAX = 64


class InsufficientCredits(RadError):
    """A hold the balance cannot cover; ``code`` is one of the two platform error codes."""

    def __init__(self, code: str, needed: Decimal, available: Decimal, offer: str = "") -> None:
        kind = "purchased" if code == INSUFFICIENT_PURCHASED else ""
        have = max(available, ZERO)
        super().__init__(
            f"Not enough {kind + ' ' if kind else ''}credits: this needs {credit_count(needed, kind)} and you have "
            f"{format_credits(have)} available, {format_credits(needed - have)} short.",
            hint=(offer + " " if offer else "") + "Your balance is in `/rad credits`.")
        self.code = code
        """The machine-readable reason (``INSUFFICIENT_TOTAL_CREDITS`` or ``INSUFFICIENT_PURCHASED_CREDITS``),
        for logs and tests; people read the sentence."""


@dataclass(frozen=True)
class Hold:
    """Credits reserved for a deployment until it is spent or released."""

    key: str
    user_id: int
    amount: Decimal
    purchased_only: bool
    deployment: str | None
    module: str
    transaction_id: int
    repeated: bool = False


@dataclass(frozen=True)
class Settlement:
    """How a hold ended: ``kind`` SPEND (with the buckets it took) or RELEASE."""

    hold_key: str
    kind: str
    amount: Decimal
    from_awarded: Decimal
    from_purchased: Decimal
    revenue_share: Decimal | None
    transaction_id: int
    repeated: bool = False


def balance(session: Session, user: User) -> Balance:
    """The user's buckets, the amount held and what is available; read without locking."""
    return balance_of(find_account(session, user.id))


def statement(session: Session, viewer: User, user: User, limit: int = 10,
              ) -> tuple[Balance, list[CreditTransaction]]:
    """A user's balance and newest transactions; only finance and admins see someone else's."""
    if viewer.id != user.id and not has_any(viewer, (FINANCE,)):
        raise NotAllowed("Only finance and admins can see another user's credits.")
    return balance(session, user), recent(session, user.id, limit)


def grant_signup(session: Session, user: User) -> CreditTransaction | None:
    """Open a new user's account and grant ``signup_credits`` (awarded) once, when credits are enabled."""
    account = locked_account(session, user.id)
    amount = Decimal(signup_credits(session))
    if amount <= 0 or not credits_enabled(session):
        return None
    key = f"{RESERVED}signup:{user.id}"
    existing = find_by_key(session, key)
    if existing is not None:
        return existing
    row = post(session, account, "SIGNUP", key, amount, awarded=amount, description="Sign-up credits")
    audit.record(session, user, "credits.signup", target=f"user:{user.id}", amount=str(amount))
    return row


def award(session: Session, actor: User, user: User, amount: Decimal, *, reason: str = "", key: str | None = None,
          platform: str = "") -> CreditTransaction:
    """Add awarded (free) credits; admins and finance only."""
    return _grant(session, actor, user, amount, "AWARD", reason=reason, key=key, platform=platform)


def purchase(session: Session, actor: User, user: User, amount: Decimal, *, reason: str = "",
             key: str | None = None, platform: str = "") -> CreditTransaction:
    """Add purchased (paid) credits; admins and finance only."""
    return _grant(session, actor, user, amount, "PURCHASE", reason=reason, key=key, platform=platform)


def hold(session: Session, user: User, amount: Decimal, *, purchased_only: bool = False, key: str,
         deployment: str | None = None, module: str = "") -> Hold:
    """Reserve ``amount`` (0 allowed) so it counts against the balance; never overdraws.

    Raises InsufficientCredits with ``INSUFFICIENT_PURCHASED_CREDITS`` (purchased-only holds) or
    ``INSUFFICIENT_TOTAL_CREDITS``. The same key again returns the existing hold.
    """
    amount = check_amount(amount, "cost", allow_zero=True)
    _check_key(key)
    if deployment is not None and not 0 < len(deployment) <= DEPLOYMENT_MAX:
        raise InvalidInput(f"A deployment reference is 1 to {DEPLOYMENT_MAX} characters long.")
    account = locked_account(session, user.id)
    existing = find_by_key(session, key)
    if existing is not None:
        if existing.kind != "HOLD" or existing.user_id != user.id or existing.amount != amount \
                or existing.purchased_only != purchased_only:
            raise Conflict(f"The key `{key}` was already used for another credit operation.")
        return _hold(existing, repeated=True)
    available = balance_of(account)
    if purchased_only and amount > 0 and amount > available.available_purchased:
        raise InsufficientCredits(INSUFFICIENT_PURCHASED, amount, available.available_purchased,
                                  how_to_get_credits(session, user).text)
    if not purchased_only and amount > 0 and amount > available.available_total:
        raise InsufficientCredits(INSUFFICIENT_TOTAL, amount, available.available_total,
                                  how_to_get_credits(session, user).text)
    row = post(session, account, "HOLD", key, amount, held=amount, purchased_only=purchased_only,
               deployment_ref=deployment, module=module[:100], description=f"Held for {module or 'a deployment'}")
    audit.record(session, user, "credits.hold", target=f"user:{user.id}", amount=str(amount), key=key,
                 purchased_only=purchased_only, deployment=deployment, module=module or None)
    return _hold(row)


def spend(session: Session, hold_key: str, *, actor: User | None = None) -> Settlement:
    """Turn a hold into a SPEND exactly once.

    Takes awarded credits first, then purchased (purchased only for purchased-only holds), and records the
    purchased part, the partner revenue share in force and the module's partner (whom that share is owed).

    A hold already settled is left alone and its settlement returned (``repeated``).
    """
    held, account, done = _settling(session, hold_key)
    if done is not None:
        return _settlement(held, done, repeated=True)
    from_awarded = ZERO if held.purchased_only else min(max(ZERO, account.awarded), held.amount)
    from_purchased = held.amount - from_awarded
    row = post(session, account, "SPEND", f"{RESERVED}settle:{held.id}", held.amount, awarded=-from_awarded,
               purchased=-from_purchased, held=-held.amount, purchased_only=held.purchased_only, hold_id=held.id,
               purchased_part=from_purchased, revenue_share_pct=partner_revenue_share(session),
               partner_id=module_partner(session, held.module), deployment_ref=held.deployment_ref, module=held.module,
               description=f"Spent on {held.module or 'a deployment'}")
    rollup.count_spend(session, row)
    audit.record(session, actor, "credits.spend", target=f"user:{held.user_id}", amount=str(held.amount),
                 key=hold_key, purchased=str(from_purchased), deployment=held.deployment_ref)
    return _settlement(held, row)


def release(session: Session, hold_key: str, *, actor: User | None = None, reason: str = "") -> Settlement:
    """Give a hold's credits back exactly once (failure, timeout, cancel); a settled hold is left alone."""
    held, account, done = _settling(session, hold_key)
    if done is not None:
        return _settlement(held, done, repeated=True)
    row = post(session, account, "RELEASE", f"{RESERVED}settle:{held.id}", held.amount, held=-held.amount,
               purchased_only=held.purchased_only, hold_id=held.id, deployment_ref=held.deployment_ref,
               module=held.module, description=(reason or "Released")[:REASON_MAX])
    audit.record(session, actor, "credits.release", target=f"user:{held.user_id}", amount=str(held.amount),
                 key=hold_key, deployment=held.deployment_ref, reason=reason or None)
    return _settlement(held, row)


def _grant(session: Session, actor: User, user: User, amount: Decimal, kind: str, *, reason: str,
           key: str | None, platform: str) -> CreditTransaction:
    verb = kind.lower()
    if not has_any(actor, (FINANCE,)):
        raise NotAllowed(f"Only admins and finance can {verb} credits.", hint="Ask an admin for the finance role.")
    amount = check_amount(amount)
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"The reason is {len(reason)} characters long.", hint=f"Keep it to {REASON_MAX}.")
    if key is None:
        key = f"{RESERVED}{verb}:{uuid.uuid4().hex}"
    else:
        _check_key(key)
    account = locked_account(session, user.id)
    existing = find_by_key(session, key)
    if existing is not None:
        if existing.kind != kind or existing.user_id != user.id or existing.amount != amount:
            raise Conflict(f"The key `{key}` was already used for another credit operation.")
        return existing
    awarded, purchased = (amount, ZERO) if kind == "AWARD" else (ZERO, amount)
    row = post(session, account, kind, key, amount, awarded=awarded, purchased=purchased, actor_id=actor.id,
               description=reason.strip())
    audit.record(session, actor, f"credits.{verb}", target=f"user:{user.id}", platform=platform,
                 amount=str(amount), reason=reason.strip() or None, key=key)
    return row


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX or key.startswith(RESERVED):
        raise InvalidInput("An idempotency key must be 1 to 150 characters and not start with `rad:`.")


def _settling(session: Session, hold_key: str) -> tuple[CreditTransaction, CreditAccount, CreditTransaction | None]:
    """The hold, its account (locked) and, read under that lock, the row that already settled it."""
    held = find_by_key(session, hold_key)
    if held is None or held.kind != "HOLD":
        raise NotFound(f"There is no credit hold `{hold_key}`.")
    account = locked_account(session, held.user_id)
    return held, account, settlement_of(session, held)


def _hold(row: CreditTransaction, *, repeated: bool = False) -> Hold:
    return Hold(row.key, row.user_id, row.amount, row.purchased_only, row.deployment_ref, row.module, row.id,
                repeated)


def _settlement(held: CreditTransaction, row: CreditTransaction, *, repeated: bool = False) -> Settlement:
    return Settlement(held.key, row.kind, row.amount, abs(row.awarded_delta), abs(row.purchased_delta),
                      row.revenue_share_pct, row.id, repeated)
