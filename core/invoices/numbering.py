"""Invoice numbers: ``RAD-YYYYMM-NNNNN``, given once per user and month when the invoice is first issued.

The number is stored with the invoice and never changes, even if late billing rows change the month's lines.
Numbers run in sequence within a month; two units of work issuing at once retry on the unique constraint.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import audit
from storage.models import Invoice, User, utcnow

PREFIX = "RAD"
ATTEMPTS = 20


def find(session: Session, user: User, month: str) -> Invoice | None:
    """The user's invoice of ``month`` if it was issued."""
    return session.scalars(select(Invoice).where(Invoice.user_id == user.id, Invoice.month == month)).one_or_none()


def issue(session: Session, user: User, month: str, *, actor: User | None = None) -> Invoice:
    """The user's invoice of ``month`` (``YYYY-MM``): the one issued before, or a new one with the next number."""
    for _ in range(ATTEMPTS):
        existing = find(session, user, month)
        if existing is not None:
            return existing
        issued = int(session.scalar(select(func.count(Invoice.id)).where(Invoice.month == month)) or 0)
        invoice = Invoice(number=f"{PREFIX}-{month.replace('-', '')}-{issued + 1:05d}", user_id=user.id, month=month,
                          issued_at=utcnow())
        try:
            with session.begin_nested():
                session.add(invoice)
                session.flush()
            audit.record(session, actor, "invoices.issue", target=f"invoice:{invoice.number}", user=user.id,
                         month=month)
            return invoice
        except IntegrityError:
            continue  # another unit of work took that number (or issued this invoice): look again
    raise RuntimeError(f"no invoice number could be issued for {month}")
