"""Stripe's webhook events, applied to the ledger exactly once, whatever their number and order.

Two guards, in the same unit of work as the credit: the event id is recorded in ``stripe_events`` (a repeat
of the same event does nothing), and the purchase row of the Checkout Session is locked and moves from
``open`` to ``paid`` once (a second event about the same session, e.g. ``checkout.session.completed`` and
then ``checkout.session.async_payment_succeeded``, or Stripe retrying with a new event, does nothing). The
ledger row's key (``stripe:checkout:<session>``, ``stripe:invoice:<invoice>``) is a third, unique guard.

Each handler returns an :class:`Applied`: what happened, whom to tell and what, and which offer message
to update. The caller (the chat layer) queues those messages in the same unit of work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from core import audit
from core.credits.amounts import format_credits
from core.credits.ledger import ZERO, balance_of, find_by_key, locked_account, post
from core.payments import checkout, subscriptions
from core.payments.checkout import format_money
from storage.db import dialect_insert
from storage.models import Purchase, PurchaseStatus, StripeEvent, SubscriptionStatus, SubscriptionTier, User, utcnow

log = logging.getLogger(__name__)

Json = Mapping[str, Any]
PLACES = Decimal("0.0001")


RETRY_WINDOW_SECONDS = 3600
"""How long an event that came before what it depends on is refused (500, so Stripe retries) before it is
recorded as unknown: a refund that overtook its session's completion waits for it, a stranger's is let go."""


class NotYet(Exception):
    """An event that depends on one not applied yet (a refund before its payment's completion)."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


@dataclass(frozen=True)
class Notice:
    """A direct message to a user."""

    user_id: int
    text: str


@dataclass
class Applied:
    """What one event did: ``outcome`` (short, for the log and ``stripe_events``), messages to send."""

    outcome: str
    notices: list[Notice] = field(default_factory=list)
    paid_offer: Purchase | None = None
    repeated: bool = False


def apply(session: Session, event: Json) -> Applied:
    """Apply one verified event once: a repeated event id does nothing (``repeated``)."""
    event_id, kind = str(event.get("id", ""))[:255], str(event.get("type", ""))[:100]
    if not _claim(session, event_id, kind):
        return Applied("repeated event", repeated=True)
    handler = HANDLERS.get(kind)
    data = event.get("data")
    found = data.get("object") if isinstance(data, Mapping) else None
    try:
        applied = handler(session, found, kind) if handler is not None and isinstance(found, Mapping) \
            else Applied("ignored")
    except NotYet as waiting:
        created = event.get("created")
        if isinstance(created, int) and time.time() - created < RETRY_WINDOW_SECONDS:
            raise  # the unit of work is undone, the event answered 500: Stripe delivers it again later
        applied = Applied(waiting.outcome)
    session.execute(update(StripeEvent).where(StripeEvent.event_id == event_id)
                    .values(outcome=applied.outcome[:200]))
    return applied


def _claim(session: Session, event_id: str, kind: str) -> bool:
    """Record the event id; False when it was recorded before (one statement, no savepoint)."""
    table = StripeEvent.__table__
    assert isinstance(table, Table)
    row = {"event_id": event_id, "type": kind, "outcome": "", "received_at": utcnow()}
    claimed = session.execute(dialect_insert(session)(table).values(**row)
                              .on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id))
    return claimed.first() is not None


# -- Checkout Sessions -----------------------------------------------------------------------------------

def _checkout_purchase(session: Session, found: Json) -> Purchase | None:
    """The purchase a session belongs to: by its id, else by the idempotency key in its metadata."""
    session_id = str(found.get("id", ""))
    purchase = checkout.by_session(session, session_id) if session_id else None
    if purchase is None:
        meta = found.get("metadata")
        key = str(meta.get("rad_purchase", "")) if isinstance(meta, Mapping) else ""
        purchase = checkout.by_key(session, key) if key else None
        if purchase is not None and purchase.session_id is None and session_id:
            purchase.session_id = session_id
    if purchase is not None and session_id and purchase.session_id != session_id:
        return None  # the metadata names a purchase of another session: not ours to settle
    return purchase


def session_completed(session: Session, found: Json, kind: str) -> Applied:
    """A session completed (paid now, or later for a delayed method) or whose delayed payment succeeded."""
    purchase = _checkout_purchase(session, found)
    if purchase is None:
        return Applied("unknown session")
    paid = kind == "checkout.session.async_payment_succeeded" or found.get("payment_status") in ("paid",
                                                                                                "no_payment_required")
    intent = found.get("payment_intent")
    if isinstance(intent, str) and intent and purchase.payment_intent is None:
        purchase.payment_intent = intent[:255]
    if purchase.status is PurchaseStatus.PAID:
        return Applied("session already paid")
    if not paid:
        return Applied("waiting for a delayed payment")
    if purchase.mode == "subscription":
        return _subscription_paid(session, purchase, found)
    return _credit_purchase(session, purchase)


def _credit_purchase(session: Session, purchase: Purchase) -> Applied:
    account = locked_account(session, purchase.user_id)
    # The purchase row, locked and not yet paid, says it was never credited; the key's unique index is the backstop.
    post(session, account, "PURCHASE", f"stripe:checkout:{purchase.session_id}", purchase.credits,
         purchased=purchase.credits, description=f"Bought for {format_money(purchase.amount, purchase.currency)} "
                                                 "(Stripe)")
    purchase.status = PurchaseStatus.PAID
    audit.record(session, None, "payments.paid", target=f"user:{purchase.user_id}", purchase=purchase.id,
                 amount=str(purchase.amount), currency=purchase.currency, credits=str(purchase.credits))
    now = balance_of(account)
    text = (f":white_check_mark: Payment received: {format_credits(purchase.credits)} purchased credits were added "
            f"for {format_money(purchase.amount, purchase.currency)}. You have "
            f"{format_credits(now.available_total)} credits available; see `/rad credits`.")
    return Applied("credited", [Notice(purchase.user_id, text)], paid_offer=purchase)


def _subscription_paid(session: Session, purchase: Purchase, found: Json) -> Applied:
    purchase.status = PurchaseStatus.PAID
    subscription_id = _id_of(found.get("subscription"))
    if subscription_id and purchase.tier_id is not None:
        subscriptions.attach(session, purchase.user_id, purchase.tier_id, subscription_id,
                             _id_of(found.get("customer")))
    tier = session.get(SubscriptionTier, purchase.tier_id) if purchase.tier_id is not None else None
    name = tier.name if tier is not None else "your tier"
    audit.record(session, None, "payments.subscribed", target=f"user:{purchase.user_id}", purchase=purchase.id,
                 subscription=subscription_id)
    return Applied("subscribed", [Notice(purchase.user_id, f":white_check_mark: You are subscribed to *{name}*. "
                                         "Each paid month adds its credits; see `/rad credits subscription`.")],
                   paid_offer=purchase)


def session_failed(session: Session, found: Json, kind: str) -> Applied:
    """A delayed payment failed, or the session expired unpaid: the purchase ends, nothing is added."""
    purchase = _checkout_purchase(session, found)
    if purchase is None:
        return Applied("unknown session")
    if purchase.status in (PurchaseStatus.PAID, PurchaseStatus.FAILED, PurchaseStatus.EXPIRED):
        return Applied(f"session already {purchase.status.value}")
    failed = kind == "checkout.session.async_payment_failed"
    purchase.status = PurchaseStatus.FAILED if failed else PurchaseStatus.EXPIRED
    if purchase.mode == "subscription":
        pending = subscriptions.of_user(session, session.get_one(User, purchase.user_id))
        if pending is not None and pending.status is SubscriptionStatus.PENDING:
            pending.status = SubscriptionStatus.CANCELED
    audit.record(session, None, f"payments.{purchase.status.value}", target=f"user:{purchase.user_id}",
                 purchase=purchase.id)
    what = "failed" if failed else "expired before it was paid"
    text = (f":x: Your payment of {format_money(purchase.amount, purchase.currency)} {what}; nothing was charged "
            "and no credits were added. Try again with `/rad credits buy <amount>`.")
    return Applied(purchase.status.value, [Notice(purchase.user_id, text)], paid_offer=purchase)


# -- invoices and subscriptions ----------------------------------------------------------------------------

def invoice_paid(session: Session, found: Json, kind: str) -> Applied:
    """A paid invoice of a subscription adds its tier's credits to purchased, once per invoice."""
    invoice_id = str(found.get("id", ""))[:150]
    subscription_id, meta = _invoice_subscription(found)
    row = subscriptions.by_stripe_id(session, subscription_id) if subscription_id else None
    if row is None and meta.get("rad_user", "").isdigit() and meta.get("rad_tier", "").isdigit():
        user = session.get(User, int(meta["rad_user"]))
        tier = session.get(SubscriptionTier, int(meta["rad_tier"]))
        if user is not None and tier is not None and subscription_id:  # the invoice came before the checkout
            row = subscriptions.attach(session, user.id, tier.id, subscription_id, _id_of(found.get("customer")))
    if row is None or not invoice_id:
        return Applied("unknown subscription")
    tier = session.get_one(SubscriptionTier, row.tier_id)
    account = locked_account(session, row.user_id)
    key = f"stripe:invoice:{invoice_id}"
    if find_by_key(session, key) is not None:
        return Applied("invoice already credited")
    post(session, account, "PURCHASE", key, tier.credits, purchased=tier.credits,
         description=f"Subscription {tier.name} (Stripe invoice)")
    audit.record(session, None, "payments.invoice_paid", target=f"user:{row.user_id}", invoice=invoice_id,
                 credits=str(tier.credits), tier=tier.name)
    text = (f":white_check_mark: Your *{tier.name}* subscription was renewed: {format_credits(tier.credits)} "
            "purchased credits were added.")
    return Applied("credited", [Notice(row.user_id, text)])


def subscription_changed(session: Session, found: Json, kind: str) -> Applied:
    """Stripe's view of a subscription: ending at the period's end, ended, or running again."""
    row = subscriptions.by_stripe_id(session, str(found.get("id", "")))
    if row is None:
        return Applied("unknown subscription")
    ended = kind == "customer.subscription.deleted" or found.get("status") == "canceled"
    if ended:
        row.status = SubscriptionStatus.CANCELED
    elif found.get("cancel_at_period_end"):
        row.status = SubscriptionStatus.CANCELING
    elif found.get("status") in ("active", "trialing"):
        row.status = SubscriptionStatus.ACTIVE
    end = found.get("current_period_end")
    if isinstance(end, int):
        row.current_period_end = datetime.fromtimestamp(end, UTC)
    return Applied(f"subscription {row.status.value}")


# -- refunds ---------------------------------------------------------------------------------------------

def charge_refunded(session: Session, found: Json, kind: str) -> Applied:
    """A refund takes back the credits it paid for, as far as purchased credits are left; the rest is recorded."""
    intent = _id_of(found.get("payment_intent"))
    purchase = None
    if intent:
        purchase = session.scalars(select(Purchase).where(Purchase.payment_intent == intent).with_for_update()
                                   ).first()
    if purchase is None and intent:
        raise NotYet("unknown payment")  # the refund may have overtaken the session's completion
    if purchase is None or purchase.status is not PurchaseStatus.PAID or purchase.mode != "payment":
        return Applied("unknown payment")
    cents = found.get("amount_refunded")
    if not isinstance(cents, int) or cents <= 0:
        return Applied("no refund amount")
    refunded = min(Decimal(cents) / 100, purchase.amount)
    due = (purchase.credits * refunded / purchase.amount).quantize(PLACES) if purchase.amount else ZERO
    delta = due - purchase.refunded_credits
    if delta <= 0:
        return Applied("refund already recorded")
    account = locked_account(session, purchase.user_id)
    taken = min(delta, max(ZERO, balance_of(account).available_purchased))
    short = delta - taken
    key = f"stripe:refund:{_id_of(found.get('id'))[:100]}:{cents}"
    if find_by_key(session, key) is None:
        note = f"Refund of {format_money(refunded, purchase.currency)} (Stripe)"
        if short > 0:
            note += f"; {format_credits(short)} credits were already spent and could not be taken back"
        post(session, account, "REFUND", key, taken, purchased=-taken, description=note[:500])
    purchase.refunded_credits += delta
    purchase.refunded_amount = refunded
    audit.record(session, None, "payments.refunded", target=f"user:{purchase.user_id}", purchase=purchase.id,
                 refunded=str(refunded), debited=str(taken), uncollected=str(short))
    text = (f":leftwards_arrow_with_hook: {format_money(refunded, purchase.currency)} of your purchase was refunded; "
            f"{format_credits(taken)} purchased credits were taken back.")
    return Applied("refunded" if short <= 0 else "refunded in part", [Notice(purchase.user_id, text)])


def _id_of(value: object) -> str:
    """An expandable field's id: the string itself, or the ``id`` of an expanded object."""
    if isinstance(value, str):
        return value[:255]
    if isinstance(value, Mapping):
        return str(value.get("id", ""))[:255]
    return ""


def _invoice_subscription(found: Json) -> tuple[str, dict[str, str]]:
    """An invoice's subscription id and its metadata, where older and newer API versions put them."""
    subscription_id = _id_of(found.get("subscription"))
    details = found.get("subscription_details")
    parent = found.get("parent")
    if isinstance(parent, Mapping) and isinstance(parent.get("subscription_details"), Mapping):
        details = parent["subscription_details"]
        subscription_id = subscription_id or _id_of(details.get("subscription"))
    meta = details.get("metadata") if isinstance(details, Mapping) else None
    return subscription_id, {str(k): str(v) for k, v in meta.items()} if isinstance(meta, Mapping) else {}


HANDLERS: dict[str, Callable[[Session, Json, str], Applied]] = {
    "checkout.session.completed": session_completed,
    "checkout.session.async_payment_succeeded": session_completed,
    "checkout.session.async_payment_failed": session_failed,
    "checkout.session.expired": session_failed,
    "invoice.paid": invoice_paid,
    "charge.refunded": charge_refunded,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
}
HANDLED = tuple(HANDLERS)
"""The event types the bot acts on; every other type is answered 200 and ignored."""
