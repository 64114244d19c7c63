"""Subscriptions: one per user, opened through Checkout (``mode`` subscription), ended at the period's end.

The credits come with each paid invoice (``core.payments.events``), not with the checkout: Stripe sends
``invoice.paid`` for the first cycle too. As for one-time purchases, starting a subscription is recorded
before Stripe is called and settled after it, never holding a transaction over the call.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.conversations import ConversationRef
from core.errors import Conflict, NotFound
from core.payments.checkout import metadata, open_session, remember_offer, require_buying, return_urls
from core.services import Services
from storage.db import Database
from storage.models import Purchase, PurchaseStatus, Subscription, SubscriptionStatus, SubscriptionTier, User

LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.CANCELING)


def of_user(session: Session, user: User) -> Subscription | None:
    """The user's subscription row (in any state), if any."""
    return session.scalars(select(Subscription).where(Subscription.user_id == user.id)).one_or_none()


def by_stripe_id(session: Session, subscription_id: str) -> Subscription | None:
    """The subscription Stripe calls ``subscription_id``, locked for the rest of the unit of work."""
    return session.scalars(select(Subscription).where(Subscription.stripe_subscription_id == subscription_id)
                           .with_for_update()).one_or_none()


def open_checkout(session: Session, user: User) -> Purchase | None:
    """The user's subscription checkout still waiting for payment, if any."""
    return session.scalars(select(Purchase).where(Purchase.user_id == user.id, Purchase.mode == "subscription",
                                                  Purchase.status == PurchaseStatus.OPEN)
                           .order_by(Purchase.id.desc())).first()


def start(session: Session, user: User, tier: SubscriptionTier, where: ConversationRef | None) -> Purchase:
    """Record a subscription checkout about to be opened; refused while the user has a live subscription."""
    current = of_user(session, user)
    if current is not None and current.status in LIVE:
        raise Conflict("You already have a subscription; only one is allowed at a time.",
                       hint="See it with `/rad credits subscription`; cancel it there to choose another tier.")
    if not tier.active:
        raise NotFound(f"The tier `{tier.name}` is no longer offered.")
    purchase = Purchase(key=uuid.uuid4().hex, user_id=user.id, mode="subscription", status=PurchaseStatus.CREATING,
                        amount=tier.price, currency=tier.currency, credits=tier.credits, tier_id=tier.id)
    remember_offer(purchase, where)
    session.add(purchase)
    session.flush()
    audit.record(session, user, "payments.subscribe", target=f"purchase:{purchase.id}",
                 platform=where.platform if where else "", tier=tier.name)
    return purchase


def subscribe(db: Database, services: Services, user_id: int, tier_id: int, where: ConversationRef | None,
              ) -> Purchase:
    """Open a subscription Checkout Session for a tier, as ``checkout.buy`` does for a one-time purchase."""
    with db.unit_of_work() as session:
        require_buying(session, services)
        user = session.get_one(User, user_id)
        tier = session.get(SubscriptionTier, tier_id)
        if tier is None:
            raise NotFound("That tier no longer exists.", hint="See the tiers with `/rad credits subscription`.")
        waiting = open_checkout(session, user)
        if waiting is not None:
            if waiting.tier_id != tier.id:
                raise Conflict("You already have a subscription checkout open for another tier.",
                               hint="Finish it, or wait for it to expire, then choose again.")
            session.expunge(waiting)
            return waiting  # the same page again: a second session could become a second subscription
        purchase = start(session, user, tier, where)
        params = session_params(purchase, tier, user, services.config.public_base_url)
        purchase_id, key = purchase.id, purchase.key
    return open_session(db, services, purchase_id, key, params)


def cancel(db: Database, services: Services, user_id: int) -> Subscription:
    """Ask Stripe to end the user's subscription at the period's end, then record it (no transaction over the call)."""
    with db.unit_of_work() as session:
        row = cancel_requested(session, session.get_one(User, user_id))
        stripe_id, row_id = str(row.stripe_subscription_id), row.id
    services.stripe().cancel_at_period_end(stripe_id, f"cancel:{row_id}:{stripe_id}")
    with db.unit_of_work() as session:
        done = canceling(session, session.get_one(User, user_id), stripe_id)
        session.expunge(done)
    return done


def session_params(purchase: Purchase, tier: SubscriptionTier, user: User, public_url: str) -> dict[str, object]:
    """The Checkout Session of a subscription: the tier's Stripe price, our ids on the session and subscription."""
    ids = {**metadata(purchase), "rad_tier": str(tier.id)}
    return {"mode": "subscription", "line_items": [{"price": tier.price_id, "quantity": 1}],
            "client_reference_id": str(user.id), "metadata": ids, "subscription_data": {"metadata": ids},
            **return_urls(public_url)}


def attach(session: Session, user_id: int, tier_id: int, subscription_id: str, customer: str) -> Subscription:
    """The user's subscription row for Stripe's ``subscription_id``, made or taken over; now ``active``."""
    row = by_stripe_id(session, subscription_id)
    if row is None:
        row = session.scalars(select(Subscription).where(Subscription.user_id == user_id).with_for_update()
                              ).one_or_none()
    if row is None:
        row = Subscription(user_id=user_id, tier_id=tier_id)
        session.add(row)
    if row.stripe_subscription_id != subscription_id:
        row.stripe_subscription_id, row.tier_id = subscription_id, tier_id
        row.status = SubscriptionStatus.ACTIVE
    if row.status is SubscriptionStatus.PENDING:
        row.status = SubscriptionStatus.ACTIVE
    row.stripe_customer_id = customer[:255] or row.stripe_customer_id
    session.flush()
    return row


def cancel_requested(session: Session, user: User) -> Subscription:
    """The user's live subscription, which they want to end at the period's end."""
    row = of_user(session, user)
    if row is None or row.status not in LIVE or not row.stripe_subscription_id:
        raise NotFound("You have no subscription to cancel.", hint="Subscribe with `/rad credits subscription`.")
    return row


def canceling(session: Session, user: User, subscription_id: str) -> Subscription:
    """Record that Stripe will end the subscription at the period's end. Audited."""
    row = by_stripe_id(session, subscription_id)
    if row is None or row.user_id != user.id:
        raise NotFound("You have no subscription to cancel.")
    if row.status is SubscriptionStatus.ACTIVE:
        row.status = SubscriptionStatus.CANCELING
        audit.record(session, user, "payments.subscription_cancel", target=f"subscription:{row.id}")
    return row
