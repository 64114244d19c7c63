"""One-time purchases: an amount of currency, the credits it buys, and the Checkout Session that takes the payment.

A purchase goes through three short steps, none holding a transaction over the call to Stripe:
:func:`start` records it (``creating``) with a fresh idempotency key; the caller opens the session with
:func:`session_params` outside any transaction; :func:`opened` (or :func:`not_opened` when Stripe failed)
records the outcome. A purchase never stays ``creating``: a failed call marks it ``failed``. Credits land only
when Stripe's webhook says the session is paid (``core.payments.events``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.accounts.roles import FINANCE, has_any
from core.conversations import ConversationRef
from core.credits.amounts import MAX_AMOUNT, format_credits
from core.errors import InvalidInput, NotAllowed, NotFound
from core.payments.client import (
    CheckoutSession,
    PaymentsNotConfigured,
    PaymentsRefused,
    PaymentsUnavailable,
    payments_configured,
)
from core.services import Services
from core.settings import platform as settings
from storage.db import Database
from storage.models import Purchase, PurchaseStatus, User, utcnow

MONEY = re.compile(r"\d{1,9}(\.\d{1,2})?")
MAX_PURCHASE = Decimal(100_000)
"""The most one purchase may be, in the currency (a guard against typos: 1000000 instead of 100)."""
CENTS = Decimal("0.01")
SUCCESS_PATH = "/stripe/success"
CANCEL_PATH = "/stripe/cancel"
STALE_CREATING_SECONDS = 120
"""A purchase still ``creating`` after this long lost its process mid-call; it is shown as failed."""


@dataclass(frozen=True)
class Quote:
    """What an amount buys: the amount, its currency and the credits (amount × ``credits_per_unit``)."""

    amount: Decimal
    currency: str
    credits: Decimal

    @property
    def price(self) -> str:
        """The amount as people read it: ``25.00 USD``."""
        return format_money(self.amount, self.currency)


def format_money(amount: Decimal, currency: str) -> str:
    """``25.00 USD``: two decimals, thousands separated, the code in capitals."""
    return f"{amount.quantize(CENTS):,f} {currency.upper()}"


def require_buying(session: Session, services: Services) -> None:
    """Refuse unless buying is switched on (``enable_credits``, ``enable_subscription``) and Stripe configured."""
    if not settings.subscription_enabled(session):
        raise NotAllowed("Buying credits is not switched on on this platform.",
                         hint="An admin can turn it on with `/rad admin settings enable_subscription true`.")
    if not payments_configured(services.config):
        raise PaymentsNotConfigured()


def buy(db: Database, services: Services, user_id: int, written: str, where: ConversationRef | None,
        ) -> tuple[Purchase, Quote]:
    """Open a Checkout Session for the amount typed: recorded, opened at Stripe, recorded again.

    No transaction is open while Stripe is called. When Stripe fails, the purchase is marked ``failed``
    and the error (a clear message, nothing charged) is raised.
    """
    with db.unit_of_work() as session:
        require_buying(session, services)
        offer = quote(session, written)
        user = session.get_one(User, user_id)
        purchase = start(session, user, offer, where)
        purchase_id, key = purchase.id, purchase.key
        params = session_params(purchase, user, services.config.public_base_url)
    return open_session(db, services, purchase_id, key, params), offer


def open_session(db: Database, services: Services, purchase_id: int, key: str, params: dict[str, object],
                 ) -> Purchase:
    """Ask Stripe for the session (no transaction open) and record its outcome; raises when Stripe failed."""
    try:
        created = services.stripe().create_checkout_session(params, key)
    except (PaymentsUnavailable, PaymentsRefused) as error:
        with db.unit_of_work() as session:
            not_opened(session, purchase_id, error.message)
        raise
    with db.unit_of_work() as session:
        purchase = opened(session, purchase_id, created)
        session.expunge(purchase)
    return purchase


def quote(session: Session, written: str) -> Quote:
    """The credits the amount typed by a user buys; refuses what is not a sensible amount of money."""
    currency = settings.currency(session)
    text = written.strip().lstrip("$€£").strip()
    if not MONEY.fullmatch(text):
        raise InvalidInput(f"`{written.strip()[:40]}` is not an amount of money.",
                           hint=f"Write the amount in {currency.upper()} with at most two decimals, like 25 or 12.50.")
    amount = Decimal(text)
    least = settings.min_purchase(session)
    if amount < least:
        raise InvalidInput(f"The smallest purchase is {format_money(least, currency)}; "
                           f"{format_money(amount, currency)} is less.",
                           hint=f"Try `/rad credits buy {least.normalize():f}`.")
    if amount > MAX_PURCHASE:
        raise InvalidInput(f"{format_money(amount, currency)} is more than one purchase may be.",
                           hint=f"The most is {format_money(MAX_PURCHASE, currency)} at a time.")
    credits = (amount * settings.credits_per_unit(session)).quantize(Decimal("0.0001"))
    if credits > MAX_AMOUNT:
        raise InvalidInput(f"{format_money(amount, currency)} would buy more credits than one purchase may add.",
                           hint=f"The most is {format_credits(MAX_AMOUNT)} credits at a time.")
    return Quote(amount, currency, credits)


def start(session: Session, user: User, offer: Quote, where: ConversationRef | None) -> Purchase:
    """Record a purchase about to be opened at Stripe (``creating``), with its own idempotency key.

    The user's purchases left ``creating`` by a process that stopped mid-call are marked ``failed`` first.
    """
    fail_stale(session, user.id)
    purchase = Purchase(key=uuid.uuid4().hex, user_id=user.id, mode="payment", status=PurchaseStatus.CREATING,
                        amount=offer.amount, currency=offer.currency, credits=offer.credits)
    remember_offer(purchase, where)
    session.add(purchase)
    session.flush()
    audit.record(session, user, "payments.checkout", target=f"purchase:{purchase.id}",
                 platform=where.platform if where else "", amount=str(offer.amount), currency=offer.currency,
                 credits=str(offer.credits))
    return purchase


def fail_stale(session: Session, user_id: int) -> int:
    """Mark ``failed`` the user's purchases still ``creating`` after ``STALE_CREATING_SECONDS``; how many."""
    cutoff = utcnow() - timedelta(seconds=STALE_CREATING_SECONDS)
    stale = list(session.scalars(select(Purchase).where(Purchase.user_id == user_id,
                                                        Purchase.status == PurchaseStatus.CREATING,
                                                        Purchase.created_at < cutoff)))
    for purchase in stale:
        purchase.status, purchase.failure = PurchaseStatus.FAILED, "the bot stopped while opening the payment page"
    return len(stale)


def remember_offer(purchase: Purchase, where: ConversationRef | None) -> None:
    """Keep where the offer was shown, to update that message once the purchase is paid."""
    if where is None:
        return
    purchase.chat_platform, purchase.chat_workspace = where.platform, where.workspace[:64]
    purchase.chat_channel, purchase.chat_thread = where.channel[:64], where.thread[:64]
    purchase.chat_message = where.message[:64]


def session_params(purchase: Purchase, user: User, public_url: str) -> dict[str, object]:
    """The Checkout Session for a one-time purchase: one line of ``amount``, our ids in its metadata."""
    return {
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": purchase.currency, "unit_amount": int((purchase.amount * 100).to_integral_value()),
            "product_data": {"name": f"{format_credits(purchase.credits)} RAD credits"}}}],
        "client_reference_id": str(user.id),
        "metadata": metadata(purchase),
        "payment_intent_data": {"metadata": metadata(purchase)},
        **return_urls(public_url),
    }


def metadata(purchase: Purchase) -> dict[str, str]:
    """What Stripe keeps for us on the session: the user, the credits, the purchase's idempotency key."""
    return {"rad_user": str(purchase.user_id), "rad_credits": str(purchase.credits), "rad_purchase": purchase.key}


def return_urls(public_url: str) -> dict[str, str]:
    """Where Stripe sends the user after paying or cancelling: pages of this bot saying they can close the tab."""
    base = public_url.rstrip("/")
    return {"success_url": f"{base}{SUCCESS_PATH}?session_id={{CHECKOUT_SESSION_ID}}",
            "cancel_url": f"{base}{CANCEL_PATH}"}


def opened(session: Session, purchase_id: int, checkout: CheckoutSession) -> Purchase:
    """Record the session Stripe opened; a purchase already settled by a fast webhook keeps its state."""
    purchase = session.get_one(Purchase, purchase_id, with_for_update=True)
    purchase.session_id = purchase.session_id or checkout.id
    purchase.checkout_url = checkout.url[:2000]
    if purchase.status is PurchaseStatus.CREATING:
        purchase.status = PurchaseStatus.OPEN
    session.flush()
    return purchase


def not_opened(session: Session, purchase_id: int, reason: str) -> Purchase:
    """Stripe could not open the session: the purchase is ``failed`` (never left pending)."""
    purchase = session.get_one(Purchase, purchase_id, with_for_update=True)
    if purchase.status is PurchaseStatus.CREATING:
        purchase.status = PurchaseStatus.FAILED
        purchase.failure = reason[:200]
        audit.record(session, None, "payments.checkout_failed", target=f"purchase:{purchase.id}", reason=reason[:200])
    session.flush()
    return purchase


def find(session: Session, viewer: User, purchase_id: int) -> Purchase:
    """A purchase its buyer (or finance) may look at."""
    purchase = session.get(Purchase, purchase_id)
    if purchase is None or (purchase.user_id != viewer.id and not has_any(viewer, (FINANCE,))):
        raise NotFound("There is no such purchase.", hint="Start again with `/rad credits buy <amount>`.")
    return purchase


def by_key(session: Session, key: str) -> Purchase | None:
    """The purchase with idempotency key ``key``, locked for the rest of the unit of work."""
    return session.scalars(select(Purchase).where(Purchase.key == key).with_for_update()).one_or_none()


def by_session(session: Session, session_id: str) -> Purchase | None:
    """The purchase of Checkout Session ``session_id``, locked for the rest of the unit of work."""
    return session.scalars(select(Purchase).where(Purchase.session_id == session_id).with_for_update()
                           ).one_or_none()

