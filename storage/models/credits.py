"""The credit ledger: accounts and their append-only transactions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow

CREDIT_KINDS = ("SIGNUP", "AWARD", "PURCHASE", "HOLD", "RELEASE", "SPEND", "PROJECT", "REFUND", "DEBIT")
"""Kinds of ledger rows: grants (SIGNUP, AWARD, PURCHASE), reservations (HOLD, settled once by SPEND or
RELEASE), recurring project-cost debits (PROJECT), refunded purchases taken back (REFUND) and corrections
by finance or admins (DEBIT)."""

class CreditAccount(Base):
    """A user's credit buckets and the amount held. A cache: each column is the sum of a ledger delta.

    ``held_purchased`` is the part of ``held`` reserved by purchased-only holds. The row is locked
    (``SELECT ... FOR UPDATE``) whenever credits are held, spent, released or added.
    """

    __tablename__ = "credit_accounts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    awarded: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    purchased: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    held: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    held_purchased: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

class CreditTransaction(Base):
    """One append-only ledger row; ``key`` makes every operation apply at most once.

    A SPEND or RELEASE names the HOLD it settles (``hold_id``, unique: a hold is settled once). A SPEND
    records the part paid with purchased credits and the partner revenue-share percentage in force.
    """

    __tablename__ = "credit_transactions"
    __table_args__ = (
        Index("ix_credit_transactions_user_id_id", "user_id", "id"),
        Index("ix_credit_transactions_kind_created_at", "kind", "created_at"),
        Index("ix_credit_transactions_partner_id_created_at", "partner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    awarded_delta: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    purchased_delta: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    held_delta: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal(0))
    purchased_only: Mapped[bool] = mapped_column(default=False)
    balance_after: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("credit_transactions.id"), unique=True, default=None)
    purchased_part: Mapped[Decimal | None] = mapped_column(Numeric(18, 4), default=None)
    revenue_share_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), default=None)
    partner_id: Mapped[int | None] = mapped_column(Integer, default=None)
    """On a SPEND of a partner module: the module's partner (a user id) at that moment, whom the share is owed."""
    deployment_ref: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    module: Mapped[str] = mapped_column(String(100), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
