"""Project costs: imported billing-export rows, the imports that brought them, recurring debits and invoices.

Amounts of money are kept as integer nanos (10^-9 of the currency unit, as Google's ``Money`` type does), so
sums stay exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, Numeric, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, utcnow
from storage.models.states import CostDebitStatus, state_type


class CostImport(Base):
    """One import of a billing source: a CSV file (by content digest) or one BigQuery read."""

    __tablename__ = "cost_imports"
    __table_args__ = (UniqueConstraint("source", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    """``csv:<folder or file>`` or ``bigquery:<table>``: the billing source as configured."""
    digest: Mapped[str] = mapped_column(String(64))
    """The file's SHA-256 (CSV), or the read's watermark range (BigQuery): the same import is never done twice."""
    name: Mapped[str] = mapped_column(String(300), default="")
    rows: Mapped[int] = mapped_column(default=0)
    """Rows added by this import."""
    duplicates: Mapped[int] = mapped_column(default=0)
    """Rows of this import that were already imported (counted once)."""
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    """The newest ``export_time`` seen: the next import of this source reads only rows after it."""
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def _only(condition: str) -> dict[str, Any]:
    """The keyword arguments of a partial index over the rows matching ``condition`` (PostgreSQL and SQLite)."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


class CostRow(Base):
    """One billing-export row: a service's SKU in a project for one usage window, attributed if possible."""

    __tablename__ = "cost_rows"
    __table_args__ = (
        Index("ix_cost_rows_user_id_usage_start", "user_id", "usage_start", **_only("user_id IS NOT NULL")),
        Index("ix_cost_rows_deployment_id_usage_start", "deployment_id", "usage_start",
              **_only("deployment_id IS NOT NULL")),
        Index("ix_cost_rows_invoice_month_user_id", "invoice_month", "user_id", **_only("user_id IS NOT NULL")),
        Index("ix_cost_rows_unattributed_usage_start", "usage_start", **_only("deployment_id IS NULL")),
        UniqueConstraint("usage_start", "row_key", name="uq_cost_rows_usage_start_row_key"),
    )
    """Each index covers the rows looked up by it (attributed ones by user or deployment, the others by period
    only), so an imported row maintains only the indexes of its kind. The content key is unique with the usage
    start first: an export comes in time order, so its keys land together at the index's newest end instead of
    all over a large index (the key's digest covers the usage start, so uniqueness is the key's own)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    row_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    """SHA-256 of the row's content (32 bytes): the same row imported twice is stored once."""
    import_id: Mapped[int] = mapped_column(Integer)
    """The ``cost_imports`` row that brought it: written in the same transaction, and imports are never deleted,
    so no foreign key is checked per row (it halved the time PostgreSQL takes to move a chunk in)."""
    billing_account: Mapped[str] = mapped_column(String(64), default="")
    service: Mapped[str] = mapped_column(String(200))
    sku: Mapped[str] = mapped_column(String(300), default="")
    usage_start: Mapped[datetime] = mapped_column(UTCDateTime())
    usage_end: Mapped[datetime] = mapped_column(UTCDateTime())
    project_id: Mapped[str] = mapped_column(String(100), default="")
    project_name: Mapped[str] = mapped_column(String(200), default="")
    label_deployment: Mapped[str] = mapped_column(String(64), default="")
    """The row's ``rad-deployment`` label, if any."""
    cost_nanos: Mapped[int] = mapped_column(BigInteger)
    credits_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    """Google's credits on the row (discounts, free tier): zero or negative."""
    currency: Mapped[str] = mapped_column(String(3))
    invoice_month: Mapped[str] = mapped_column(String(6), default="")
    """``YYYYMM`` as the export writes it (the usage start's month when the export has none)."""
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="SET NULL"),
                                                      default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    """The owner of the deployment the row is attributed to (None: unattributed, shown to finance)."""
    debit_id: Mapped[int | None] = mapped_column(ForeignKey("cost_debits.id"), default=None)
    """The recurring debit that charged the row (None: not charged yet)."""


class CostDebitPeriod(Base):
    """A debit period claimed by one clock: the cost debit runs once per period, however many clocks run."""

    __tablename__ = "cost_debit_periods"

    period: Mapped[str] = mapped_column(String(40), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    debits: Mapped[int] = mapped_column(default=0)


class CostDebit(Base):
    """One user's project costs of one period: charged as a PROJECT transaction, or flagged short."""

    __tablename__ = "cost_debits"
    __table_args__ = (UniqueConstraint("period", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[CostDebitStatus] = mapped_column(state_type(CostDebitStatus, length=16, column="status"))
    net_nanos: Mapped[int] = mapped_column(BigInteger)
    """The net cost (cost plus Google's credits) of the rows it covers."""
    currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    """``credits_per_unit`` when it ran."""
    credits: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("credit_transactions.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Invoice(Base):
    """A user's invoice of one month: its number is given once, when it is first issued, and never changes."""

    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("user_id", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    month: Mapped[str] = mapped_column(String(7), index=True)
    """``YYYY-MM``."""
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
