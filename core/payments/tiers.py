"""Subscription tiers: a name, a monthly price, the purchased credits each paid cycle adds, a Stripe price id.

Admins and finance add and change them; users see the active ones. A tier is never deleted (subscriptions
point at it): it is switched off instead.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import FINANCE, has_any
from core.credits.amounts import check_amount, parse_amount
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.payments.checkout import MAX_PURCHASE, MONEY
from core.settings import platform as settings
from storage.models import SubscriptionTier, User

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,59}")
PRICE_ID = re.compile(r"price_[A-Za-z0-9_]{1,250}")


def active(session: Session) -> list[SubscriptionTier]:
    """The tiers users may subscribe to, cheapest first."""
    return list(session.scalars(select(SubscriptionTier).where(SubscriptionTier.active.is_(True))
                                .order_by(SubscriptionTier.price, SubscriptionTier.name)))


def every(session: Session, actor: User) -> list[SubscriptionTier]:
    """Every tier, switched off ones too (admins and finance)."""
    _require_manager(actor)
    return list(session.scalars(select(SubscriptionTier).order_by(SubscriptionTier.price, SubscriptionTier.name)))


def find(session: Session, name: str) -> SubscriptionTier:
    """The tier called ``name`` (any case)."""
    tier = session.scalars(select(SubscriptionTier).where(func.lower(SubscriptionTier.name) == name.strip().lower())
                           ).one_or_none()
    if tier is None:
        raise NotFound(f"There is no tier `{name.strip()[:60]}`.",
                       hint="The tiers are listed by `/rad credits subscription`.")
    return tier


def save(session: Session, actor: User, name: str, price: str, credits: str, price_id: str, *,
         active_now: bool = True, platform: str = "") -> tuple[SubscriptionTier, bool]:
    """Add the tier ``name`` or change it; returns the tier and whether it is new. Audited."""
    _require_manager(actor)
    clean = name.strip()
    if not NAME.fullmatch(clean):
        raise InvalidInput(f"`{clean[:60]}` is not a tier name.",
                           hint="Use up to 60 letters, digits, spaces, dots, dashes or underscores.")
    written = price.strip()
    if not MONEY.fullmatch(written) or not Decimal(0) < Decimal(written) <= MAX_PURCHASE:
        raise InvalidInput(f"`{written[:20]}` is not a monthly price.", hint="Write it like 29 or 29.90.")
    how_many = check_amount(parse_amount(credits, "amount of credits"), "amount of credits")
    if not PRICE_ID.fullmatch(price_id.strip()):
        raise InvalidInput(f"`{price_id.strip()[:60]}` is not a Stripe price id.",
                           hint="Copy it from the Stripe dashboard: it starts with `price_`.")
    existing = session.scalars(select(SubscriptionTier).where(func.lower(SubscriptionTier.name) == clean.lower())
                               ).one_or_none()
    clash = session.scalars(select(SubscriptionTier).where(SubscriptionTier.price_id == price_id.strip())).first()
    if clash is not None and clash is not existing:
        raise Conflict(f"The Stripe price `{price_id.strip()}` already belongs to the tier `{clash.name}`.")
    tier = existing or SubscriptionTier(name=clean)
    tier.price, tier.credits, tier.price_id = Decimal(written), how_many, price_id.strip()
    tier.currency, tier.active = settings.currency(session), active_now
    if existing is None:
        session.add(tier)
    session.flush()
    audit.record(session, actor, "payments.tier_saved", target=f"tier:{tier.id}", platform=platform, name=clean,
                 price=str(tier.price), credits=str(how_many), price_id=tier.price_id, active=active_now,
                 new=existing is None)
    return tier, existing is None


def switch(session: Session, actor: User, name: str, on: bool, *, platform: str = "") -> SubscriptionTier:
    """Offer a tier again, or stop offering it (its subscribers keep it). Audited."""
    _require_manager(actor)
    tier = find(session, name)
    tier.active = on
    audit.record(session, actor, "payments.tier_switched", target=f"tier:{tier.id}", platform=platform, active=on)
    return tier


def _require_manager(actor: User) -> None:
    if not has_any(actor, (FINANCE,)):
        raise NotAllowed("Only admins and finance manage subscription tiers.")
