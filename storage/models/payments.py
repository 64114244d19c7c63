"""Payments: Stripe Checkout purchases, the Stripe events already processed, subscription tiers and subscriptions.

A purchase row is keyed by its Checkout Session id, so however often Stripe delivers an event about a session,
its credits are added once; the processed-events table keeps each event id once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.states import PurchaseStatus, SubscriptionStatus, state_type


class Purchase(Base):
    """One Checkout Session a user opened to buy credits (``mode`` payment) or subscribe (``mode`` subscription).

    ``key`` is the idempotency key sent to Stripe and kept in the session's metadata. The offer message (the
    chat message that showed the button) is kept so it can be updated once the session is paid.
    """

    __tablename__ = "purchases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    mode: Mapped[str] = mapped_column(String(16), default="payment")
    status: Mapped[PurchaseStatus] = mapped_column(state_type(PurchaseStatus, length=16, column="status"),
                                                   default=PurchaseStatus.CREATING)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    credits: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("subscription_tiers.id"), default=None)
    session_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    checkout_url: Mapped[str] = mapped_column(String(2000), default="")
    payment_intent: Mapped[str | None] = mapped_column(String(255), index=True, default=None)
    refunded_credits: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    refunded_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal(0))
    failure: Mapped[str] = mapped_column(String(200), default="")
    chat_platform: Mapped[str] = mapped_column(String(16), default="")
    chat_workspace: Mapped[str] = mapped_column(String(64), default="")
    chat_channel: Mapped[str] = mapped_column(String(64), default="")
    chat_thread: Mapped[str] = mapped_column(String(64), default="")
    chat_message: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class StripeEvent(Base):
    """A Stripe event processed once: a repeated delivery of the same id is answered without doing anything."""

    __tablename__ = "stripe_events"

    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubscriptionTier(Base):
    """A subscription tier: its monthly price, the purchased credits each paid cycle adds, its Stripe price."""

    __tablename__ = "subscription_tiers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    price: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    credits: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    price_id: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Subscription(Base):
    """A user's one subscription (a new one replaces a canceled one in the same row)."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("subscription_tiers.id"))
    status: Mapped[SubscriptionStatus] = mapped_column(
        state_type(SubscriptionStatus, length=16, column="status"), default=SubscriptionStatus.PENDING)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    stripe_customer_id: Mapped[str] = mapped_column(String(255), default="")
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
