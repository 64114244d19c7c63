"""Revenue: the daily rollup of paying SPENDs; digest channels and each period's digest, claimed once per channel."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.states import DigestCadence, DigestPostStatus, DigestTargetStatus, state_type


class DigestTarget(Base):
    """A chat channel that receives the revenue digest every period (one row per channel, kept when off)."""

    __tablename__ = "digest_targets"
    __table_args__ = (UniqueConstraint("platform", "workspace", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    workspace: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(64))
    cadence: Mapped[DigestCadence] = mapped_column(state_type(DigestCadence, length=10, column="cadence"))
    status: Mapped[DigestTargetStatus] = mapped_column(
        state_type(DigestTargetStatus, length=10, column="status"), default=DigestTargetStatus.ACTIVE)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    """The finance user or admin who made the channel a target; told when it breaks."""
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    """The start of the first period digested here (the period in which the target was set)."""
    broken_reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DigestPost(Base):
    """One period's digest for one target: the unique (target, period) claim makes it go out exactly once."""

    __tablename__ = "digest_posts"
    __table_args__ = (UniqueConstraint("target_id", "period_start"),
                      Index("ix_digest_posts_status", "status"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("digest_targets.id", ondelete="CASCADE"))
    cadence: Mapped[DigestCadence] = mapped_column(state_type(DigestCadence, length=10, column="cadence"))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[DigestPostStatus] = mapped_column(
        state_type(DigestPostStatus, length=10, column="status"), default=DigestPostStatus.CLAIMED)
    late: Mapped[bool] = mapped_column(default=False)
    """Claimed more than the grace time after the period ended (the clock was down): the post says so."""
    attempts: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(String(64), default="")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


NO_PARTNER = 0
"""``RevenueDay.partner_id`` of a platform module's SPENDs (no partner; user ids start at 1)."""
NO_SHARE = -1
"""``RevenueDay.share_bp`` of SPENDs that carry no snapshotted share percentage (they owe no share)."""


class RevenueDay(Base):
    """The paying SPENDs of one UTC day, summed per module, partner, snapshotted share and own-module flag.

    Kept in the same transaction as each SPEND (``core.revenue.rollup``), so reports over whole days read a
    few rows a day instead of every SPEND. Sums are exact integers: ``purchased_units`` is the purchased part
    in ten-thousandths of a credit, ``share_units`` that times the share in hundredths of a percent (0 when no
    share is owed: a platform module, the partner's own deployment, no share snapshotted).
    """

    __tablename__ = "revenue_days"
    __table_args__ = (Index("ix_revenue_days_partner_id_day", "partner_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    module: Mapped[str] = mapped_column(String(100), primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    """The module's partner fixed on the SPEND, or :data:`NO_PARTNER`."""
    share_bp: Mapped[int] = mapped_column(Integer, primary_key=True)
    """The share snapshotted on the SPEND in hundredths of a percent (20% is 2000), or :data:`NO_SHARE`."""
    own_module: Mapped[bool] = mapped_column(primary_key=True)
    """The partner deployed their own module: counted as revenue, never as a share."""
    deployments: Mapped[int] = mapped_column(Integer)
    purchased_units: Mapped[int] = mapped_column(BigInteger)
    share_units: Mapped[int] = mapped_column(BigInteger)
