"""A user's credit story for history tests: dated grants and debits, and a deployment's hold spent.

Grants are written with ``core.credits.ledger.post`` and a chosen ``created_at`` (the services stamp rows
with the current time), so filters by date have something to find; the deployment's rows go through the
services (hold, spend, release) as a deploy would write them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from core.credits import service as credits
from core.credits.ledger import locked_account, post
from storage.models import Deployment, User

JANUARY_GRANTS = 21
"""Awards on 1 to 21 January 2026 (one a day, 1 to 21 credits), then the deployment's rows today."""
DEPLOYMENT = "dep1a2b3"
OTHER_DEPLOYMENT = "dep9z8y7"


def january(day: int) -> datetime:
    """Noon UTC on ``day`` January 2026."""
    return datetime(2026, 1, day, 12, 0, tzinfo=UTC)


def write_story(s: Session, user: User, actor: User) -> None:
    """21 dated awards, a purchase, a debit, and two deployments: one hold spent, one released."""
    account = locked_account(s, user.id)
    for day in range(1, JANUARY_GRANTS + 1):
        amount = Decimal(day)
        post(s, account, "AWARD", f"story:{user.id}:{day}", amount, awarded=amount, actor_id=actor.id,
             description=f"day {day}", created_at=january(day))
    post(s, account, "PURCHASE", f"story:{user.id}:buy", Decimal("12.5"), purchased=Decimal("12.5"),
         actor_id=actor.id, description="bought, with, commas", created_at=datetime(2026, 2, 3, 8, 0, tzinfo=UTC))
    post(s, account, "DEBIT", f"story:{user.id}:debit", Decimal("0.25"), awarded=Decimal("-0.25"),
         actor_id=actor.id, description="correction", created_at=datetime(2026, 2, 4, 8, 0, tzinfo=UTC))
    for short, settle in ((DEPLOYMENT, credits.spend), (OTHER_DEPLOYMENT, credits.release)):
        s.add(Deployment(short_id=short, module_name="net-plan", owner_id=user.id))
        credits.hold(s, user, Decimal(30), key=f"hold:{short}", deployment=short, module="net-plan")
        settle(s, f"hold:{short}")
    credits.hold(s, user, Decimal(7), key="hold:open", deployment=DEPLOYMENT, module="net-plan")
    s.flush()
